//! Stops of ours. Before any Sirius Deck process (the window, the CLI, a watcher) stops or
//! removes a container, it leaves a mark naming it; the incident tracker of every process reads
//! the marks, and tells a stop asked for here (no incident) from a stop from outside (`docker
//! kill`, `docker stop` by another tool: an incident of its own). The marks are empty files in a
//! folder of the user's own (closed to others, never through a link), one per container id or
//! name; a mark counts for the engine's kill that follows it within seconds, not a later stop.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long before the watch sees the engine's kill a mark counts: our stop calls the engine
/// right after marking; the event follows within milliseconds (seconds on a loaded machine).
const BEFORE: Duration = Duration::from_secs(20);
/// Marks older than this are cleared.
const KEEP: Duration = Duration::from_secs(300);

/// A folder of ours: a real folder (not a link), owned by this user, closed to everyone else.
fn private(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.is_dir() && m.uid() == rustix::process::getuid().as_raw() && m.mode() & 0o077 == 0)
}

/// The folder of the marks, made when missing; `None` when it is not safely ours.
fn dir() -> Option<PathBuf> {
    let uid = rustix::process::getuid().as_raw();
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| private(p))
        .map_or_else(
            || std::env::temp_dir().join(format!("sirius-deck-{uid}")),
            |r| r.join("sirius-deck"),
        );
    let dir = base.join("stops");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .ok()?;
    for p in [&base, &dir] {
        // A folder of this user's that others can read (made by an older version): closed.
        let open = std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 != 0);
        if open {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
        }
    }
    (private(&base) && private(&dir)).then_some(dir)
}

/// A file name for a container id or name (both are `[a-zA-Z0-9_.-]`; anything else is dropped).
fn file(dir: &Path, key: &str) -> PathBuf {
    dir.join(
        key.chars()
            .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
            .collect::<String>(),
    )
}

/// When a plain file (not a link) was last written.
fn marked_at(path: &Path) -> Option<SystemTime> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .and_then(|m| m.modified().ok())
}

/// Marks a container (by id or name) as being stopped by us, now. Marks older than a stop can
/// take are cleared on the way. Failing to write one only means the stop may be reported as
/// from outside: it never stops the stop.
pub fn mark(key: &str) {
    let Some(dir) = dir() else {
        tracing::debug!("no private folder for the marks of our stops");
        return;
    };
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let old =
                marked_at(&e.path()).is_some_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() > KEEP);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    // Written anew, so that its time is now (a file that exists keeps its old one otherwise).
    let path = file(&dir, key);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::File::create(path);
}

/// Whether one of our processes marked the container (by its name or id) in the seconds before
/// now, when the watch sees the engine's kill (this machine's clock on both sides).
pub fn stopped_by_us(name: &str, id: &str) -> bool {
    let Some(dir) = dir() else { return false };
    let now = SystemTime::now();
    let just_before = |key: &str| {
        !key.is_empty()
            && marked_at(&file(&dir, key)).is_some_and(|t| {
                t <= now + Duration::from_secs(2) && now.duration_since(t).unwrap_or_default() <= BEFORE
            })
    };
    just_before(name) || just_before(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mark_names_the_container_by_name_or_id_in_a_private_folder() {
        let name = format!("deck-ours-test-{}", std::process::id());
        assert!(!super::stopped_by_us(&name, ""));
        super::mark(&name);
        assert!(super::stopped_by_us(&name, ""));
        assert!(super::stopped_by_us("someone-else", &name));
        assert!(!super::stopped_by_us("someone-else", ""));
        let dir = super::dir().expect("a private folder");
        assert!(super::private(&dir));
        let _ = std::fs::remove_file(super::file(&dir, &name));
    }
}
