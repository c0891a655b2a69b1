//! A swarm stack watched live: its nodes and tasks, sent again whenever the engine says
//! something changed (the manager's service and node events, and each ready node's events of
//! the stack's containers), never on a timer.

use super::{label_filter, SwarmNode, SwarmTask};
use crate::{Engine, Incident, IncidentKind};
use bollard::query_parameters::EventsOptions;
use deck_compose::Project;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use ts_rs::TS;

/// What a swarm stack is made of now.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SwarmState {
    pub nodes: Vec<SwarmNode>,
    /// The tasks meant to run, and those that ended last per slot (newest first).
    pub tasks: Vec<SwarmTask>,
    /// Why the manager cannot be asked now (it is tried again), else `None`.
    pub error: Option<String>,
}

/// What a change of a swarm stack's state is worth a notification for: a node that went down
/// (with the tasks it ran) or came back, and a task of the current spec that failed.
pub fn swarm_incidents(before: &SwarmState, now: &SwarmState) -> Vec<Incident> {
    let mut out = Vec::new();
    let was_ready = |host: &str| before.nodes.iter().any(|n| n.hostname == host && n.state == "ready");
    for n in &now.nodes {
        let known = before.nodes.iter().any(|b| b.hostname == n.hostname);
        let kind = match (known && was_ready(&n.hostname), n.state == "ready") {
            (true, false) => IncidentKind::NodeDown {
                tasks: now
                    .tasks
                    .iter()
                    .filter(|t| t.node.as_deref() == Some(n.hostname.as_str()) && t.desired == "running")
                    .map(|t| format!("{}.{}", t.service, t.slot.map_or_else(|| "*".into(), |s| s.to_string())))
                    .collect(),
            },
            (false, true) if known => IncidentKind::Recovered,
            _ => continue,
        };
        out.push(Incident {
            service: format!("node {}", n.hostname),
            container: None,
            kind,
            event_time_ns: None,
        });
    }
    for t in &now.tasks {
        let failed = |t: &SwarmTask| matches!(t.state.as_str(), "failed" | "rejected");
        if !t.current || !failed(t) || before.tasks.iter().any(|b| b.id == t.id && failed(b)) {
            continue;
        }
        out.push(Incident {
            service: t.service.clone(),
            container: Some(format!(
                "{}.{}",
                t.service,
                t.slot.map_or_else(|| "*".into(), |s| s.to_string())
            )),
            kind: IncidentKind::TaskFailed {
                error: t.error.clone().or(t.message.clone()).unwrap_or_default(),
            },
            event_time_ns: None,
        });
    }
    out
}

/// Several events close together are one change: the state is asked once they settle.
const SETTLE: Duration = Duration::from_millis(250);

impl Engine {
    /// The stack's nodes and tasks, sent first as they are, then each time they change, until
    /// the receiver is dropped. A manager that cannot be reached is said (in `error`) and
    /// tried again every few seconds.
    pub fn watch_swarm(&self, project: &Project) -> mpsc::Receiver<SwarmState> {
        let (tx, rx) = mpsc::channel(16);
        let (engine, project) = (self.clone(), project.clone());
        tokio::spawn(async move {
            let (poke, mut poked) = mpsc::channel::<()>(64);
            // The event streams followed, by node hostname ("" for the manager's own).
            let mut followed: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
            let mut last: Option<SwarmState> = None;
            loop {
                let state = match (engine.swarm_nodes().await, engine.stack_tasks(&project).await) {
                    (Ok(nodes), Ok(tasks)) => SwarmState {
                        nodes,
                        tasks: tasks
                            .into_iter()
                            .filter(|t| t.desired == "running" || t.current)
                            .collect(),
                        error: None,
                    },
                    (Err(e), _) | (_, Err(e)) => SwarmState {
                        nodes: last.as_ref().map(|l| l.nodes.clone()).unwrap_or_default(),
                        tasks: last.as_ref().map(|l| l.tasks.clone()).unwrap_or_default(),
                        error: Some(e.to_string()),
                    },
                };
                if state.error.is_none() {
                    follow_events(&engine, &project, &state.nodes, &mut followed, &poke).await;
                }
                let retry = state.error.is_some();
                if last.as_ref() != Some(&state) {
                    if tx.send(state.clone()).await.is_err() {
                        break;
                    }
                    last = Some(state);
                }
                // Wait for the engine to say something changed (or, while the manager is
                // away, a few seconds), then for the burst of events to settle.
                tokio::select! {
                    _ = poked.recv() => {}
                    _ = tokio::time::sleep(Duration::from_secs(3)), if retry => {}
                    _ = tx.closed() => break,
                }
                tokio::time::sleep(SETTLE).await;
                while poked.try_recv().is_ok() {}
            }
            for (_, task) in followed {
                task.abort();
            }
        });
        rx
    }
}

/// Follows the events of the manager (services, nodes) and of each ready node (the stack's
/// containers), each stream poking `poke`; a stream that ended (its node went away) is
/// followed again once its node is ready.
async fn follow_events(
    manager: &Engine,
    project: &Project,
    nodes: &[SwarmNode],
    followed: &mut HashMap<String, tokio::task::JoinHandle<()>>,
    poke: &mpsc::Sender<()>,
) {
    followed.retain(|_, task| !task.is_finished());
    if !followed.contains_key("") {
        let filters = HashMap::from([("type".to_string(), vec!["service".to_string(), "node".to_string()])]);
        followed.insert("".into(), stream(manager.clone(), filters, poke.clone()));
    }
    for node in nodes.iter().filter(|n| n.state == "ready") {
        if followed.contains_key(&node.hostname) {
            continue;
        }
        let Ok(engine) = manager.node_engine(node).await else {
            continue;
        };
        let mut filters = label_filter(&project.name);
        filters.insert("type".into(), vec!["container".into()]);
        followed.insert(node.hostname.clone(), stream(engine, filters, poke.clone()));
    }
}

fn stream(
    engine: Engine,
    filters: HashMap<String, Vec<String>>,
    poke: mpsc::Sender<()>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = engine.docker.events(Some(EventsOptions {
            filters: Some(filters),
            ..Default::default()
        }));
        while let Some(Ok(_)) = events.next().await {
            if poke.send(()).await.is_err() {
                return;
            }
        }
        // Ended: the state is asked again (a node that went away shows as down).
        let _ = poke.send(()).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, state: &str) -> SwarmNode {
        SwarmNode {
            id: host.into(),
            hostname: host.into(),
            addr: "10.0.0.1".into(),
            manager: false,
            leader: false,
            state: state.into(),
            availability: "active".into(),
            engine_version: None,
        }
    }

    fn task(id: &str, node: &str, state: &str) -> SwarmTask {
        SwarmTask {
            id: id.into(),
            name: format!("api.1@{node}#{id}"),
            service: "api".into(),
            slot: Some(1),
            node: Some(node.into()),
            state: state.into(),
            desired: "running".into(),
            message: None,
            error: Some("task: non-zero exit (1)".into()),
            image: None,
            container: None,
            current: true,
        }
    }

    fn state(nodes: Vec<SwarmNode>, tasks: Vec<SwarmTask>) -> SwarmState {
        SwarmState {
            nodes,
            tasks,
            error: None,
        }
    }

    #[test]
    fn a_node_lost_and_back_and_a_failed_task_are_told_once() {
        let up = state(
            vec![node("n1", "ready"), node("n2", "ready")],
            vec![task("t1", "n2", "running")],
        );
        let lost = state(
            vec![node("n1", "ready"), node("n2", "down")],
            vec![task("t1", "n2", "running")],
        );
        let said = swarm_incidents(&up, &lost);
        assert_eq!(said.len(), 1);
        assert_eq!(said[0].service, "node n2");
        assert_eq!(
            said[0].kind,
            IncidentKind::NodeDown {
                tasks: vec!["api.1".into()]
            }
        );
        assert!(swarm_incidents(&lost, &lost).is_empty(), "said once");
        let back = swarm_incidents(&lost, &up);
        assert_eq!(back[0].kind, IncidentKind::Recovered);

        let failed = state(up.nodes.clone(), vec![task("t1", "n2", "failed")]);
        let said = swarm_incidents(&up, &failed);
        assert_eq!(said.len(), 1);
        assert_eq!(said[0].container.as_deref(), Some("api.1"));
        assert!(swarm_incidents(&failed, &failed).is_empty(), "said once");
    }
}
