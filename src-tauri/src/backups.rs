//! The Backups view's commands: thin adapters over `deck-backup`, with progress streamed to
//! the window over a channel.

use crate::dto::*;
use crate::AppState;
use deck_backup::{Backups, Reporter, Settings, Stack};
use deck_compose::Project;
use deck_engine::Engine;
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

/// The stack's files and what its backups cover.
fn covered(stack: &str, env: &str) -> Result<(Project, deck_backup::Coverage), ApiError> {
    let project = crate::valid_project(stack, env)?;
    let profile = deck_stack::find(stack)?;
    let coverage = deck_backup::coverage(&project, &profile.backup, &profile.path.display().to_string())?;
    Ok((project, coverage))
}

async fn backups() -> Result<Backups, ApiError> {
    Ok(Backups::new(Engine::connect().await?, Settings::load()?))
}

/// Runs an operation with its progress forwarded to the window.
async fn with_reporter<T>(
    on_event: Channel<BackupProgress>,
    op: impl AsyncFnOnce(&Reporter) -> Result<T, deck_backup::BackupError>,
) -> Result<T, ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = tauri::async_runtime::spawn(async move {
        while let Some(p) = rx.recv().await {
            let _ = on_event.send(BackupProgress::from(p));
        }
    });
    let reporter = Reporter::new(Some(tx));
    let result = op(&reporter).await;
    drop(reporter);
    let _ = forward.await;
    result.map_err(Into::into)
}

/// Holds the cancel token of the running backup or restore while it runs.
struct Running<'a>(&'a State<'a, AppState>);

impl<'a> Running<'a> {
    fn start(state: &'a State<'a, AppState>) -> Result<(Running<'a>, CancellationToken), ApiError> {
        let token = CancellationToken::new();
        let mut slot = state
            .backup_cancel
            .lock()
            .map_err(|_| ApiError::new("internal", "state lock poisoned"))?;
        if slot.is_some() {
            return Err(ApiError::new("refused", "a backup or restore is already running"));
        }
        *slot = Some(token.clone());
        Ok((Running(state), token))
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.0.backup_cancel.lock() {
            *slot = None;
        }
    }
}

#[tauri::command]
pub async fn backups_list(stack: String, env: String) -> Result<BackupList, ApiError> {
    let (project, coverage) = covered(&stack, &env)?;
    let settings = Settings::load()?;
    let dir = settings.dir.join(&project.name);
    let (sets, unreadable) = deck_backup::list_sets(&dir)?;
    Ok(BackupList {
        sets: sets.into_iter().map(Into::into).collect(),
        interrupted: deck_backup::interrupted_sets(&dir),
        unreadable,
        covers: coverage.ids(),
        settings: (&settings).into(),
    })
}

/// What a backup or restore of the open stack needs: its files, what its backups cover, and the
/// backups of this machine.
async fn prepare(stack: &str, env: &str) -> Result<(Project, deck_backup::Coverage, Backups), ApiError> {
    let (project, coverage) = covered(stack, env)?;
    Ok((project, coverage, backups().await?))
}

#[tauri::command]
pub async fn backup_create(
    state: State<'_, AppState>,
    stack: String,
    env: String,
    on_event: Channel<BackupProgress>,
) -> Result<BackupSetDto, ApiError> {
    let (project, coverage, b) = prepare(&stack, &env).await?;
    let (_running, cancel) = Running::start(&state)?;
    let st = Stack {
        project: &project,
        stack: &stack,
        env: Some(&env),
        coverage,
    };
    with_reporter(on_event, async |r| b.create(&st, r, &cancel).await)
        .await
        .map(Into::into)
}

/// Stops the running backup (services it stopped are started again, nothing is written).
#[tauri::command]
pub fn backup_cancel(state: State<'_, AppState>) -> Result<(), ApiError> {
    if let Ok(slot) = state.backup_cancel.lock() {
        if let Some(token) = slot.as_ref() {
            token.cancel();
        }
    }
    Ok(())
}

#[tauri::command]
pub async fn backup_verify(
    stack: String,
    env: String,
    id: String,
    on_event: Channel<BackupProgress>,
) -> Result<BackupSetDto, ApiError> {
    let project = crate::valid_project(&stack, &env)?;
    let b = backups().await?;
    with_reporter(on_event, async |r| b.verify(&project.name, &id, r).await)
        .await
        .map(Into::into)
}

#[tauri::command]
pub async fn backup_restore(
    state: State<'_, AppState>,
    stack: String,
    env: String,
    id: String,
    only: Vec<String>,
    on_event: Channel<BackupProgress>,
) -> Result<RestoreResult, ApiError> {
    let (project, coverage, b) = prepare(&stack, &env).await?;
    let (_running, cancel) = Running::start(&state)?;
    let st = Stack {
        project: &project,
        stack: &stack,
        env: Some(&env),
        coverage,
    };
    let opts = deck_backup::RestoreOptions { only, safety: true };
    let s = with_reporter(on_event, async |r| b.restore(&st, &id, &opts, r, &cancel).await).await?;
    Ok(RestoreResult {
        set: s.set,
        items: s.items,
        safety: s.safety,
        elapsed_ms: s.elapsed_ms,
    })
}

#[tauri::command]
pub fn backup_settings_save(settings: BackupSettingsDto) -> Result<BackupSettingsDto, ApiError> {
    let s = Settings {
        dir: settings.dir.trim().into(),
        keep: settings.keep as usize,
        max_age_days: settings.max_age_days.filter(|d| *d > 0),
        keep_safety: settings.keep_safety as usize,
    };
    s.save()?;
    Ok((&Settings::load()?).into())
}
