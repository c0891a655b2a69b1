//! Backup sets on disk: `<dir>/<project>/<id>/` holding `manifest.json` and one file per item.
//! A set is written under `.partial-<id>` and renamed only once complete, synced and
//! verified, so an interrupted backup never shows up as a set. Everything is readable by the
//! user only.

use crate::manifest::{Kind, Manifest, MANIFEST_FILE};
use crate::BackupError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const PARTIAL_PREFIX: &str = ".partial-";
/// The result of the last full verification of a set, kept beside its manifest.
pub const CHECK_FILE: &str = "verified.json";
const LOCK_FILE: &str = ".lock";

/// The last full verification of a set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub at_unix: u64,
    /// `None`: every file matched its size and checksum and could be read to its end.
    pub problem: Option<String>,
}

/// One set in the store.
#[derive(Clone, Debug, Serialize)]
pub struct SetInfo {
    pub id: String,
    pub path: PathBuf,
    pub manifest: Manifest,
    pub size: u64,
    /// `None`: never verified since it was written (a set is verified when written).
    pub check: Option<Check>,
}

pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn stack_dir(root: &Path, project: &str) -> PathBuf {
    root.join(project)
}

/// Creates a directory (and its parents) readable by the user only.
pub fn create_private_dir(path: &Path) -> Result<(), BackupError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_err(path))
}

/// Creates a new file readable by the user only; fails if it exists.
pub fn create_private_file(path: &Path) -> Result<std::fs::File, BackupError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))
}

pub fn sync_dir(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err(path))
}

/// Writes a file through a temporary name, synced, then renamed over the old one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut f = create_private_file(&tmp)?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(dir)
}

/// An exclusive lock on a stack's backups and restores, held until dropped: one at a time per
/// stack (whatever folder each writes to, since they stop, pause and read the same services
/// and volumes), and one at a time per backup folder.
pub struct Lock(#[allow(dead_code)] Vec<std::fs::File>);

pub fn lock(dir: &Path, project: &str) -> Result<Lock, BackupError> {
    let stacks = stack_locks_dir()?;
    let stack = lock_file(&stacks, &format!("{project}.lock"))?;
    let folder = lock_file(dir, LOCK_FILE)?;
    Ok(Lock(vec![stack, folder]))
}

/// Where the per-stack locks live: one private folder per user on this machine.
fn stack_locks_dir() -> Result<PathBuf, BackupError> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("sirius-deck-locks-{uid}"));
    create_private_dir(&dir)?;
    Ok(dir)
}

fn lock_file(dir: &Path, name: &str) -> Result<std::fs::File, BackupError> {
    create_private_dir(dir)?;
    let path = dir.join(name);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::Busy(path.display().to_string())),
        Err(std::fs::TryLockError::Error(source)) => Err(BackupError::Io { path, source }),
    }
}

/// A set id from its time: `2026-11-28T07-15-03Z`, with `-safety` for safety sets; sorts by time.
pub fn new_id(unix: u64, kind: Kind, taken: impl Fn(&str) -> bool) -> String {
    let t = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
        .to_string()
        .replace(':', "-");
    let base = match kind {
        Kind::Manual => t,
        Kind::Safety => format!("{t}-safety"),
    };
    let mut id = base.clone();
    let mut n = 2;
    while taken(&id) {
        id = format!("{base}.{n}");
        n += 1;
    }
    id
}

/// The sets of a folder, newest first, and the folders that are not readable sets (with why).
pub type Listing = (Vec<SetInfo>, Vec<(String, String)>);

/// The sets of one stack, newest first, and the folders that are not readable sets (with why).
pub fn list(dir: &Path) -> Result<Listing, BackupError> {
    let mut sets = Vec::new();
    let mut broken = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((sets, broken)),
        Err(source) => {
            return Err(BackupError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for e in entries.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if id.starts_with('.') || !e.path().is_dir() {
            continue;
        }
        match read_set(&e.path()) {
            Ok(s) => sets.push(s),
            Err(why) => broken.push((id, why)),
        }
    }
    sets.sort_by(|a, b| (b.manifest.created_unix, &b.id).cmp(&(a.manifest.created_unix, &a.id)));
    broken.sort();
    Ok((sets, broken))
}

pub fn read_set(path: &Path) -> Result<SetInfo, String> {
    let id = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path.join(MANIFEST_FILE)).map_err(|e| format!("no readable manifest: {e}"))?;
    let manifest = Manifest::parse(&text)?;
    if manifest.id != id {
        return Err(format!("its manifest belongs to set {}", manifest.id));
    }
    let check = std::fs::read_to_string(path.join(CHECK_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    Ok(SetInfo {
        id,
        path: path.to_path_buf(),
        size: manifest.total_size(),
        manifest,
        check,
    })
}

/// Finds a set by id, by a unique prefix of its id, or `latest`.
pub fn find(dir: &Path, wanted: &str) -> Result<SetInfo, BackupError> {
    let (sets, broken) = list(dir)?;
    if let Some((id, why)) = broken.iter().find(|(id, _)| id == wanted) {
        return Err(BackupError::Refused(format!("backup set {id} cannot be read: {why}")));
    }
    if wanted == "latest" {
        return sets
            .into_iter()
            .find(|s| s.manifest.kind == Kind::Manual)
            .ok_or_else(|| BackupError::Refused(format!("there is no backup set in {} yet", dir.display())));
    }
    let matching: Vec<SetInfo> = sets.iter().filter(|s| s.id.starts_with(wanted)).cloned().collect();
    match matching.len() {
        1 => Ok(matching.into_iter().next().expect("one")),
        0 => Err(BackupError::Refused(format!(
            "no backup set '{wanted}' in {}. Sets: {}",
            dir.display(),
            if sets.is_empty() {
                "none".to_string()
            } else {
                sets.iter()
                    .map(|s| s.id.as_str())
                    .take(10)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))),
        _ => matching.iter().find(|s| s.id == wanted).cloned().ok_or_else(|| {
            BackupError::Refused(format!(
                "'{wanted}' matches several sets: {}",
                matching.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
            ))
        }),
    }
}

/// The sets the retention rule deletes: beyond the newest `keep` (own sets) or `keep_safety`
/// (safety sets), or older than `max_age_days`; the newest own set is always kept. `sets`
/// newest first.
pub fn retention(sets: &[SetInfo], settings: &crate::Settings, now_unix: u64) -> Vec<String> {
    let mut delete = Vec::new();
    for (kind, keep) in [(Kind::Manual, settings.keep), (Kind::Safety, settings.keep_safety)] {
        let of_kind = sets.iter().filter(|s| s.manifest.kind == kind);
        for (i, s) in of_kind.enumerate() {
            let too_many = i >= keep.max(1);
            let too_old = settings
                .max_age_days
                .is_some_and(|d| now_unix.saturating_sub(s.manifest.created_unix) > u64::from(d) * 86_400);
            if i > 0 && (too_many || too_old) {
                delete.push(s.id.clone());
            }
        }
    }
    delete
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::FORMAT;

    fn set(id: &str, kind: Kind, created_unix: u64) -> SetInfo {
        SetInfo {
            id: id.into(),
            path: PathBuf::from(id),
            size: 0,
            check: None,
            manifest: Manifest {
                format: FORMAT,
                id: id.into(),
                kind,
                stack: "s".into(),
                project: "p".into(),
                env: None,
                created: String::new(),
                created_unix,
                engine_version: String::new(),
                api_version: String::new(),
                tool: String::new(),
                images: Default::default(),
                items: vec![],
                elapsed_ms: 0,
            },
        }
    }

    #[test]
    fn ids_sort_by_time_and_never_collide() {
        let a = new_id(1_795_000_000, Kind::Manual, |_| false);
        assert_eq!(a, "2026-11-18T11-06-40Z");
        let b = new_id(1_795_000_000, Kind::Manual, |id| id == a);
        assert_eq!(b, "2026-11-18T11-06-40Z.2");
        assert_eq!(
            new_id(1_795_000_000, Kind::Safety, |_| false),
            "2026-11-18T11-06-40Z-safety"
        );
    }

    #[test]
    fn retention_keeps_the_newest_and_counts_each_kind() {
        let day = 86_400;
        let now = 100 * day;
        let sets = vec![
            set("m4", Kind::Manual, now - day),
            set("s2", Kind::Safety, now - 2 * day),
            set("m3", Kind::Manual, now - 3 * day),
            set("s1", Kind::Safety, now - 4 * day),
            set("m2", Kind::Manual, now - 40 * day),
            set("m1", Kind::Manual, now - 50 * day),
        ];
        let mut s = crate::Settings {
            dir: "/b".into(),
            keep: 3,
            max_age_days: None,
            keep_safety: 1,
        };
        assert_eq!(retention(&sets, &s, now), vec!["m1", "s1"]);
        s.max_age_days = Some(30);
        assert_eq!(retention(&sets, &s, now), vec!["m2", "m1", "s1"]);
        // The newest own set survives any age limit.
        s.max_age_days = Some(1);
        let old = vec![set("m9", Kind::Manual, now - 90 * day)];
        assert!(retention(&old, &s, now).is_empty());
    }

    #[test]
    fn partial_and_unreadable_sets_are_not_listed_as_sets() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(".partial-x")).expect("mkdir");
        std::fs::create_dir(dir.path().join("2026-01-01T00-00-00Z")).expect("mkdir");
        let (sets, broken) = list(dir.path()).expect("lists");
        assert!(sets.is_empty());
        assert_eq!(broken.len(), 1);
        assert!(broken[0].1.contains("no readable manifest"));
    }
}
