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

pub fn print_table(status: &[ServiceStatus]) {
    let rows: Vec<[String; 8]> = status
        .iter()
        .map(|s| match &s.container {
            Some(c) => [
                s.service.clone(),
                c.state.clone(),
                c.health.clone().unwrap_or_else(|| "-".into()),
                c.image.clone(),
                c.build_target.clone().unwrap_or_else(|| "-".into()),
                if c.ports.is_empty() {
                    "-".into()
                } else {
                    c.ports.join(", ")
                },
                c.restart_count.to_string(),
                c.exit_code.map_or("-".into(), |e| e.to_string()),
            ],
            None => [
                s.service.clone(),
                "not created".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
        })
        .collect();
    let header = [
        "SERVICE", "STATE", "HEALTH", "IMAGE", "TARGET", "PORTS", "RESTARTS", "EXIT",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
}
