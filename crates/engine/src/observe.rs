//! Live state of a stack, driven by the engine's event stream (not by polling), with a
//! periodic reconcile as a safety net (silent unless it finds what the events missed) and a
//! reconnect when the engine goes away.

use crate::labels::{self, SERVICE};
use crate::status::{by_name, ContainerStatus};
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
    /// Every container of the stack, by container name: at the start, after a reconnect, and
    /// when a reconcile finds the events missed a change.
    Snapshot {
        containers: BTreeMap<String, ContainerStatus>,
    },
    /// One container of a service changed; `status` is `None` when it was removed.
    Container {
        service: String,
        /// The container's name, and which replica of the service it is (from 1).
        container: String,
        /// The container's id, as the engine's event names it.
        id: String,
        number: u32,
        action: ContainerAction,
        status: Option<Box<ContainerStatus>>,
        /// When the engine saw it (ns since the epoch).
        #[ts(type = "number | null")]
        time_ns: Option<i64>,
        /// The exit code the engine reported with a `die` (the container's state may already
        /// say `restarting`, which carries none).
        #[ts(type = "number | null")]
        exit_code: Option<i64>,
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

/// What the engine reported about a container, as far as its node and its incidents care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ContainerAction {
    Create,
    Start,
    Restart,
    Die,
    Stop,
    Kill,
    Destroy,
    /// The kernel's OOM killer struck.
    Oom,
    Pause,
    Unpause,
    /// Its health check passed (`health_status: healthy`).
    Healthy,
    /// Its health check failed (`health_status: unhealthy`).
    Unhealthy,
    /// Its health check has not decided yet (`health_status: starting`).
    HealthStarting,
    Rename,
    Update,
}

impl ContainerAction {
    /// The engine's action (`die`, `health_status: unhealthy`, ...), parsed in this one place;
    /// `None` for what does not change what a node shows (the `exec_*` of health checks and
    /// probes, `attach`, ...).
    pub fn parse(action: &str) -> Option<Self> {
        use ContainerAction::*;
        let (base, detail) = match action.split_once(':') {
            Some((b, d)) => (b.trim(), d.trim()),
            None => (action.trim(), ""),
        };
        Some(match base {
            "create" => Create,
            "start" => Start,
            "restart" => Restart,
            "die" => Die,
            "stop" => Stop,
            "kill" => Kill,
            "destroy" => Destroy,
            "oom" => Oom,
            "pause" => Pause,
            "unpause" => Unpause,
            "health_status" => match detail {
                "healthy" => Healthy,
                "unhealthy" => Unhealthy,
                _ => HealthStarting,
            },
            "rename" => Rename,
            "update" => Update,
            _ => return None,
        })
    }
}

impl StackChange {
    /// The stack's containers after this change (by container name).
    pub fn apply_to(&self, known: &mut BTreeMap<String, ContainerStatus>) {
        match self {
            StackChange::Snapshot { containers } => known.clone_from(containers),
            StackChange::Container {
                container,
                status: Some(status),
                ..
            } => {
                known.insert(container.clone(), (**status).clone());
            }
            StackChange::Container { container, .. } => {
                known.remove(container);
            }
            StackChange::EngineDown { .. } => {}
        }
    }
}

/// The engine's actions a watch asks for: every one `ContainerAction::parse` knows, so that the
/// `exec_*` events of every health check run are never sent (`health_status` matches its
/// `health_status: healthy` and the like).
const WATCHED_ACTIONS: [&str; 13] = [
    "create",
    "start",
    "restart",
    "die",
    "stop",
    "kill",
    "destroy",
    "oom",
    "pause",
    "unpause",
    "health_status",
    "rename",
    "update",
];

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
            filters.insert("event".into(), WATCHED_ACTIONS.map(String::from).to_vec());
            let mut events = self.docker.events(Some(EventsOptions {
                filters: Some(filters),
                ..Default::default()
            }));
            // What the window was last told, so that a reconcile that finds nothing new says nothing.
            let mut known = BTreeMap::new();
            match self.containers(&project).await {
                Ok(containers) => {
                    let snapshot = StackChange::Snapshot {
                        containers: by_name(containers),
                    };
                    snapshot.apply_to(&mut known);
                    if tx.send(snapshot).await.is_err() {
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
                            let Some(action) = msg.action.as_deref().and_then(ContainerAction::parse) else {
                                continue;
                            };
                            let actor = msg.actor.unwrap_or_default();
                            let attrs = actor.attributes.unwrap_or_default();
                            let Some(service) = attrs.get(SERVICE).cloned() else { continue };
                            let container = attrs.get("name").cloned().unwrap_or_default();
                            let number = attrs.get(labels::NUMBER).and_then(|n| n.parse().ok()).unwrap_or(1);
                            let id = actor.id.unwrap_or_default();
                            let status = if action == ContainerAction::Destroy {
                                None
                            } else {
                                self.container_status(&id).await.map(Box::new)
                            };
                            let time_ns = msg.time_nano;
                            let exit_code = attrs.get("exitCode").and_then(|c| c.parse().ok());
                            let change = StackChange::Container { service, container, id, number, action, status, time_ns, exit_code };
                            change.apply_to(&mut known);
                            if tx.send(change).await.is_err() {
                                return;
                            }
                        }
                        Some(Err(e)) => {
                            let _ = tx.send(StackChange::EngineDown { reason: crate::describe(&e) }).await;
                            break;
                        }
                        None => {
                            let _ = tx.send(StackChange::EngineDown { reason: "the engine closed its event stream".into() }).await;
                            break;
                        }
                    },
                    _ = reconcile.tick() => match self.reconcile(&project, &known).await {
                        Ok(None) => {}
                        Ok(Some(containers)) => {
                            tracing::debug!("the reconcile found a change the events did not report");
                            known.clone_from(&containers);
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

    /// The containers as they are, when they differ from `known`: one listing first, and the
    /// containers read in full (an inspection each) only when the listing disagrees.
    async fn reconcile(
        &self,
        project: &str,
        known: &BTreeMap<String, ContainerStatus>,
    ) -> Result<Option<BTreeMap<String, ContainerStatus>>, crate::EngineError> {
        if self.listing_agrees(project, known).await? {
            return Ok(None);
        }
        let containers = by_name(self.containers(project).await?);
        Ok((containers != *known).then_some(containers))
    }
}

#[cfg(test)]
mod tests {
    use super::ContainerAction;

    #[test]
    fn probes_are_not_state_changes() {
        assert_eq!(
            ContainerAction::parse("health_status: unhealthy"),
            Some(ContainerAction::Unhealthy)
        );
        assert_eq!(
            ContainerAction::parse("health_status: healthy"),
            Some(ContainerAction::Healthy)
        );
        assert_eq!(ContainerAction::parse("die"), Some(ContainerAction::Die));
        assert_eq!(ContainerAction::parse("exec_start: /bin/sh -c true"), None);
        assert_eq!(ContainerAction::parse("exec_die"), None);
        assert_eq!(ContainerAction::parse("attach"), None);
    }
}
