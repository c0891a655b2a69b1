use crate::{output, Result};
use deck_app::{App, PsRow, Target};
use deck_engine::{ServiceDrift, Verdict};

#[derive(clap::Args)]
pub struct Args {
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load_running(app, target).await?;
    if stack.swarm() {
        return swarm(app, &stack, a.json).await;
    }
    let rows = deck_app::ps(app, &stack).await?;
    crate::warn_interrupted(app, &stack);
    if a.json {
        output::json(&rows);
    } else {
        print_table(&rows);
    }
    Ok(())
}

/// A swarm stack: its nodes, then each service's tasks (current ones first per slot), as
/// `docker node ls` and `docker stack ps` show them.
async fn swarm(app: &App, stack: &deck_app::Stack, json: bool) -> Result<()> {
    let (nodes, tasks) = deck_app::tasks(app, stack).await?;
    if json {
        output::json(&serde_json::json!({ "nodes": nodes, "tasks": tasks }));
        return Ok(());
    }
    let mut rows = vec![["NODE", "ROLE", "STATE", "AVAILABILITY", "ADDRESS", "ENGINE"].map(String::from)];
    for n in &nodes {
        let role = match (n.manager, n.leader) {
            (true, true) => "manager (leader)",
            (true, false) => "manager",
            _ => "worker",
        };
        rows.push([
            n.hostname.clone(),
            role.into(),
            n.state.clone(),
            n.availability.clone(),
            n.addr.clone(),
            n.engine_version.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    output::table(&rows);
    println!();
    let mut rows = vec![[
        "TASK",
        "NODE",
        "DESIRED",
        "STATE",
        "IMAGE",
        "CPU / LIMIT",
        "MEMORY / LIMIT",
        "ERROR",
    ]
    .map(String::from)];
    for r in &tasks {
        let t = &r.task;
        let (cpu, mem) = usage_cells(
            r.cpu_percent,
            r.cpu_limit,
            r.memory_bytes,
            r.memory_limit,
            r.near_memory_limit,
        );
        rows.push([
            format!("{}.{}", t.service, t.slot.map_or_else(|| "*".into(), |s| s.to_string())),
            t.node.clone().unwrap_or_else(|| "-".into()),
            t.desired.clone(),
            t.state.clone(),
            t.image.clone().unwrap_or_else(|| "-".into()),
            cpu,
            mem,
            t.error.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    output::table(&rows);
    Ok(())
}

fn mib(b: u64) -> String {
    format!("{:.0}MiB", b as f64 / 1048576.0)
}

/// CPU and memory against their limits, `!` at or near the memory limit.
fn usage_cells(
    cpu: Option<f64>,
    cpu_limit: Option<f64>,
    memory: Option<u64>,
    memory_limit: Option<u64>,
    near_memory_limit: bool,
) -> (String, String) {
    let cpu = match (cpu, cpu_limit) {
        (Some(c), Some(l)) => format!("{c:.1}% / {:.0}%", l * 100.0),
        (Some(c), None) => format!("{c:.1}%"),
        _ => "-".into(),
    };
    let mem = match (memory, memory_limit) {
        (Some(m), Some(l)) => format!("{} / {}{}", mib(m), mib(l), if near_memory_limit { " !" } else { "" }),
        (Some(m), None) => mib(m),
        _ => "-".into(),
    };
    (cpu, mem)
}

fn cells(r: &PsRow) -> [String; 11] {
    let Some(c) = &r.container else {
        let mut row: [String; 11] = std::array::from_fn(|_| "-".to_string());
        row[0] = r.service.clone();
        row[1] = "not created".into();
        return row;
    };
    let (cpu, mem) = usage_cells(
        r.cpu_percent,
        r.cpu_limit,
        r.memory_bytes,
        r.memory_limit,
        r.near_memory_limit,
    );
    [
        // A replica other than the first is named by its number, as compose names it.
        if c.number > 1 {
            format!("{}-{}", r.service, c.number)
        } else {
            r.service.clone()
        },
        c.state.to_string(),
        c.health.map_or("-".into(), |h| h.to_string()),
        c.image.clone(),
        c.build_target.clone().unwrap_or_else(|| "-".into()),
        cpu,
        mem,
        if c.ports.is_empty() {
            "-".into()
        } else {
            c.ports.join(", ")
        },
        c.restart_count.to_string(),
        c.exit_code.map_or("-".into(), |e| e.to_string()),
        drift_cell(r.drift.as_ref()),
    ]
}

fn print_table(rows: &[PsRow]) {
    let header = [
        "SERVICE",
        "STATE",
        "HEALTH",
        "IMAGE",
        "TARGET",
        "CPU / LIMIT",
        "MEMORY / LIMIT",
        "PORTS",
        "RESTARTS",
        "EXIT",
        "AS ASKED",
    ]
    .map(String::from);
    let table: Vec<[String; 11]> = std::iter::once(header).chain(rows.iter().map(cells)).collect();
    output::table(&table);
}

fn drift_cell(d: Option<&ServiceDrift>) -> String {
    match d.map(|d| (d.verdict, d)) {
        Some((Verdict::Match, _)) => "yes".into(),
        Some((Verdict::Drift, d)) => format!("NO: {}", d.summary),
        Some((Verdict::Unproven, d)) => format!(
            "unproven ({})",
            d.findings
                .iter()
                .filter(|f| f.ok.is_none())
                .map(|f| f.check.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "-".into(),
    }
}
