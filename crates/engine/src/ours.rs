//! Stops of ours. Before any Sirius Deck process (the window, the CLI, a watcher) stops or
//! removes a container, it leaves a mark naming it; the incident tracker of every process reads
//! the marks, and tells a stop asked for here (no incident) from a stop from outside (`docker
//! kill`, `docker stop` by another tool: an incident of its own). The marks are empty files in
//! the user's runtime folder, one per container id or name, fresh for as long as a stop can take.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How long a mark holds: longer than any stop timeout (a container's `stop_grace_period` is
/// seconds; the engine's default 10 s).
const FRESH: Duration = Duration::from_secs(300);

fn dir() -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| std::env::temp_dir().join(format!("sirius-deck-{}", rustix::process::getuid().as_raw())));
    base.join("sirius-deck").join("stops")
}

/// A file name for a container id or name (both are `[a-zA-Z0-9_.-]`; anything else is dropped).
fn file(key: &str) -> PathBuf {
    dir().join(
        key.chars()
            .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
            .collect::<String>(),
    )
}

/// Marks a container (by id or name) as being stopped by us, now. Marks older than a stop can
/// take are cleared on the way. Failing to write one only means the stop may be reported as
/// from outside: it never stops the stop.
pub fn mark(key: &str) {
    let dir = dir();
    if std::fs::create_dir_all(&dir).is_err() {
        tracing::debug!(dir = %dir.display(), "cannot write the marks of our stops");
        return;
    }
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if !fresh(&e.path()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let _ = std::fs::File::create(file(key));
}

fn fresh(path: &std::path::Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < FRESH)
}

/// Whether one of our processes stopped the container (by its name or id) within the last
/// minutes.
pub fn stopped_by_us(name: &str, id: Option<&str>) -> bool {
    fresh(&file(name)) || id.is_some_and(|id| !id.is_empty() && fresh(&file(id)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mark_names_the_container_by_name_or_id() {
        let name = format!("deck-ours-test-{}", std::process::id());
        assert!(!super::stopped_by_us(&name, None));
        super::mark(&name);
        assert!(super::stopped_by_us(&name, None));
        assert!(super::stopped_by_us("someone-else", Some(&name)));
        assert!(!super::stopped_by_us("someone-else", Some("")));
        let _ = std::fs::remove_file(super::file(&name));
    }
}
