//! Switching environments and drift: thin adapters over `deck-switch` and the engine, with
//! progress on the same channel as up and down (service steps for the nodes, steps for the log).

use crate::dto::*;
use deck_backup::{Backups, Progress, Reporter, Settings};
use deck_engine::Engine;
use tauri::ipc::Channel;

/// Engine events and step messages of an operation, forwarded to the window.
async fn with_steps<T>(
    on_event: Channel<ProgressEvent>,
    op: impl AsyncFnOnce(tokio::sync::mpsc::UnboundedSender<deck_engine::Event>, &Reporter) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let forward = tauri::async_runtime::spawn(async move {
        loop {
            let event = tokio::select! {
                Some(e) = erx.recv() => ProgressEvent::from(e),
                Some(p) = prx.recv() => match p {
                    Progress::Step { message } => ProgressEvent::Step { message },
                    Progress::ItemDone { item, stored, .. } => ProgressEvent::Step {
                        message: format!("safety backup: {item} done ({} KiB)", stored / 1024),
                    },
                    Progress::Done { set, .. } => ProgressEvent::Step {
                        message: format!("safety backup {set} written and verified"),
                    },
                    _ => continue,
                },
                else => break,
            };
            let _ = on_event.send(event);
        }
    });
    let reporter = Reporter::new(Some(ptx));
    let result = op(etx, &reporter).await;
    drop(reporter);
    let _ = forward.await;
    result
}

#[tauri::command]
pub async fn stack_switch(
    stack: String,
    to: String,
    backup: bool,
    no_cache: bool,
    on_event: Channel<ProgressEvent>,
) -> Result<SwitchResult, ApiError> {
    let profile = deck_stack::find(&stack)?;
    profile.env(&to)?;
    let engine = Engine::connect().await?;
    let backups = Backups::new(engine.clone(), Settings::load()?);
    let switcher = deck_switch::Switcher {
        engine: &engine,
        backups: &backups,
        profile: &profile,
    };
    let opts = deck_switch::SwitchOptions {
        backup: Some(backup),
        no_cache,
        rollback: true,
    };
    let summary = with_steps(on_event, async |tx, r| {
        switcher.switch(&to, &opts, Some(tx), r).await.map_err(ApiError::from)
    })
    .await?;
    Ok(SwitchResult {
        from: summary.from,
        to: summary.to,
        safety: summary.safety,
        built: summary.built,
        rebuilt_no_cache: summary.rebuilt_no_cache,
        drift: summary.drift.into_iter().map(Into::into).collect(),
        elapsed_ms: summary.elapsed_ms,
    })
}

/// Whether each service runs what the environment asks for.
#[tauri::command]
pub async fn stack_drift(stack: String, env: String) -> Result<Vec<DriftDto>, ApiError> {
    let project = crate::valid_project(&stack, &env)?;
    let engine = Engine::connect().await?;
    let drift = engine.drift(&project, Some(&env)).await?;
    Ok(drift.into_iter().map(Into::into).collect())
}

/// The fix of a drifted service: rebuild without cache when its target is wrong, recreate.
#[tauri::command]
pub async fn service_repair(
    stack: String,
    env: String,
    service: String,
    on_event: Channel<ProgressEvent>,
) -> Result<(), ApiError> {
    let project = crate::valid_project(&stack, &env)?;
    let engine = Engine::connect().await?;
    let fix = engine
        .drift(&project, Some(&env))
        .await?
        .into_iter()
        .find(|d| d.service == service)
        .and_then(|d| d.fix);
    let rebuild = fix == Some(deck_engine::Fix::Rebuild);
    with_steps(on_event, async |tx, _| {
        engine
            .repair(&project, &service, Some(&env), rebuild, Some(tx))
            .await
            .map_err(Into::into)
    })
    .await
}
