//! Live state of a stack, driven by the engine's event stream (not by polling), with a
//! periodic reconcile as a safety net and a reconnect when the engine goes away.

use crate::labels::{self, SERVICE};
use crate::status::ContainerStatus;
use crate::Engine;
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Clone, Debug, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[ts(export)]
pub enum StackChange {
    /// Every container of the stack, by service: at the start, after a reconnect, at each
    /// reconcile.
    Snapshot {
        containers: BTreeMap<String, ContainerStatus>,
    },
    /// One service's container changed; `status` is `None` when it was removed. `action` is
    /// the engine's event (start, die, health_status: unhealthy, oom, ...).
    Container {
        service: String,
        action: String,
        status: Option<Box<ContainerStatus>>,
        /// When the engine saw it (ns since the epoch).
        #[ts(type = "number | null")]
        time_ns: Option<i64>,
    },
    /// The engine cannot be reached; the watch retries until it can.
    EngineDown { reason: String },
}

/// A running watch; dropping it stops the task.
pub struct Watch {
    pub changes: mpsc::Receiver<StackChange>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Engine actions that change what a container's node shows (exec_* from health checks and
/// probes do not).
fn relevant(action: &str) -> bool {
    let base = action.split(':').next().unwrap_or(action).trim();
    matches!(
        base,
        "create"
            | "start"
            | "restart"
            | "die"
            | "stop"
            | "kill"
            | "destroy"
            | "oom"
            | "pause"
            | "unpause"
            | "health_status"
            | "rename"
            | "update"
    )
}

const RETRY: Duration = Duration::from_secs(2);

impl Engine {
    /// Watches the containers of `project_name`.
    pub fn watch(&self, project_name: String, reconcile_every: Duration) -> Watch {
        let (tx, rx) = mpsc::channel(256);
        let engine = self.clone();
        let task = tokio::spawn(async move { engine.watch_loop(project_name, reconcile_every, tx).await });
        Watch { changes: rx, task }
    }

    async fn watch_loop(&self, project: String, reconcile_every: Duration, tx: mpsc::Sender<StackChange>) {
        loop {
            // Subscribe first, then take the snapshot, so that nothing falls between the two.
            let mut filters: HashMap<String, Vec<String>> = labels::project_filter(&project);
            filters.insert("type".into(), vec!["container".into()]);
            let mut events = self.docker.events(Some(EventsOptions {
                filters: Some(filters),
                ..Default::default()
            }));
            match self.containers(&project).await {
                Ok(containers) => {
                    if tx.send(StackChange::Snapshot { containers }).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    if tx
                        .send(StackChange::EngineDown { reason: e.to_string() })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
            let mut reconcile =
                tokio::time::interval_at(tokio::time::Instant::now() + reconcile_every, reconcile_every);
            loop {
                tokio::select! {
                    ev = events.next() => match ev {
                        Some(Ok(msg)) => {
                            let action = msg.action.unwrap_or_default();
                            if !relevant(&action) {
                                continue;
                            }
                            let actor = msg.actor.unwrap_or_default();
                            let attrs = actor.attributes.unwrap_or_default();
                            let Some(service) = attrs.get(SERVICE).cloned() else { continue };
                            let status = if action == "destroy" {
                                None
                            } else {
                                self.container_status(&actor.id.unwrap_or_default()).await.map(|(_, s)| Box::new(s))
                            };
                            let time_ns = msg.time_nano;
                            if tx.send(StackChange::Container { service, action, status, time_ns }).await.is_err() {
                                return;
                            }
                        }
                        Some(Err(e)) => {
                            let _ = tx.send(StackChange::EngineDown { reason: e.to_string() }).await;
                            break;
                        }
                        None => {
                            let _ = tx.send(StackChange::EngineDown { reason: "the engine closed its event stream".into() }).await;
                            break;
                        }
                    },
                    _ = reconcile.tick() => match self.containers(&project).await {
                        Ok(containers) => {
                            if tx.send(StackChange::Snapshot { containers }).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(StackChange::EngineDown { reason: e.to_string() }).await;
                            break;
                        }
                    },
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relevant;

    #[test]
    fn probes_are_not_state_changes() {
        assert!(relevant("health_status: unhealthy"));
        assert!(relevant("die"));
        assert!(!relevant("exec_start: /bin/sh -c true"));
        assert!(!relevant("exec_die"));
        assert!(!relevant("attach"));
    }
}
