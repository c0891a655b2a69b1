//! How results and progress read in a terminal: text for a person, or one JSON object per line.

use deck_app::Event;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;

/// Prints a value as pretty JSON.
pub fn json<T: Serialize>(v: &T) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    println!("{}", deck_error::redact::text(&text));
}

/// One value as one JSON line (event streams), secrets masked.
pub fn json_line<T: Serialize>(v: &T) {
    let text = serde_json::to_string(v).unwrap_or_default();
    println!("{}", deck_error::redact::text(&text));
}

/// Bytes as a person reads them.
/// Rows in columns as wide as their widest cell (the first row is the header).
pub fn table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in rows {
        let line: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
}

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

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How long ago, coarsely.
pub fn age(unix: u64) -> String {
    let s = now_unix().saturating_sub(unix);
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86_399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// The wall-clock time as HH:MM:SS, UTC.
pub fn clock() -> String {
    let secs = now_unix();
    format!("{:02}:{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60)
}

/// Runs an action with a progress printer (text, or one JSON event per line), and waits until
/// everything it reported is printed.
pub async fn with_progress<T>(json: bool, work: impl AsyncFnOnce(&deck_app::Sink) -> T) -> T {
    let (sink, mut rx) = deck_app::Sink::channel();
    let task = tokio::spawn(async move {
        let mut rates = Rates::default();
        while let Some(e) = rx.recv().await {
            if json {
                if let Ok(line) = serde_json::to_string(&e) {
                    println!("{line}");
                }
            } else {
                print_event(e, &mut rates);
            }
        }
    });
    let result = work(&sink).await;
    drop(sink);
    let _ = task.await;
    result
}

/// Byte counters: when each item started and was last printed, for a rate once a second.
#[derive(Default)]
struct Rates {
    started: HashMap<String, (Instant, u64)>,
    printed: HashMap<String, Instant>,
}

fn print_event(e: Event, rates: &mut Rates) {
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
        Event::Step { message } => println!("  {message}"),
        Event::Plan { op, set, items } => {
            println!("{op} {set}:");
            for i in items {
                let size = i
                    .total
                    .map(|t| format!(" ({}{})", if i.estimate { "~" } else { "" }, human(t)))
                    .unwrap_or_default();
                println!("  {:<28} {}{size}", i.item, i.description);
            }
        }
        Event::Bytes { item, done, total, .. } => {
            let now = Instant::now();
            let first = *rates.started.entry(item.clone()).or_insert((now, done));
            let due = rates
                .printed
                .get(&item)
                .is_none_or(|t| now.duration_since(*t).as_secs_f64() >= 1.0);
            if due && done > 0 && Some(done) != total {
                rates.printed.insert(item.clone(), now);
                let secs = now.duration_since(first.0).as_secs_f64().max(0.001);
                let rate = (done - first.1) as f64 / secs / 1048576.0;
                let of = total
                    .map(|t| format!(" of {} ({:.0}%)", human(t), 100.0 * done as f64 / t.max(1) as f64))
                    .unwrap_or_default();
                println!("  {item:<28} {}{of}  {rate:.0} MiB/s", human(done));
            }
        }
        Event::ItemDone { item, raw, stored, .. } => {
            println!("  {item:<28} done: {} -> {} stored", human(raw), human(stored));
        }
        Event::Done { op, set, elapsed_ms } => {
            println!("{op} {set}: done in {:.1}s", elapsed_ms as f64 / 1000.0)
        }
    }
}

/// Each service's drift verdict, with what failed or could not be proven.
pub fn print_drift(drift: &[deck_engine::ServiceDrift]) {
    use deck_engine::Verdict;
    for d in drift {
        let line = match d.verdict {
            Verdict::Match => "runs what the environment asks for".to_string(),
            Verdict::Drift => format!("DRIFT: {} (fix: sirius-deck repair {})", d.summary, d.service),
            Verdict::Unproven => format!("unproven: {}", d.summary),
            Verdict::Absent => "no container".to_string(),
        };
        println!("  {:<20} {line}", d.service);
    }
}
