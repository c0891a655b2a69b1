//! Live progress as lines a person can read, or one JSON event per line.

use deck_engine::{Event, ServiceStatus};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A sender for engine events and the task printing them; the task ends when every sender
/// is dropped.
pub fn printer(json: bool) -> (mpsc::UnboundedSender<Event>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let task = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if json {
                if let Ok(line) = serde_json::to_string(&e) {
                    println!("{line}");
                }
                continue;
            }
            match e {
                Event::Service {
                    service,
                    phase,
                    detail,
                    elapsed_ms,
                } => {
                    let detail = detail.map(|d| format!("  {d}")).unwrap_or_default();
                    println!("{:>6.1}s  {service:<20} {phase}{detail}", elapsed_ms as f64 / 1000.0);
                }
                Event::BuildOutput { service, line } => println!("         {service:<20} │ {line}"),
                Event::Resource { kind, name, action } => println!("         {kind} {name} {action}"),
                Event::Failure(report) => eprint!("{report}"),
            }
        }
    });
    (tx, task)
}

/// One line of `ps`.
#[derive(serde::Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub status: ServiceStatus,
    /// Percent of one core.
    pub cpu_percent: Option<f64>,
    pub cpu_limit: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub memory_limit: Option<u64>,
    /// At 90% of its memory limit or more.
    pub near_memory_limit: bool,
    /// Whether it runs what its environment asks for.
    pub drift: Option<deck_engine::ServiceDrift>,
}

pub fn rows(
    project: &deck_compose::Project,
    status: &[ServiceStatus],
    usage: &std::collections::BTreeMap<String, (f64, u64)>,
    drift: &[deck_engine::ServiceDrift],
) -> Vec<Row> {
    status
        .iter()
        .map(|s| {
            let svc = project.services.get(&s.service);
            let (cpu, mem) = usage
                .get(&s.service)
                .map_or((None, None), |(c, m)| (Some(*c), Some(*m)));
            let memory_limit = svc.and_then(|x| x.memory_limit());
            Row {
                status: s.clone(),
                cpu_percent: cpu,
                cpu_limit: svc.and_then(|x| x.cpu_limit()),
                memory_bytes: mem,
                memory_limit,
                near_memory_limit: matches!((mem, memory_limit), (Some(m), Some(l)) if m as f64 >= 0.9 * l as f64),
                drift: drift.iter().find(|d| d.service == s.service).cloned(),
            }
        })
        .collect()
}

fn mib(b: u64) -> String {
    format!("{:.0}MiB", b as f64 / 1048576.0)
}

pub fn print_table(rows: &[Row]) {
    let cells: Vec<[String; 11]> = rows
        .iter()
        .map(|r| {
            let cpu = match (r.cpu_percent, r.cpu_limit) {
                (Some(c), Some(l)) => format!("{c:.1}% / {:.0}%", l * 100.0),
                (Some(c), None) => format!("{c:.1}%"),
                _ => "-".into(),
            };
            let mem = match (r.memory_bytes, r.memory_limit) {
                (Some(m), Some(l)) => format!("{} / {}{}", mib(m), mib(l), if r.near_memory_limit { " !" } else { "" }),
                (Some(m), None) => mib(m),
                _ => "-".into(),
            };
            match &r.status.container {
                Some(c) => [
                    r.status.service.clone(),
                    c.state.clone(),
                    c.health.clone().unwrap_or_else(|| "-".into()),
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
                ],
                None => [
                    r.status.service.clone(),
                    "not created".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ],
            }
        })
        .collect();
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
    let mut widths = header.clone().map(|h| h.len());
    for r in &cells {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&cells) {
        let line: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
}

fn drift_cell(d: Option<&deck_engine::ServiceDrift>) -> String {
    use deck_engine::Verdict;
    match d.map(|d| (d.verdict, d)) {
        Some((Verdict::Match, _)) => "yes".into(),
        Some((Verdict::Drift, d)) => format!("NO: {}", d.summary()),
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

/// Each service's drift verdict, with what failed or could not be proven.
pub fn print_drift(drift: &[deck_engine::ServiceDrift]) {
    use deck_engine::Verdict;
    for d in drift {
        let line = match d.verdict {
            Verdict::Match => "runs what the environment asks for".to_string(),
            Verdict::Drift => format!("DRIFT: {} (fix: sirius-deck repair {})", d.summary(), d.service),
            Verdict::Unproven => format!("unproven: {}", d.summary()),
            Verdict::Absent => "no container".to_string(),
        };
        println!("  {:<20} {line}", d.service);
    }
}

/// The wall-clock time as HH:MM:SS, UTC.
pub fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{:02}:{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60)
}
