//! `backup`, `backups`, `verify`, `restore` and `backup-settings`.

use crate::UserError;
use deck_backup::{BackupError, Progress, Reporter, SetInfo, Settings, Stack};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Bytes as a person reads them.
pub fn human(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// How long ago, coarsely.
pub fn age(unix: u64) -> String {
    let s = deck_backup_now().saturating_sub(unix);
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86_399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

fn deck_backup_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A reporter that prints progress (text, or one JSON object per line) and the task printing.
pub fn printer(json: bool) -> (Reporter, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let task = tokio::spawn(async move {
        let mut last: HashMap<String, Instant> = HashMap::new();
        let mut started: HashMap<String, (Instant, u64)> = HashMap::new();
        while let Some(p) = rx.recv().await {
            if json {
                if let Ok(line) = serde_json::to_string(&p) {
                    println!("{line}");
                }
                continue;
            }
            match p {
                Progress::Plan { op, set, items } => {
                    println!("{op:?} {set}:");
                    for i in items {
                        let size = i.total.map(|t| format!(" (~{})", human(t))).unwrap_or_default();
                        println!("  {:<28} {}{size}", i.item, i.description);
                    }
                }
                Progress::Bytes { item, done, total, .. } => {
                    let now = Instant::now();
                    let first = started.entry(item.clone()).or_insert((now, done));
                    let due = last
                        .get(&item)
                        .is_none_or(|t| now.duration_since(*t).as_secs_f64() >= 1.0);
                    if due && done > 0 && Some(done) != total {
                        last.insert(item.clone(), now);
                        let secs = now.duration_since(first.0).as_secs_f64().max(0.001);
                        let rate = (done - first.1) as f64 / secs / 1048576.0;
                        let of = total
                            .map(|t| format!(" of {} ({:.0}%)", human(t), 100.0 * done as f64 / t.max(1) as f64))
                            .unwrap_or_default();
                        println!("  {item:<28} {}{of}  {rate:.0} MiB/s", human(done));
                    }
                }
                Progress::ItemDone { item, raw, stored, .. } => {
                    println!("  {item:<28} done: {} -> {} stored", human(raw), human(stored));
                }
                Progress::Service { service, phase, detail } => {
                    let d = detail.map(|d| format!("  {d}")).unwrap_or_default();
                    println!("  {service:<28} {phase}{d}");
                }
                Progress::Step { message } => println!("  {message}"),
                Progress::Done { op, set, elapsed_ms } => {
                    println!("{op:?} {set}: done in {:.1}s", elapsed_ms as f64 / 1000.0)
                }
            }
        }
    });
    (Reporter::new(Some(tx)), task)
}

/// A token cancelled by Ctrl-C or SIGTERM.
pub fn cancel_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("sirius-deck: interrupted: stopping cleanly (services are started again)…");
        t.cancel();
    });
    token
}

pub fn settings(dir: Option<std::path::PathBuf>) -> Result<Settings, UserError> {
    let mut s = Settings::load()?;
    if let Some(d) = dir {
        s.dir = std::path::absolute(&d).map_err(|e| UserError(format!("--dir {}: {e}", d.display())))?;
    }
    Ok(s)
}

pub fn print_list(sets: &[SetInfo], broken: &[(String, String)], interrupted: &[String], json: bool) {
    if json {
        let v = serde_json::json!({"sets": sets, "unreadable": broken, "interrupted": interrupted});
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    if sets.is_empty() {
        println!("no backup sets yet (sirius-deck backup takes one)");
    } else {
        println!(
            "{:<30} {:<7} {:<5} {:>10} {:<9} {:<40} VERIFIED",
            "ID", "KIND", "ENV", "SIZE", "AGE", "COVERS"
        );
    }
    for s in sets {
        let covers: Vec<String> = s.manifest.items.iter().map(|i| i.id()).collect();
        let verified = match &s.check {
            None => "when written".to_string(),
            Some(c) => match &c.problem {
                None => format!("ok, {}", age(c.at_unix)),
                Some(p) => format!("FAILED {}: {p}", age(c.at_unix)),
            },
        };
        println!(
            "{:<30} {:<7} {:<5} {:>10} {:<9} {:<40} {verified}",
            s.id,
            s.manifest.kind.to_string(),
            s.manifest.env.as_deref().unwrap_or("-"),
            human(s.size),
            age(s.manifest.created_unix),
            covers.join(", ")
        );
    }
    for (id, why) in broken {
        println!("{id}: not a usable set: {why}");
    }
    for id in interrupted {
        println!("{id}: incomplete (an interrupted backup); the next backup or restore cleans it up");
    }
}

/// Asks before a restore replaces data; `--yes` answers for scripts.
pub fn confirm(set: &SetInfo, only: &[String], project: &str, yes: bool) -> Result<(), UserError> {
    let items: Vec<String> = set
        .manifest
        .items
        .iter()
        .filter(|i| only.is_empty() || only.iter().any(|o| i.matches(o)))
        .map(|i| i.describe())
        .collect();
    eprintln!(
        "sirius-deck: restoring set {} ({}) replaces in {project}: {}",
        set.id,
        age(set.manifest.created_unix),
        items.join(", ")
    );
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(UserError(
            "restore replaces data: add --yes to confirm when not at a terminal".into(),
        ));
    }
    eprint!("Type 'yes' to go on: ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| UserError(e.to_string()))?;
    if answer.trim() != "yes" {
        return Err(UserError("not restored: nothing was changed".into()));
    }
    Ok(())
}

/// Runs a backup operation with a progress printer and maps its error to the exit status.
pub async fn run<T>(json: bool, work: impl AsyncFnOnce(&Reporter) -> Result<T, BackupError>) -> Result<T, UserError> {
    let (reporter, task) = printer(json);
    let result = work(&reporter).await;
    drop(reporter);
    let _ = task.await;
    result.map_err(|e| match e {
        BackupError::Cancelled => UserError("cancelled: no set was written, and the stack runs as before".into()),
        e => UserError(e.to_string()),
    })
}

pub fn stack<'a>(
    loaded: &'a deck_compose::Loaded,
    stack: &'a str,
    env: Option<&'a str>,
    spec: &deck_stack::BackupSpec,
    profile_path: &str,
) -> Result<Stack<'a>, UserError> {
    Ok(Stack {
        project: &loaded.project,
        stack,
        env,
        coverage: deck_backup::coverage(&loaded.project, spec, profile_path)?,
    })
}
