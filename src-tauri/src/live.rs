//! What the window keeps while it runs: the application, the live watch of the open stack
//! (state and resource use pushed as the engine reports them, a notification per incident),
//! the log streams it has open, and the choices it remembers (`tauri-plugin-store`).
//!
//! Nothing is sent that the window would not draw: resource samples only when they move a
//! gauge visibly (every one for the service shown in detail), and nothing at all while the
//! window is hidden; when it is shown again it gets the state as it is then.

use deck_app::{App, Error, Gauges, Stack, StackSummary, StackView, Target};
use deck_engine::{ContainerStatus, LogLine, Observed, StackChange, Usage};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::async_runtime::JoinHandle;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_store::StoreExt;
use tokio::sync::watch;
use ts_rs::TS;

pub const SETTINGS: &str = "settings.json";

/// The window's colours: as the system says, or light or dark whatever it says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// The theme chosen last (the system's when none was).
pub fn theme(handle: &AppHandle) -> Theme {
    store_get(handle, "theme")
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

pub fn set_theme(handle: &AppHandle, theme: Theme) -> Result<(), Error> {
    store_set(handle, "theme", serde_json::json!(theme))
}

/// Keeps a setting in the store, written to disk at once.
fn store_set(handle: &AppHandle, key: &str, value: serde_json::Value) -> Result<(), Error> {
    let internal = |e: tauri_plugin_store::Error| Error::new(deck_app::Code::Internal, e.to_string());
    let store = handle.store(SETTINGS).map_err(internal)?;
    store.set(key, value);
    store.save().map_err(internal)
}

/// Live state of the open stack (event `stack-state`).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct StateEvent {
    pub stack: String,
    #[serde(flatten)]
    #[ts(flatten)]
    pub change: StackChange,
}

/// The nodes and tasks of the open stack when it runs on a swarm (event `stack-swarm`).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct SwarmEvent {
    pub stack: String,
    pub state: deck_engine::swarm::SwarmState,
}

/// One resource sample of a service of the open stack (event `stack-usage`).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct UsageEvent {
    pub stack: String,
    #[serde(flatten)]
    #[ts(flatten)]
    pub usage: Usage,
    /// At or near the service's memory limit.
    pub near_memory_limit: bool,
}

/// The open stack's files changed: its diagram as they load now, or why they do not (event
/// `stack-reloaded`).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Reloaded {
    pub stack: String,
    pub env: String,
    pub view: Option<StackView>,
    pub error: Option<Error>,
}

/// A notification was clicked: show this service (event `focus-service`).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct FocusService {
    pub stack: String,
    pub service: String,
}

/// What the window shows, as the page reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct OnScreen {
    /// The page is visible (the window is neither hidden nor minimised).
    pub visible: bool,
    /// The service shown in detail (the side panel).
    pub detailed: Option<String>,
}

pub struct Screen(watch::Sender<OnScreen>);

impl Default for Screen {
    fn default() -> Self {
        Screen(watch::Sender::new(OnScreen {
            visible: true,
            detailed: None,
        }))
    }
}

/// When the process started (the first line of `main`): launches are measured from here.
pub static STARTED: std::sync::LazyLock<std::time::Instant> = std::sync::LazyLock::new(std::time::Instant::now);

/// The page's own account of its start, sent with its first diagram.
#[derive(Clone, Debug, Deserialize, TS)]
#[ts(export)]
pub struct PageStart {
    /// When the page's clock started (its `performance.timeOrigin`), in Unix milliseconds.
    pub origin: f64,
    /// Moments of its start, in the order they came.
    pub marks: Vec<PageMark>,
}

#[derive(Clone, Debug, Deserialize, TS)]
#[ts(export)]
pub struct PageMark {
    pub name: String,
    /// Milliseconds on the page's clock.
    pub at: f64,
}

/// The page drew its first diagram: says how long the launch took (once), on stderr and in
/// the log, with the wall-clock time for a benchmark that started the process, and when each
/// step of the page's start came (milliseconds after the process started).
pub fn drawn(page: &PageStart) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let elapsed = STARTED.elapsed();
        let ms = elapsed.as_millis();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let at = now.as_millis();
        let started = now.saturating_sub(elapsed).as_secs_f64() * 1000.0;
        let steps = page
            .marks
            .iter()
            .map(|m| format!("{} {:.0}", m.name, page.origin + m.at - started))
            .collect::<Vec<_>>()
            .join(", ");
        tracing::info!(ms, page = steps, "the first diagram is drawn");
        // One line in one write: a benchmark reads it as soon as it shows.
        let line = format!(
            "sirius-deck-app: first diagram drawn {ms} ms after start (unix ms {at}); the page's start (ms): {steps}\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        release_freed_memory();
    });
}

/// Gives the system back the memory the start freed (the compose schema compiled, the page's
/// scripts unpacked and served, the first readings parsed). glibc's allocator keeps freed pages
/// inside its heaps, so without this they stay resident while the window idles: 3.7 MiB of the
/// main process, measured after the first diagram on the lab stack.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's malloc_trim has no safe binding")]
fn release_freed_memory() {
    // SAFETY: malloc_trim takes no pointers; glibc locks each arena while it walks it.
    let released = unsafe { libc::malloc_trim(0) } == 1;
    tracing::debug!(released, "freed memory given back to the system");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}

/// Lines of a log stream held while the window is hidden (the oldest go first).
const HELD_LOG_LINES: usize = 1000;

#[derive(Default)]
pub struct Shell {
    pub app: App,
    screen: Screen,
    watcher: Mutex<Option<JoinHandle<()>>>,
    /// Follows the open stack's files.
    files: Mutex<Option<JoinHandle<()>>>,
    /// Counts the stacks opened: a reload of one opened before is dropped.
    files_gen: std::sync::atomic::AtomicU64,
    logs: Mutex<HashMap<u32, JoinHandle<()>>>,
    next_log: AtomicU32,
    /// The shells open in the window.
    pub terminals: crate::terminals::Terminals,
    /// The folder the user chose last for a new stack (in the system's dialog).
    folder: Mutex<Option<std::path::PathBuf>>,
    /// Whether each stack's incidents raise notifications (read from the store once).
    notify: Arc<Mutex<Option<HashMap<String, bool>>>>,
}

fn store_get(handle: &AppHandle, key: &str) -> Option<serde_json::Value> {
    handle.store(SETTINGS).ok()?.get(key)
}

/// The stack and environment to open: `SIRIUS_DECK_STACK`/`_ENV`, the last ones used, or the
/// default.
pub fn remembered(handle: &AppHandle, stacks: &[StackSummary]) -> (String, String) {
    let text = |key: &str| store_get(handle, key).and_then(|v| v.as_str().map(str::to_string));
    let stack = std::env::var("SIRIUS_DECK_STACK")
        .ok()
        .or_else(|| text("lastStack"))
        .filter(|s| stacks.iter().any(|x| &x.name == s && x.invalid.is_none()))
        .unwrap_or_else(|| deck_stack::DEFAULT_PROFILE.to_string());
    let summary = stacks.iter().find(|s| s.name == stack);
    let env = std::env::var("SIRIUS_DECK_ENV")
        .ok()
        .or_else(|| text("lastEnv"))
        .filter(|e| summary.is_some_and(|s| s.envs.contains(e)))
        .or_else(|| summary.map(|s| s.default_env.clone()))
        .unwrap_or_else(|| "dev".into());
    (stack, env)
}

/// The engine (Docker context) chosen for `stack` last, while that context exists.
pub fn stack_engine(handle: &AppHandle, stack: &str) -> Option<String> {
    let name = store_get(handle, "engines")?.get(stack)?.as_str()?.to_string();
    deck_engine::endpoint::resolve(Some(&name)).is_ok().then_some(name)
}

/// Keeps the engine chosen for `stack`.
pub fn remember_engine(handle: &AppHandle, stack: &str, engine: &str) -> Result<(), Error> {
    let mut all = store_get(handle, "engines")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    all.insert(stack.to_string(), serde_json::json!(engine));
    store_set(handle, "engines", serde_json::Value::Object(all))
}

pub fn remember(handle: &AppHandle, stack: &str, env: &str) {
    if let Ok(store) = handle.store(SETTINGS) {
        store.set("lastStack", serde_json::json!(stack));
        store.set("lastEnv", serde_json::json!(env));
        let _ = store.save();
    }
}

/// Brings the window forward on a service (a notification was clicked).
fn focus_service(handle: &AppHandle, stack: &str, service: &str) {
    if let Some(w) = handle.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
    let focus = FocusService {
        stack: stack.into(),
        service: service.into(),
    };
    let _ = handle.emit("focus-service", focus);
}

impl Shell {
    fn notify_map(&self, handle: &AppHandle) -> HashMap<String, bool> {
        let Ok(mut cached) = self.notify.lock() else {
            return HashMap::new();
        };
        cached
            .get_or_insert_with(|| {
                store_get(handle, "notifications")
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default()
            })
            .clone()
    }

    /// Whether incidents of `stack` raise desktop notifications (on unless switched off).
    pub fn notifications(&self, handle: &AppHandle, stack: &str) -> bool {
        self.notify_map(handle).get(stack).copied().unwrap_or(true)
    }

    pub fn set_notifications(&self, handle: &AppHandle, stack: &str, enabled: bool) -> Result<(), Error> {
        let mut all = self.notify_map(handle);
        all.insert(stack.to_string(), enabled);
        store_set(handle, "notifications", serde_json::json!(all))?;
        if let Ok(mut cached) = self.notify.lock() {
            *cached = Some(all);
        }
        Ok(())
    }

    pub fn choose_folder(&self, folder: std::path::PathBuf) {
        if let Ok(mut f) = self.folder.lock() {
            *f = Some(folder);
        }
    }

    pub fn chosen_folder(&self) -> Option<std::path::PathBuf> {
        self.folder.lock().ok()?.clone()
    }

    /// What the window shows now; what is sent to it follows.
    pub fn set_screen(&self, now: OnScreen) {
        self.screen.0.send_if_modified(|was| {
            let changed = *was != now;
            *was = now;
            changed
        });
    }

    /// Watches the opened stack (replacing the watch of the one before); nothing when its
    /// files did not load.
    pub fn watch(&self, handle: &AppHandle, stack: &str, loaded: Option<Stack>) {
        let Ok(mut slot) = self.watcher.lock() else { return };
        if let Some(old) = slot.take() {
            old.abort();
        }
        if let Some(loaded) = loaded {
            *slot = Some(tauri::async_runtime::spawn(watch(
                handle.clone(),
                stack.to_string(),
                loaded,
            )));
        }
    }

    /// Follows the files of the opened stack (replacing the one before): when they change, the
    /// window gets the diagram as they load now (or their errors), and the live watch follows
    /// the new model.
    pub fn follow_files(&self, handle: &AppHandle, stack: &str, env: &str) {
        let Ok(mut slot) = self.files.lock() else { return };
        if let Some(old) = slot.take() {
            old.abort();
        }
        let opened = self.files_gen.fetch_add(1, Ordering::SeqCst) + 1;
        let target = Target::profile(stack, Some(env));
        let mut files = match deck_app::watch_files(&target) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "the stack's files are not followed");
                return;
            }
        };
        let (handle, stack, env) = (handle.clone(), stack.to_string(), env.to_string());
        *slot = Some(tauri::async_runtime::spawn(async move {
            while files.changed().await.is_some() {
                tracing::info!(stack, "the stack's files changed: reloaded");
                let reloaded = deck_app::view(&target);
                let shell = handle.state::<Shell>();
                // Another stack opened meanwhile (the reload may outlive its abort): dropped.
                // Checked and acted on under the lock that opening a stack takes.
                let Ok(_opening) = shell.files.lock() else { return };
                if shell.files_gen.load(Ordering::SeqCst) != opened {
                    return;
                }
                let (view, error) = match reloaded {
                    Ok((view, loaded)) => {
                        // Files with errors keep the watch of the last model that loaded.
                        if loaded.is_some() {
                            shell.watch(&handle, &stack, loaded);
                        }
                        (Some(view), None)
                    }
                    Err(e) => (None, Some(e)),
                };
                let reloaded = Reloaded {
                    stack: stack.clone(),
                    env: env.clone(),
                    view,
                    error,
                };
                let _ = handle.emit("stack-reloaded", reloaded);
                // The profile may name other files now.
                match deck_app::watch_files(&target) {
                    Ok(f) => files = f,
                    Err(e) => tracing::warn!(error = %e, "the stack's files are followed as before"),
                }
            }
        }));
    }

    /// Streams log lines to the window until `stop_logs`; returns the stream's id.
    pub fn follow_logs(
        &self,
        mut lines: tokio::sync::mpsc::Receiver<LogLine>,
        on_line: Channel<LogLine>,
    ) -> Result<u32, Error> {
        let id = self.next_log.fetch_add(1, Ordering::Relaxed);
        let mut screen = self.screen.0.subscribe();
        let task = tauri::async_runtime::spawn(async move {
            let mut held = VecDeque::new();
            let send_held = |held: &mut VecDeque<LogLine>| held.drain(..).all(|l| on_line.send(l).is_ok());
            loop {
                tokio::select! {
                    line = lines.recv() => {
                        let Some(l) = line else { break };
                        if screen.borrow().visible {
                            // What was held goes first, whichever branch sees the window shown.
                            if !send_held(&mut held) || on_line.send(l).is_err() {
                                return;
                            }
                        } else {
                            if held.len() == HELD_LOG_LINES {
                                held.pop_front();
                            }
                            held.push_back(l);
                        }
                    }
                    Ok(()) = screen.changed() => {
                        if screen.borrow_and_update().visible && !send_held(&mut held) {
                            return;
                        }
                    }
                }
            }
            // The stream ended while the window was hidden: its last lines wait to be seen.
            if !held.is_empty() && screen.wait_for(|s| s.visible).await.is_ok() {
                send_held(&mut held);
            }
        });
        self.logs
            .lock()
            .map_err(|_| Error::new(deck_app::Code::Internal, "state lock poisoned"))?
            .insert(id, task);
        Ok(id)
    }

    pub fn stop_logs(&self, id: u32) {
        if let Some(task) = self.logs.lock().ok().and_then(|mut l| l.remove(&id)) {
            task.abort();
        }
    }
}

/// Forwards the engine's view of the stack to the window until replaced, with its resource
/// use, and raises a notification per incident. The core's watch reconnects by itself when
/// the engine restarts; until the engine is first reached, this says so and tries again.
/// While the window is hidden nothing is sampled or sent (incidents still notify); when it is
/// shown again it gets the stack's state as it is then.
async fn watch(handle: AppHandle, stack: String, loaded: Stack) {
    if loaded.swarm() {
        return watch_swarm(handle, stack, loaded).await;
    }
    let shell = handle.state::<Shell>();
    let mut screen = shell.screen.0.subscribe();
    let emit_state = |change: StackChange| {
        tracing::debug!("sent the stack's state");
        let _ = handle.emit(
            "stack-state",
            StateEvent {
                stack: stack.clone(),
                change,
            },
        );
    };
    let mut live = loop {
        match deck_app::watch(&shell.app, &loaded).await {
            Ok(w) => break w,
            Err(e) => {
                if screen.borrow().visible {
                    emit_state(StackChange::EngineDown { reason: e.message });
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    let Ok((mut sampler, mut samples)) = deck_app::usage(&shell.app, &loaded).await else {
        return;
    };
    let mut gauges = Gauges::new(&loaded);
    // The stack as the engine last reported it, and whether the engine was away then.
    let mut known: BTreeMap<String, ContainerStatus> = BTreeMap::new();
    let mut down: Option<String> = None;
    // What the window shows, as last handled here.
    let mut on_screen = screen.borrow_and_update().clone();
    loop {
        tokio::select! {
            event = live.events.recv() => match event {
                Some(Observed::Change(change)) => {
                    change.apply_to(&mut known);
                    down = match &change {
                        StackChange::EngineDown { reason } => Some(reason.clone()),
                        _ => None,
                    };
                    if on_screen.visible {
                        sampler.follow(known.values(), on_screen.detailed.as_deref());
                        emit_state(change);
                    }
                }
                Some(Observed::Incident(incident)) => {
                    tracing::info!(service = %incident.service, kind = ?incident.kind, "incident");
                    if !shell.notifications(&handle, &stack) {
                        continue;
                    }
                    let (h, s, service) = (handle.clone(), stack.clone(), incident.service.clone());
                    let open: Box<dyn FnOnce() + Send> = Box::new(move || focus_service(&h, &s, &service));
                    if let Err(e) = deck_engine::notify_desktop(&stack, &incident, Some(open)).await {
                        tracing::warn!(error = %e, "cannot raise a desktop notification");
                    }
                }
                None => break,
            },
            Some(u) = samples.recv() => send_usage(&handle, &stack, &mut gauges, &on_screen, &u),
            Ok(()) = screen.changed() => {
                let now = screen.borrow_and_update().clone();
                let shown_again = now.visible && !on_screen.visible;
                on_screen = now;
                if !on_screen.visible {
                    sampler.follow([], None);
                    tracing::debug!("the window is hidden: nothing is sampled or sent");
                    continue;
                }
                if shown_again {
                    tracing::debug!("the window is shown again: it gets the stack as it is now");
                    gauges.forget();
                    // The containers as last known, then the engine's absence if it is away
                    // (a snapshot clears the window's engine-down banner).
                    emit_state(StackChange::Snapshot { containers: known.clone() });
                    if let Some(reason) = &down {
                        emit_state(StackChange::EngineDown { reason: reason.clone() });
                    }
                }
                // The service shown in detail is sampled every second, the others slowly.
                sampler.follow(known.values(), on_screen.detailed.as_deref());
            }
        }
    }
}

/// Sends a resource sample to the window when it is visible and the sample moves a gauge
/// visibly (every one of the service shown in detail).
fn send_usage(handle: &AppHandle, stack: &str, gauges: &mut Gauges, on_screen: &OnScreen, u: &Usage) {
    if !on_screen.visible {
        return;
    }
    let detailed = on_screen.detailed.as_deref() == Some(u.service.as_str());
    if let Some((usage, near_memory_limit)) = gauges.draws(u, detailed) {
        tracing::debug!(container = %usage.container, "sent a resource sample");
        let event = UsageEvent {
            stack: stack.to_string(),
            usage,
            near_memory_limit,
        };
        let _ = handle.emit("stack-usage", event);
    }
}

/// Forwards a swarm stack's nodes and tasks to the window as the engine reports them changed,
/// with each running task's resource use sampled on its node; while the window is hidden
/// nothing is sampled or sent, and when it is shown again it gets them as they are then.
async fn watch_swarm(handle: AppHandle, stack: String, loaded: Stack) {
    let shell = handle.state::<Shell>();
    let mut screen = shell.screen.0.subscribe();
    let emit = |state: &deck_engine::swarm::SwarmState| {
        tracing::debug!("sent the swarm stack's state");
        let _ = handle.emit(
            "stack-swarm",
            SwarmEvent {
                stack: stack.clone(),
                state: state.clone(),
            },
        );
    };
    // Until the manager is first reached, this says so and tries again.
    let deck_app::SwarmWatch {
        mut states,
        mut sampler,
        mut samples,
    } = loop {
        match deck_app::watch_swarm(&shell.app, &loaded).await {
            Ok(s) => break s,
            Err(e) => {
                if screen.borrow().visible {
                    let _ = handle.emit(
                        "stack-state",
                        StateEvent {
                            stack: stack.clone(),
                            change: StackChange::EngineDown { reason: e.message },
                        },
                    );
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    let mut gauges = Gauges::new(&loaded);
    let mut last: Option<deck_engine::swarm::SwarmState> = None;
    let mut on_screen = screen.borrow_and_update().clone();
    loop {
        tokio::select! {
            state = states.recv() => {
                let Some(state) = state else { break };
                if on_screen.visible {
                    emit(&state);
                    sampler.follow(&state, on_screen.detailed.as_deref()).await;
                }
                let incidents = last.as_ref().map(|l| deck_engine::swarm::swarm_incidents(l, &state));
                last = Some(state);
                for incident in incidents.unwrap_or_default() {
                    tracing::info!(service = %incident.service, kind = ?incident.kind, "incident");
                    if !shell.notifications(&handle, &stack) {
                        continue;
                    }
                    if let Err(e) = deck_engine::notify_desktop(&stack, &incident, None).await {
                        tracing::warn!(error = %e, "cannot raise a desktop notification");
                    }
                }
            }
            Some(u) = samples.recv() => send_usage(&handle, &stack, &mut gauges, &on_screen, &u),
            Ok(()) = screen.changed() => {
                let now = screen.borrow_and_update().clone();
                let shown_again = now.visible && !on_screen.visible;
                on_screen = now;
                if !on_screen.visible {
                    sampler.stop();
                    continue;
                }
                if shown_again {
                    gauges.forget();
                    if let Some(state) = &last {
                        emit(state);
                    }
                }
                if let Some(state) = &last {
                    sampler.follow(state, on_screen.detailed.as_deref()).await;
                }
            }
        }
    }
}

/// Opens a file in the user's editor: `SIRIUS_DECK_EDITOR` when set (a command line where
/// `{file}` and `{line}` are replaced, e.g. `code -g {file}:{line}`), else the system's handler
/// for the file (`xdg-open`, which takes no line).
pub fn open_in_editor(file: &std::path::Path, line: Option<u32>) -> Result<(), Error> {
    let path = file.display().to_string();
    let line = line.unwrap_or(1).to_string();
    let argv: Vec<String> = match std::env::var("SIRIUS_DECK_EDITOR") {
        Ok(cmd) if !cmd.trim().is_empty() => cmd
            .split_whitespace()
            .map(|w| w.replace("{file}", &path).replace("{line}", &line))
            .collect(),
        _ => vec!["xdg-open".into(), path.clone()],
    };
    let child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            Error::invalid(format!(
                "cannot open {path} with {}: {e}. Install xdg-utils, or set SIRIUS_DECK_EDITOR to your editor's command (for example `code -g {{file}}:{{line}}`)",
                argv[0]
            ))
        })?;
    // Reaped when it exits; the editor may run long after.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(())
}
