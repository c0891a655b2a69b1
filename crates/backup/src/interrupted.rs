//! Operations that a killed run left unfinished (a backup, a restore, an environment switch):
//! each writes a journal into the stack's folder before it changes anything and removes it
//! when it ends, however it ends. A later run finishes one on its own only when nothing has
//! changed since; otherwise the journal stays, every front end says what it left, and the user
//! chooses: resume, roll back, or discard.

use crate::store::{self, PARTIAL_PREFIX};
use crate::BackupError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use ts_rs::TS;

pub(crate) const RESTORE_JOURNAL: &str = ".restore.json";
const SWITCH_JOURNAL: &str = ".switch.json";
/// Inside an interrupted backup's `.partial-<id>` folder.
pub(crate) const BACKUP_JOURNAL: &str = "journal.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum InterruptedOp {
    Backup,
    Restore,
    Switch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Resolution {
    /// Finish what the operation set out to do.
    Resume,
    /// Go back to how things were before it began.
    RollBack,
    /// Leave everything as it is now and forget the operation.
    Discard,
}

impl Resolution {
    pub fn flag(self) -> &'static str {
        match self {
            Resolution::Resume => "--resume",
            Resolution::RollBack => "--roll-back",
            Resolution::Discard => "--discard",
        }
    }
}

/// One thing the user can do about an interrupted operation, and what it does, in words.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Choice {
    pub resolution: Resolution,
    pub consequence: String,
}

/// An operation a killed run left unfinished.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Interrupted {
    pub op: InterruptedOp,
    /// The backup's id, the set being restored, or the environments switched (`dev -> prod`).
    pub what: String,
    #[ts(type = "number")]
    pub began_unix: u64,
    /// What it may have left, and what happens next if nobody chooses, in words.
    pub state: String,
    pub choices: Vec<Choice>,
}

/// A restore in progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RestoreJournal {
    pub set: String,
    pub safety: Option<String>,
    /// When the restore began (seconds since the epoch; 0 in journals from before this field).
    #[serde(default)]
    pub started_unix: u64,
    /// The items restored (all of the set when empty).
    #[serde(default)]
    pub items: Vec<String>,
    /// Every item was in place: only starting the stack again was left.
    #[serde(default)]
    pub applied: bool,
    /// The services it stopped (written before it stopped them): while none runs again, nobody
    /// has used the stack since.
    #[serde(default)]
    pub stopped: Vec<String>,
    /// When each of their containers had last started, as the engine said before the stop: one
    /// that runs with another start time was started again since.
    #[serde(default)]
    pub started: std::collections::BTreeMap<String, String>,
    /// Why it failed, when it failed and could not be undone: the data may be half replaced,
    /// the user was told, and it waits for the user's choice (never finished on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// The environment it ran in (its engine, or its swarm): only that one finishes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// What it (or its roll-back) was overwriting when it stopped, in words: a volume emptied
    /// and not yet written in full, or a database being restored. That stays half written
    /// until a restore or roll-back writes it again, so nothing it stopped may start before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writing: Option<String>,
}

impl RestoreJournal {
    /// Where it ran, to begin a sentence: `in the prod environment: `.
    fn ran_in(&self) -> String {
        self.env
            .as_deref()
            .map(|e| format!("in the {e} environment: "))
            .unwrap_or_default()
    }

    /// Why this restore is not for `env` to finish (it ran in another environment, on other
    /// volumes), else `None`.
    pub fn elsewhere(&self, env: Option<&str>) -> Option<String> {
        let ran = self.env.as_deref()?;
        (Some(ran) != env).then(|| {
            format!(
                "the interrupted restore of set {} ran in the {ran} environment, on its engine and volumes: open that one to finish it (`-e {ran}`)",
                self.set
            )
        })
    }
}

/// A switch in progress: written once its checks, safety set and builds are done, before the
/// first container changes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SwitchJournal {
    pub from: Option<String>,
    pub to: String,
    pub started_unix: u64,
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

pub(crate) fn restore_journal(dir: &Path) -> Option<RestoreJournal> {
    read(&dir.join(RESTORE_JOURNAL))
}

pub(crate) fn write_restore_journal(dir: &Path, j: &RestoreJournal) -> Result<(), BackupError> {
    store::create_private_dir(dir)?;
    store::write_atomic(&dir.join(RESTORE_JOURNAL), &serde_json::to_vec(j).unwrap_or_default())
}

/// Records what a restore or roll-back is about to overwrite (`Some`, before the first byte
/// of it changes), or that it was written in full (`None`). Outside a restore (no journal),
/// there is nothing to record.
pub(crate) fn mark_writing(dir: &Path, what: Option<String>) -> Result<(), BackupError> {
    match restore_journal(dir) {
        Some(mut j) => {
            j.writing = what;
            write_restore_journal(dir, &j)
        }
        None => Ok(()),
    }
}

/// Why services of the stack must not start now (`services` empty: all of them): a restore
/// in `env` was interrupted while it overwrote something they use, which is half written.
/// A database would start on a half-emptied volume as on a new one and initialise itself
/// empty. `None` when nothing is half written or none of them is one the restore stopped.
pub fn start_refused(dir: &Path, env: Option<&str>, services: &[String]) -> Option<String> {
    let j = restore_journal(dir)?;
    let what = j.writing.as_deref()?;
    if j.elsewhere(env).is_some() {
        return None;
    }
    let held: Vec<&str> = j
        .stopped
        .iter()
        .filter(|s| services.is_empty() || services.contains(s))
        .map(String::as_str)
        .collect();
    if held.is_empty() {
        return None;
    }
    Some(format!(
        "nothing was started: a restore of set {} was interrupted while it wrote the {what}, which is half written, and {} would run on it. Choose first: `sirius-deck recover restore --resume` writes set {} again{}; `--discard` keeps the half-written data (or choose in the window)",
        j.set,
        held.join(", "),
        j.set,
        j.safety
            .as_deref()
            .map(|s| format!(", `--roll-back` writes safety set {s} (the data from before the restore)"))
            .unwrap_or_default()
    ))
}

/// Records that a restore has replaced every item (best effort: without it, a later run
/// treats the restore as half done, which asks more than needed but loses nothing).
pub(crate) fn mark_applied(dir: &Path) {
    if let Some(mut j) = restore_journal(dir) {
        j.applied = true;
        let _ = write_restore_journal(dir, &j);
    }
}

/// Settles a restore's journal by its outcome. Done, or undone: removed. Refused before it
/// changed anything: left as it was (a restore interrupted earlier stays interrupted). Failed
/// with the data possibly half replaced and no undo (rolling back failed too, or no safety set):
/// kept, marked failed, so that `up`, `ps` and `backups` show it until the user chooses, and
/// nothing finishes it on its own.
pub(crate) fn settle_restore<T>(dir: &Path, outcome: &Result<T, BackupError>) -> Result<(), BackupError> {
    match outcome {
        Ok(_) | Err(BackupError::RolledBack { .. }) => end(dir, InterruptedOp::Restore),
        Err(BackupError::Invalid(_) | BackupError::Refused(_) | BackupError::Busy(_) | BackupError::Cancelled) => {
            Ok(())
        }
        Err(BackupError::RollbackFailed { reason, rollback, .. }) => {
            mark_failed(dir, format!("{reason}; undoing it failed too: {rollback}"))
        }
        Err(e) => mark_failed(dir, e.to_string()),
    }
}

/// Marks a restore's journal failed: it waits for the user's choice.
fn mark_failed(dir: &Path, why: String) -> Result<(), BackupError> {
    match restore_journal(dir) {
        Some(mut j) => {
            j.failed = Some(why);
            write_restore_journal(dir, &j)
        }
        None => Ok(()), // it failed before it changed anything
    }
}

pub(crate) fn end(dir: &Path, op: InterruptedOp) -> Result<(), BackupError> {
    let path = dir.join(match op {
        InterruptedOp::Restore => RESTORE_JOURNAL,
        InterruptedOp::Switch => SWITCH_JOURNAL,
        InterruptedOp::Backup => return Ok(()),
    });
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(store::io_err(&path)(e)),
        _ => store::sync_dir(dir),
    }
}

/// The switch in progress in a stack's folder, if one was interrupted.
pub fn switch_journal(dir: &Path) -> Option<SwitchJournal> {
    read(&dir.join(SWITCH_JOURNAL))
}

/// Records that a switch is about to change the stack's containers.
pub fn begin_switch(dir: &Path, from: Option<&str>, to: &str) -> Result<(), BackupError> {
    let j = SwitchJournal {
        from: from.map(str::to_string),
        to: to.to_string(),
        started_unix: store::now_unix(),
    };
    store::create_private_dir(dir)?;
    store::write_atomic(&dir.join(SWITCH_JOURNAL), &serde_json::to_vec(&j).unwrap_or_default())
}

/// Records that the switch in progress ended (done, rolled back, or failed and said so).
pub fn end_switch(dir: &Path) -> Result<(), BackupError> {
    end(dir, InterruptedOp::Switch)
}

fn when(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix)).to_string()
}

fn choice(resolution: Resolution, consequence: String) -> Choice {
    Choice {
        resolution,
        consequence,
    }
}

/// The interrupted operations in a stack's folder, oldest first, without connecting to the
/// engine.
pub fn list(dir: &Path) -> Vec<Interrupted> {
    let mut found = Vec::new();
    for id in crate::create::interrupted(dir) {
        let partial = dir.join(format!("{PARTIAL_PREFIX}{id}"));
        let journal: crate::create::Journal = read(&partial.join(BACKUP_JOURNAL)).unwrap_or_default();
        let began_unix = std::fs::metadata(&partial)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let held: Vec<String> = journal.stopped.iter().chain(&journal.paused).cloned().collect();
        let state = if held.is_empty() {
            "it left an incomplete set (never listed) and no service stopped; the next backup removes it".to_string()
        } else {
            format!(
                "it had stopped or paused {}: the next backup or restore starts again those still stopped (not those taken down or started since) and removes its incomplete set",
                held.join(", ")
            )
        };
        found.push(Interrupted {
            op: InterruptedOp::Backup,
            what: id,
            began_unix,
            state,
            choices: vec![
                choice(
                    Resolution::Resume,
                    "start again what it stopped or paused that is still stopped, and remove its incomplete set".into(),
                ),
                choice(
                    Resolution::Discard,
                    "remove its incomplete set and leave every service as it is now".into(),
                ),
            ],
        });
    }
    if let Some(j) = restore_journal(dir).filter(|j| j.applied && j.failed.is_none()) {
        found.push(Interrupted {
            op: InterruptedOp::Restore,
            what: j.set.clone(),
            began_unix: j.started_unix,
            state: format!(
                "{}it had replaced the data in full; only starting the stack again was left, which the next backup or restore does",
                j.ran_in()
            ),
            choices: vec![
                choice(Resolution::Resume, "start the stack again".into()),
                choice(Resolution::Discard, "leave every service as it is now".into()),
            ],
        });
    } else if let Some(j) = restore_journal(dir) {
        let what = if j.items.is_empty() {
            "its data".to_string()
        } else {
            j.items.join(", ")
        };
        let mut choices = vec![choice(
            Resolution::Resume,
            format!(
                "restore set {} again: {what} as in that set (anything written since is replaced)",
                j.set
            ),
        )];
        if let Some(s) = &j.safety {
            choices.push(choice(
                Resolution::RollBack,
                format!(
                    "restore safety set {s}, the data from before the restore (anything written since is replaced)"
                ),
            ));
        }
        choices.push(choice(
            Resolution::Discard,
            format!(
                "keep the data as it is now, possibly half restored{}{}",
                j.writing
                    .as_ref()
                    .map(|w| format!(" (the {w} stays half written: a database on it may start as a new, empty one)"))
                    .unwrap_or_default(),
                j.safety
                    .as_ref()
                    .map(|s| format!("; safety set {s} stays listed"))
                    .unwrap_or_default()
            ),
        ));
        let half = j
            .writing
            .as_ref()
            .map(|w| {
                format!(
                    " (the {w} is half written: it was being overwritten when the restore stopped, and nothing the restore stopped starts until it is written again)"
                )
            })
            .unwrap_or_default();
        let state = match &j.failed {
            Some(why) => format!(
                "{}it failed and could not be undone ({why}): {what} may be half replaced{half}. It waits for your choice",
                j.ran_in()
            ),
            None => format!(
                "{}{what} may be half replaced{half}. The next backup or restore finishes it on its own only while nobody has started or taken down the stack since; otherwise it waits for your choice",
                j.ran_in()
            ),
        };
        found.push(Interrupted {
            op: InterruptedOp::Restore,
            what: j.set.clone(),
            began_unix: j.started_unix,
            state,
            choices,
        });
    }
    if let Some(j) = switch_journal(dir) {
        let from = j.from.clone().unwrap_or_else(|| "nothing running".into());
        let mut choices = vec![choice(
            Resolution::Resume,
            format!("finish the switch: every service to {}", j.to),
        )];
        if let Some(f) = &j.from {
            choices.push(choice(Resolution::RollBack, format!("every service back to {f}")));
        }
        choices.push(choice(Resolution::Discard, "leave every container as it is now".into()));
        found.push(Interrupted {
            op: InterruptedOp::Switch,
            what: format!("{from} -> {}", j.to),
            began_unix: j.started_unix,
            state: format!(
                "some services may run {from} and others {}. Switching to {} again finishes it; `up` or `down` settles it too",
                j.to, j.to
            ),
            choices,
        });
    }
    found.sort_by_key(|i| i.began_unix);
    found
}

impl Interrupted {
    /// One paragraph for a terminal: what was interrupted, when, what it left, and the choices
    /// as `sirius-deck recover` flags.
    pub fn describe(&self) -> String {
        let op = match self.op {
            InterruptedOp::Backup => format!("a backup ({})", self.what),
            InterruptedOp::Restore => format!("a restore of set {}", self.what),
            InterruptedOp::Switch => format!("a switch {}", self.what),
        };
        let mut text = format!(
            "{op} was interrupted (begun {}): {}.",
            when(self.began_unix),
            self.state
        );
        for c in &self.choices {
            text.push_str(&format!(
                "\n    sirius-deck recover {} {}: {}",
                op_name(self.op),
                c.resolution.flag(),
                c.consequence
            ));
        }
        text
    }
}

pub fn op_name(op: InterruptedOp) -> &'static str {
    match op {
        InterruptedOp::Backup => "backup",
        InterruptedOp::Restore => "restore",
        InterruptedOp::Switch => "switch",
    }
}

impl crate::Backups {
    /// Does what the user chose about an interrupted backup or restore, or forgets an
    /// interrupted switch (`Discard`; resuming or rolling back a switch is the switch's own
    /// work). Returns what was done, in words.
    pub async fn resolve(
        &self,
        st: &crate::Stack<'_>,
        op: InterruptedOp,
        resolution: Resolution,
        progress: &deck_engine::Sink,
    ) -> Result<String, BackupError> {
        let root = self.dir(&st.project.name);
        let _lock = store::lock(&root, &st.project.name)?;
        match op {
            InterruptedOp::Backup => {
                let ids = crate::create::interrupted(&root);
                if ids.is_empty() {
                    return Err(BackupError::Invalid("no backup of this stack was interrupted".into()));
                }
                if resolution == Resolution::RollBack {
                    return Err(BackupError::Invalid(
                        "a backup changes no data, so there is nothing to roll back: choose --resume or --discard"
                            .into(),
                    ));
                }
                for id in &ids {
                    self.recover_backup(st, id, resolution == Resolution::Resume, progress)
                        .await?;
                }
                Ok(format!("removed the incomplete set(s) {}", ids.join(", ")))
            }
            InterruptedOp::Restore => self.resolve_restore(st, resolution, progress).await,
            InterruptedOp::Switch => {
                if switch_journal(&root).is_none() {
                    return Err(BackupError::Invalid("no switch of this stack was interrupted".into()));
                }
                if resolution != Resolution::Discard {
                    return Err(BackupError::Invalid(
                        "resuming or rolling back a switch is done by the switch".into(),
                    ));
                }
                end_switch(&root)?;
                Ok("left every container as it is".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_is_finished_only_in_the_environment_it_ran_in() {
        let j = |env: Option<&str>| RestoreJournal {
            set: "s1".into(),
            safety: None,
            started_unix: 0,
            items: Vec::new(),
            applied: false,
            stopped: Vec::new(),
            started: Default::default(),
            failed: None,
            env: env.map(str::to_string),
            writing: None,
        };
        assert_eq!(j(Some("prod")).elsewhere(Some("prod")), None);
        let why = j(Some("prod")).elsewhere(Some("dev")).expect("elsewhere");
        assert!(
            why.contains("ran in the prod environment") && why.contains("-e prod"),
            "{why}"
        );
        assert!(j(Some("prod")).elsewhere(None).is_some());
        // A journal written before the field: any environment may finish it, as before.
        assert_eq!(j(None).elsewhere(Some("dev")), None);
    }

    #[test]
    fn nothing_a_restore_stopped_starts_on_what_it_left_half_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let services = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let refused = |env: Option<&str>, names: &[&str]| start_refused(dir.path(), env, &services(names));
        // No journal, and a journal with nothing half written: anything starts.
        assert_eq!(refused(Some("dev"), &[]), None);
        let mut j = RestoreJournal {
            set: "s1".into(),
            safety: Some("s0-safety".into()),
            started_unix: 0,
            items: Vec::new(),
            applied: false,
            stopped: services(&["cache", "db"]),
            started: Default::default(),
            failed: None,
            env: Some("dev".into()),
            writing: None,
        };
        write_restore_journal(dir.path(), &j).expect("journal");
        assert_eq!(refused(Some("dev"), &[]), None);
        mark_writing(dir.path(), Some("volume crash_db_data".into())).expect("marked");
        let why = refused(Some("dev"), &[]).expect("refused");
        assert!(
            why.contains("the volume crash_db_data, which is half written")
                && why.contains("cache, db would run on it")
                && why.contains("--resume")
                && why.contains("--roll-back` writes safety set s0-safety"),
            "{why}"
        );
        assert!(refused(Some("dev"), &["db"]).is_some_and(|w| w.contains(" db would run")));
        // What it did not stop, and another environment's volumes, start as before.
        assert_eq!(refused(Some("dev"), &["ui"]), None);
        assert_eq!(refused(Some("prod"), &[]), None);
        let listed = list(dir.path());
        assert!(
            listed[0].state.contains("the volume crash_db_data is half written"),
            "{}",
            listed[0].state
        );
        // Written in full: it starts again.
        mark_writing(dir.path(), None).expect("cleared");
        assert_eq!(refused(Some("dev"), &[]), None);
        j.writing = Some("database crash of db".into());
        write_restore_journal(dir.path(), &j).expect("journal");
        assert!(refused(Some("dev"), &["db"]).is_some_and(|w| w.contains("database crash of db")));
    }
}
