//! The Sirius Deck desktop shell. Commands are thin adapters over the core crates; the live
//! state of the open stack comes from one background task per stack that turns the engine's
//! event stream into `stack-state` events for the window.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod backups;
mod dto;
mod switch;

use deck_compose::{load, Condition, Project};
use deck_engine::{
    notify_desktop, Action, DownOptions, Engine, IncidentTracker, StackChange, TrackerConfig, UpOptions,
};
use dto::*;
use std::sync::Mutex;
use std::time::Duration;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_store::StoreExt;

const SETTINGS: &str = "settings.json";

/// The watcher of the open stack (replaced when another stack or environment is opened), and
/// the log streams the window has open, by id.
#[derive(Default)]
struct AppState {
    watcher: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    logs: Mutex<std::collections::HashMap<u64, tauri::async_runtime::JoinHandle<()>>>,
    next_log: std::sync::atomic::AtomicU64,
    /// The running backup or restore, to cancel it.
    backup_cancel: Mutex<Option<tokio_util::sync::CancellationToken>>,
}

/// A stack's files, loaded: the project and its warnings, or every error.
type Loaded = Result<(Project, Vec<deck_compose::Diagnostic>), Vec<deck_compose::Diagnostic>>;

fn project_of(stack: &str, env: &str) -> Result<Loaded, ApiError> {
    let profile = deck_stack::find(stack)?;
    let opts = profile.load_options(env, None)?;
    Ok(match load(&opts) {
        Ok(l) => Ok((l.project, l.warnings)),
        Err(e) => Err(e.errors.into_iter().chain(e.warnings).collect()),
    })
}

fn valid_project(stack: &str, env: &str) -> Result<Project, ApiError> {
    match project_of(stack, env)? {
        Ok((p, _)) => Ok(p),
        Err(errors) => Err(ApiError::new(
            "invalid_stack",
            errors.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        )),
    }
}

#[tauri::command]
fn list_stacks(app: AppHandle) -> Result<Stacks, ApiError> {
    let mut stacks = Vec::new();
    for name in deck_stack::available() {
        if let Ok(p) = deck_stack::find(&name) {
            stacks.push(StackSummary {
                is_default: name == deck_stack::DEFAULT_PROFILE,
                name,
                description: p.description,
                envs: p.envs.keys().cloned().collect(),
                default_env: p.default_env,
            });
        }
    }
    let store = app
        .store(SETTINGS)
        .map_err(|e| ApiError::new("internal", e.to_string()))?;
    let remembered = |key: &str| store.get(key).and_then(|v| v.as_str().map(str::to_string));
    let open_stack = std::env::var("SIRIUS_DECK_STACK")
        .ok()
        .or_else(|| remembered("lastStack"))
        .filter(|s| stacks.iter().any(|x| &x.name == s))
        .unwrap_or_else(|| deck_stack::DEFAULT_PROFILE.to_string());
    let summary = stacks.iter().find(|s| s.name == open_stack);
    let open_env = std::env::var("SIRIUS_DECK_ENV")
        .ok()
        .or_else(|| remembered("lastEnv"))
        .filter(|e| summary.is_some_and(|s| s.envs.contains(e)))
        .or_else(|| summary.map(|s| s.default_env.clone()))
        .unwrap_or_else(|| "dev".into());
    Ok(Stacks {
        stacks,
        open_stack,
        open_env,
    })
}

fn stack_view(stack: &str, env: &str) -> Result<StackView, ApiError> {
    let profile = deck_stack::find(stack)?;
    let (project, diagnostics, invalid) = match project_of(stack, env)? {
        Ok((p, warnings)) => (Some(p), warnings, false),
        Err(errors) => (None, errors, true),
    };
    let Some(project) = project else {
        return Ok(StackView {
            stack: stack.into(),
            env: env.into(),
            project: String::new(),
            services: vec![],
            diagnostics: diagnostics.iter().map(Into::into).collect(),
            invalid,
            notifications: true,
        });
    };
    let layers = profile.layers(&project);
    let one_shots = project.one_shots();
    let services = project
        .startup_order()
        .into_iter()
        .map(|name| {
            let s = &project.services[&name];
            ServiceNode {
                layer: serde_json::to_value(layers.get(&name))
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                image: s.image.clone(),
                build_target: s.build.as_ref().and_then(|b| b.target.clone()),
                ports: s
                    .ports
                    .iter()
                    .filter_map(|p| p.published.as_ref().map(|h| format!("{h}:{}", p.target)))
                    .collect(),
                depends_on: s
                    .depends_on
                    .iter()
                    .map(|(t, d)| Edge {
                        target: t.clone(),
                        condition: match d.condition {
                            Condition::ServiceStarted => "started",
                            Condition::ServiceHealthy => "healthy",
                            Condition::ServiceCompletedSuccessfully => "completed",
                        }
                        .into(),
                    })
                    .collect(),
                has_healthcheck: s.healthcheck.as_ref().is_some_and(|h| !h.is_disabled()),
                one_shot: one_shots.contains(&name),
                memory_limit: s.memory_limit(),
                cpu_limit: s.cpu_limit(),
                name,
            }
        })
        .collect();
    Ok(StackView {
        stack: stack.into(),
        env: env.into(),
        project: project.name.clone(),
        services,
        diagnostics: diagnostics.iter().map(Into::into).collect(),
        invalid,
        notifications: true,
    })
}

/// Whether incidents of `stack` raise desktop notifications (on unless switched off).
fn notifications_on(app: &AppHandle, stack: &str) -> bool {
    app.store(SETTINGS)
        .ok()
        .and_then(|s| s.get("notifications"))
        .and_then(|n| n.get(stack).and_then(|v| v.as_bool()))
        .unwrap_or(true)
}

/// Brings the window forward on a service (a notification was clicked).
fn focus_service(app: &AppHandle, stack: &str, service: &str) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
    let _ = app.emit(
        "focus-service",
        FocusService {
            stack: stack.into(),
            service: service.into(),
        },
    );
}

/// Forwards the engine's view of the project to the window until replaced, and raises a
/// notification per incident; while the engine cannot be reached, says so every couple of
/// seconds and keeps trying.
async fn watch(app: AppHandle, stack: String, project: Project) {
    let mut tracker = IncidentTracker::new(TrackerConfig::default(), project.one_shots());
    loop {
        match Engine::connect().await {
            Ok(engine) => {
                let mut w = engine.watch(project.name.clone(), Duration::from_secs(30));
                let mut usage = engine.watch_usage(project.name.clone(), Duration::from_secs(5));
                loop {
                    let change = tokio::select! {
                        change = w.changes.recv() => match change {
                            Some(c) => c,
                            None => break,
                        },
                        Some(u) = usage.samples.recv() => {
                            let _ = app.emit("stack-usage", UsageEvent {
                                stack: stack.clone(),
                                service: u.service,
                                cpu_percent: u.cpu_percent,
                                memory_bytes: u.memory_bytes,
                            });
                            continue;
                        }
                    };
                    if let StackChange::EngineDown { reason } = &change {
                        tracing::warn!(%reason, "engine unreachable");
                    }
                    for mut incident in tracker.observe(&change, std::time::Instant::now()) {
                        tracing::info!(service = %incident.service, kind = ?incident.kind, "incident");
                        if !notifications_on(&app, &stack) {
                            continue;
                        }
                        engine.describe(&project, &mut incident).await;
                        let (app2, stack2, service) = (app.clone(), stack.clone(), incident.service.clone());
                        let open: Box<dyn FnOnce() + Send> = Box::new(move || focus_service(&app2, &stack2, &service));
                        if let Err(e) = notify_desktop(&stack, &incident, Some(open)).await {
                            tracing::warn!(error = %e, "cannot raise a desktop notification");
                        }
                    }
                    let _ = app.emit("stack-state", StateEvent::from_change(&stack, change));
                }
            }
            Err(e) => {
                let _ = app.emit(
                    "stack-state",
                    StateEvent::EngineDown {
                        stack: stack.clone(),
                        reason: e.to_string(),
                    },
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Streams the logs of `services` (all when empty) over `on_line`; returns the stream's id for
/// `logs_stop`.
#[tauri::command]
async fn logs_follow(
    state: State<'_, AppState>,
    stack: String,
    env: String,
    services: Vec<String>,
    tail: Option<usize>,
    on_line: Channel<LogLineDto>,
) -> Result<u64, ApiError> {
    let project = valid_project(&stack, &env)?;
    let engine = Engine::connect().await?;
    let mut lines = engine.logs(&project, &services, true, tail.or(Some(1000))).await?;
    let id = state.next_log.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let task = tauri::async_runtime::spawn(async move {
        while let Some(l) = lines.recv().await {
            let dto = LogLineDto {
                service: l.service,
                timestamp: l.timestamp,
                stderr: l.stderr,
                line: l.line,
            };
            if on_line.send(dto).is_err() {
                break;
            }
        }
    });
    state
        .logs
        .lock()
        .map_err(|_| ApiError::new("internal", "state lock poisoned"))?
        .insert(id, task);
    Ok(id)
}

#[tauri::command]
fn logs_stop(state: State<'_, AppState>, id: u64) -> Result<(), ApiError> {
    if let Some(task) = state
        .logs
        .lock()
        .map_err(|_| ApiError::new("internal", "state lock poisoned"))?
        .remove(&id)
    {
        task.abort();
    }
    Ok(())
}

#[tauri::command]
fn set_notifications(app: AppHandle, stack: String, enabled: bool) -> Result<(), ApiError> {
    let store = app
        .store(SETTINGS)
        .map_err(|e| ApiError::new("internal", e.to_string()))?;
    let mut all = store
        .get("notifications")
        .filter(|v| v.is_object())
        .unwrap_or_else(|| serde_json::json!({}));
    all[stack.as_str()] = serde_json::json!(enabled);
    store.set("notifications", all);
    store.save().map_err(|e| ApiError::new("internal", e.to_string()))
}

#[tauri::command]
async fn open_stack(
    app: AppHandle,
    state: State<'_, AppState>,
    stack: String,
    env: String,
) -> Result<StackView, ApiError> {
    let mut view = stack_view(&stack, &env)?;
    view.notifications = notifications_on(&app, &stack);
    if let Ok(store) = app.store(SETTINGS) {
        store.set("lastStack", serde_json::json!(stack));
        store.set("lastEnv", serde_json::json!(env));
        let _ = store.save();
    }
    let mut watcher = state
        .watcher
        .lock()
        .map_err(|_| ApiError::new("internal", "state lock poisoned"))?;
    if let Some(old) = watcher.take() {
        old.abort();
    }
    if !view.invalid {
        let project = valid_project(&stack, &env)?;
        *watcher = Some(tauri::async_runtime::spawn(watch(app.clone(), stack, project)));
    }
    Ok(view)
}

/// Runs a long operation with its progress streamed to the window.
async fn with_progress<F, Fut>(on_event: Channel<ProgressEvent>, op: F) -> Result<(), ApiError>
where
    F: FnOnce(tokio::sync::mpsc::UnboundedSender<deck_engine::Event>) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = tauri::async_runtime::spawn(async move {
        while let Some(e) = rx.recv().await {
            let _ = on_event.send(ProgressEvent::from(e));
        }
    });
    let result = op(tx).await;
    let _ = forward.await;
    result
}

#[tauri::command]
async fn stack_up(stack: String, env: String, on_event: Channel<ProgressEvent>) -> Result<(), ApiError> {
    let project = valid_project(&stack, &env)?;
    let engine = Engine::connect().await?;
    with_progress(on_event, |tx| async move {
        let opts = UpOptions {
            env: Some(env.clone()),
            ..Default::default()
        };
        engine
            .up(&project, &opts, Some(tx))
            .await
            .map(|_| ())
            .map_err(Into::into)
    })
    .await
}

#[tauri::command]
async fn stack_down(stack: String, env: String, on_event: Channel<ProgressEvent>) -> Result<(), ApiError> {
    let project = valid_project(&stack, &env)?;
    let engine = Engine::connect().await?;
    with_progress(on_event, |tx| async move {
        engine
            .down(&project.name, Some(&project), &DownOptions::default(), Some(tx))
            .await
            .map_err(Into::into)
    })
    .await
}

#[tauri::command]
async fn service_control(stack: String, env: String, service: String, action: ServiceAction) -> Result<(), ApiError> {
    let project = valid_project(&stack, &env)?;
    let engine = Engine::connect().await?;
    let action = match action {
        ServiceAction::Start => Action::Start,
        ServiceAction::Stop => Action::Stop,
        ServiceAction::Restart => Action::Restart,
    };
    engine.control(&project, &service, action).await.map_err(Into::into)
}

#[tauri::command]
async fn service_health(stack: String, env: String, service: String) -> Result<Vec<String>, ApiError> {
    let project = valid_project(&stack, &env)?;
    let engine = Engine::connect().await?;
    engine.health_log(&project, &service).await.map_err(Into::into)
}

fn init_logging(app: &tauri::App) {
    let Ok(dir) = app.path().app_log_dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("sirius-deck.log"))
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIRIUS_DECK_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
}

fn main() {
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::default().build())
        .manage(AppState::default())
        .setup(|app| {
            init_logging(app);
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "Sirius Deck started");
            // Restore the window size of the last session.
            if let (Some(window), Ok(store)) = (app.get_webview_window("main"), app.store(SETTINGS)) {
                if let Some(size) = store.get("windowSize") {
                    let w = size.get("width").and_then(|v| v.as_f64());
                    let h = size.get("height").and_then(|v| v.as_f64());
                    if let (Some(w), Some(h)) = (w, h) {
                        let _ = window.set_size(tauri::LogicalSize::new(w, h));
                    }
                }
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { .. } = event {
                if let (Ok(size), Ok(scale), Ok(store)) =
                    (window.inner_size(), window.scale_factor(), window.store(SETTINGS))
                {
                    let size = size.to_logical::<f64>(scale);
                    store.set(
                        "windowSize",
                        serde_json::json!({ "width": size.width, "height": size.height }),
                    );
                    let _ = store.save();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            list_stacks,
            open_stack,
            stack_up,
            stack_down,
            service_control,
            service_health,
            set_notifications,
            logs_follow,
            logs_stop,
            backups::backups_list,
            backups::backup_create,
            backups::backup_cancel,
            backups::backup_verify,
            backups::backup_restore,
            backups::backup_settings_save,
            switch::stack_switch,
            switch::stack_drift,
            switch::service_repair
        ])
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            eprintln!("sirius-deck-app: cannot start: {e}");
            std::process::exit(1);
        }
    }
}
