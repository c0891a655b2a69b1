//! Backup sets: take one, list them, verify one, restore one, and where they go.

use crate::error::{Error, Result};
use crate::target::Stack;
use crate::App;
use deck_backup::{RestoreOptions, RestoreSummary, SetInfo, Settings};
use deck_engine::Sink;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One file of a set.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct BackupItem {
    /// `db:<service>` or `volume:<key>`.
    pub id: String,
    pub description: String,
    #[ts(type = "number")]
    pub size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Verified {
    /// Checked when written, not since.
    WhenWritten,
    Ok,
    Failed,
}

/// A backup set as the user sees it.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct BackupSet {
    pub id: String,
    pub kind: deck_backup::Kind,
    pub env: Option<String>,
    #[ts(type = "number")]
    pub created_unix: u64,
    #[ts(type = "number")]
    pub size: u64,
    pub items: Vec<BackupItem>,
    pub verified: Verified,
    pub problem: Option<String>,
    #[ts(type = "number | null")]
    pub verified_unix: Option<u64>,
    /// Where it is, the user's home written as `~`.
    pub path: String,
}

impl From<SetInfo> for BackupSet {
    fn from(s: SetInfo) -> Self {
        let (verified, problem, verified_unix) = match s.check {
            None => (Verified::WhenWritten, None, None),
            Some(c) => (
                if c.problem.is_none() {
                    Verified::Ok
                } else {
                    Verified::Failed
                },
                c.problem,
                Some(c.at_unix),
            ),
        };
        BackupSet {
            items: s
                .manifest
                .items
                .iter()
                .map(|i| BackupItem {
                    id: i.id(),
                    description: i.describe(),
                    size: i.size,
                })
                .collect(),
            path: deck_backup::display_path(&s.path),
            id: s.id,
            kind: s.manifest.kind,
            env: s.manifest.env,
            created_unix: s.manifest.created_unix,
            size: s.size,
            verified,
            problem,
            verified_unix,
        }
    }
}

/// Takes a backup set of the stack (only the named items when `only` is not empty); cancelled
/// with [`App::cancel`].
pub async fn backup(app: &App, stack: &Stack, only: &[String], sink: &Sink) -> Result<BackupSet> {
    let mut st = stack.backup_stack()?;
    st.coverage = st.coverage.only(only)?;
    let backups = app.backups_of(stack).await?;
    let running = app.start_cancellable()?;
    Ok(backups.create(&st, sink, &running.token).await?.into())
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct BackupList {
    /// Newest first.
    pub sets: Vec<BackupSet>,
    /// Backups, restores and switches that a killed run left unfinished.
    pub interrupted: Vec<deck_backup::Interrupted>,
    /// Folders that are not readable sets, with why.
    pub unreadable: Vec<(String, String)>,
    /// What a backup of this stack covers.
    pub covers: Vec<String>,
    pub settings: Settings,
}

/// The stack's sets, without connecting to the engine.
pub fn backups(app: &App, stack: &Stack) -> Result<BackupList> {
    let settings = app.backup_settings()?;
    let covers = stack.backup_stack()?.coverage.ids();
    let dir = settings.dir.join(&stack.project.name);
    let (sets, unreadable) = deck_backup::list_sets(&dir)?;
    Ok(BackupList {
        sets: sets.into_iter().map(Into::into).collect(),
        interrupted: deck_backup::interrupted(&dir),
        unreadable,
        covers,
        settings,
    })
}

/// Reads every file of a set against its manifest; a damaged set is an error naming the
/// problem (and is recorded as failed).
pub async fn verify(app: &App, stack: &Stack, id: &str, sink: &Sink) -> Result<BackupSet> {
    let backups = app.backups_of(stack).await?;
    let set: BackupSet = backups.verify(&stack.project.name, id, sink).await?.into();
    match &set.problem {
        None => Ok(set),
        Some(p) => Err(Error::new(
            deck_error::Code::Failed,
            format!("set {} is damaged: {p}", set.id),
        )),
    }
}

/// A restore as asked: the set and the options.
#[derive(Clone, Debug, Deserialize, TS)]
#[ts(export)]
pub struct RestoreRequest {
    /// The set: its id, a unique prefix of it, or `latest`.
    pub id: String,
    #[serde(default)]
    pub options: RestoreOptions,
}

/// Restores a set: verified first, a safety set taken, data replaced, everything started
/// again; rolled back to the safety set on failure. Cancelled with [`App::cancel`].
pub async fn restore(app: &App, stack: &Stack, req: &RestoreRequest, sink: &Sink) -> Result<RestoreSummary> {
    let st = stack.backup_stack()?;
    let backups = app.backups_of(stack).await?;
    let running = app.start_cancellable()?;
    Ok(backups
        .restore(&st, &req.id, &req.options, sink, &running.token)
        .await?)
}

/// What a restore would replace, to confirm it with the user first: the set, and the
/// descriptions of the items its `only` selects (all when empty).
pub fn restore_plan(app: &App, stack: &Stack, req: &RestoreRequest) -> Result<(BackupSet, Vec<String>)> {
    let settings = app.backup_settings()?;
    let set = deck_backup::find_set(&settings.dir.join(&stack.project.name), &req.id)?;
    let only = &req.options.only;
    let replaces = set
        .manifest
        .items
        .iter()
        .filter(|i| only.is_empty() || only.iter().any(|o| i.matches(o)))
        .map(|i| i.describe())
        .collect();
    Ok((set.into(), replaces))
}

/// The backup settings as saved (with this program's folder override).
pub fn settings(app: &App) -> Result<Settings> {
    app.backup_settings()
}

/// A change of the backup settings; unset fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize, TS)]
#[serde(default)]
#[ts(export)]
pub struct SettingsChange {
    pub dir: Option<String>,
    #[ts(type = "number | null")]
    pub keep: Option<usize>,
    /// 0: no age limit.
    pub max_age_days: Option<u32>,
    #[ts(type = "number | null")]
    pub keep_safety: Option<usize>,
}

/// Changes and saves the backup settings (validated first: nothing is saved when invalid).
pub fn save_settings(change: &SettingsChange) -> Result<Settings> {
    let mut s = Settings::load()?;
    if let Some(d) = &change.dir {
        let d = d.trim();
        s.dir = std::path::absolute(d).map_err(|e| Error::invalid(format!("backup folder {d}: {e}")))?;
    }
    if let Some(k) = change.keep {
        s.keep = k;
    }
    if let Some(d) = change.max_age_days {
        s.max_age_days = (d > 0).then_some(d);
    }
    if let Some(k) = change.keep_safety {
        s.keep_safety = k;
    }
    s.save()?;
    Ok(Settings::load()?)
}
