//! Stops of ours. Before any Sirius Deck process (the window, the CLI, a watcher) stops or
//! removes a container, it leaves a mark naming it; the incident tracker of every process reads
//! the marks, and tells a stop asked for here (no incident) from a stop from outside (`docker
//! kill`, `docker stop` by another tool: an incident of its own). The marks are empty files in
//! the user's runtime folder, one per container id or name; a mark counts for the engine's first
//! kill of the container that follows it within seconds, not for a later stop.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How long before the engine's kill event a mark counts: our stop calls the engine right after
/// marking; the engine's event follows within milliseconds (seconds on a loaded machine).
const BEFORE: Duration = Duration::from_secs(20);
/// Marks older than this are cleared.
const KEEP: Duration = Duration::from_secs(300);

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
            if marked_at(&e.path()).is_none_or(|t| SystemTime::now().duration_since(t).unwrap_or_default() > KEEP) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    // Written anew, so that its time is now (a file that exists keeps its old one otherwise).
    let path = file(key);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::File::create(path);
}

fn marked_at(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether one of our processes marked the container (by its name or id) just before `at`, the
/// time of the engine's kill event.
pub fn stopped_by_us(name: &str, id: Option<&str>, at: SystemTime) -> bool {
    let just_before = |key: &str| {
        marked_at(&file(key))
            .is_some_and(|t| t <= at + Duration::from_secs(2) && at.duration_since(t).unwrap_or_default() <= BEFORE)
    };
    just_before(name) || id.is_some_and(|id| !id.is_empty() && just_before(id))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mark_names_the_container_by_name_or_id() {
        let name = format!("deck-ours-test-{}", std::process::id());
        let now = std::time::SystemTime::now;
        assert!(!super::stopped_by_us(&name, None, now()));
        super::mark(&name);
        assert!(super::stopped_by_us(&name, None, now()));
        assert!(super::stopped_by_us("someone-else", Some(&name), now()));
        assert!(!super::stopped_by_us("someone-else", Some(""), now()));
        // A kill a minute after the mark is not the one it was for.
        assert!(!super::stopped_by_us(
            &name,
            None,
            now() + std::time::Duration::from_secs(60)
        ));
        let _ = std::fs::remove_file(super::file(&name));
    }
}
