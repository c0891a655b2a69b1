//! What the window keeps while it runs: the application, the live watch of the open stack
//! (state and resource use pushed as the engine reports them, a notification per incident),
//! the log streams it has open, and the choices it remembers (`tauri-plugin-store`).

use deck_app::{App, Error, Stack, StackSummary};
use deck_engine::{LogLine, Observed, StackChange, Usage};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::async_runtime::JoinHandle;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_store::StoreExt;
use ts_rs::TS;

pub const SETTINGS: &str = "settings.json";

/// Live state of the open stack (event `stack-state`).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct StateEvent {
    pub stack: String,
    #[serde(flatten)]
    #[ts(flatten)]
    pub change: StackChange,
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

/// A notification was clicked: show this service (event `focus-service`).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct FocusService {
    pub stack: String,
    pub service: String,
}

#[derive(Default)]
pub struct Shell {
    pub app: App,
    watcher: Mutex<Option<JoinHandle<()>>>,
    logs: Mutex<HashMap<u32, JoinHandle<()>>>,
    next_log: AtomicU32,
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
        let store = handle
            .store(SETTINGS)
            .map_err(|e| Error::new(deck_app::Code::Internal, e.to_string()))?;
        store.set("notifications", serde_json::json!(all));
        store
            .save()
            .map_err(|e| Error::new(deck_app::Code::Internal, e.to_string()))?;
        if let Ok(mut cached) = self.notify.lock() {
            *cached = Some(all);
        }
        Ok(())
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

    /// Streams log lines to the window until `stop_logs`; returns the stream's id.
    pub fn follow_logs(
        &self,
        mut lines: tokio::sync::mpsc::Receiver<LogLine>,
        on_line: Channel<LogLine>,
    ) -> Result<u32, Error> {
        let id = self.next_log.fetch_add(1, Ordering::Relaxed);
        let task = tauri::async_runtime::spawn(async move {
            while let Some(l) = lines.recv().await {
                if on_line.send(l).is_err() {
                    break;
                }
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
async fn watch(handle: AppHandle, stack: String, loaded: Stack) {
    let shell = handle.state::<Shell>();
    let mut live = loop {
        match deck_app::watch(&shell.app, &loaded).await {
            Ok(w) => break w,
            Err(e) => {
                let change = StackChange::EngineDown { reason: e.message };
                let _ = handle.emit(
                    "stack-state",
                    StateEvent {
                        stack: stack.clone(),
                        change,
                    },
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    let Ok(mut usage) = deck_app::usage(&shell.app, &loaded).await else {
        return;
    };
    loop {
        tokio::select! {
            event = live.events.recv() => match event {
                Some(Observed::Change(change)) => {
                    let _ = handle.emit("stack-state", StateEvent { stack: stack.clone(), change });
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
            Some(u) = usage.samples.recv() => {
                let near_memory_limit = deck_app::near_memory_limit(&loaded, &u.service, u.memory_bytes);
                let _ = handle.emit("stack-usage", UsageEvent { stack: stack.clone(), usage: u, near_memory_limit });
            }
        }
    }
}
