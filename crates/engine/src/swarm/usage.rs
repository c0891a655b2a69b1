//! Resource gauges of a swarm stack's tasks: each running task's container sampled on the
//! engine of the node that runs it (reached as the manager is), as a local stack's containers
//! are on the one engine.

use super::{SwarmNode, SwarmState, SwarmTask};
use crate::{Engine, EngineError, Sampled, Usage, UsageSampler};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The running tasks of `tasks` that have a container on a ready node of `nodes`: each with
/// its node and its container.
pub fn placed<'a>(
    nodes: &'a [SwarmNode],
    tasks: &'a [SwarmTask],
) -> impl Iterator<Item = (&'a SwarmNode, &'a SwarmTask, &'a str)> {
    tasks
        .iter()
        .filter(|t| t.state == "running" && t.desired == "running")
        .filter_map(move |t| {
            let node = nodes
                .iter()
                .find(|n| Some(&n.hostname) == t.node.as_ref() && n.state == "ready")?;
            Some((node, t, t.container.as_deref()?))
        })
}

impl Engine {
    /// The engine of the node that runs a running task of `service`, and its container.
    pub async fn task_container(
        &self,
        project: &deck_compose::Project,
        service: &str,
    ) -> Result<Option<(Engine, String)>, EngineError> {
        let (nodes, tasks) = (self.swarm_nodes().await?, self.stack_tasks(project).await?);
        let Some((node, _, container)) = placed(&nodes, &tasks).find(|(_, t, _)| t.service == service) else {
            return Ok(None);
        };
        Ok(Some((self.node_engine(node).await?, container.to_string())))
    }

    /// One CPU and memory sample of each running task of `tasks`, by task id, taken on its
    /// node (the nodes asked at once); a task on a node that cannot be reached has none.
    pub async fn tasks_usage(&self, nodes: &[SwarmNode], tasks: &[SwarmTask]) -> HashMap<String, (f64, u64)> {
        let engines = futures_util::future::join_all(
            nodes
                .iter()
                .filter(|n| n.state == "ready")
                .map(|n| async move { (n.hostname.as_str(), self.node_engine(n).await.ok()) }),
        )
        .await;
        let engines: HashMap<&str, Engine> = engines.into_iter().filter_map(|(h, e)| Some((h, e?))).collect();
        let samples = placed(nodes, tasks).filter_map(|(node, t, container)| {
            let engine = engines.get(node.hostname.as_str())?;
            Some(async move { (t.id.clone(), engine.usage(container).await) })
        });
        futures_util::future::join_all(samples)
            .await
            .into_iter()
            .filter_map(|(id, u)| Some((id, u?)))
            .collect()
    }

    /// A sampler of this manager's swarm that follows nothing yet, and the receiver of its
    /// samples (each named as its task is: `SwarmTask::name`).
    pub fn task_sampler(&self) -> (TaskSampler, tokio::sync::mpsc::Receiver<Usage>) {
        let (sampler, rx) = self.usage_sampler();
        let sampler = TaskSampler {
            manager: self.clone(),
            sampler,
            engines: HashMap::new(),
            failed: HashMap::new(),
        };
        (sampler, rx)
    }
}

/// How long a node whose engine could not be reached is left out of sampling.
const NODE_BACK_OFF: Duration = Duration::from_secs(30);

/// Samples the running tasks it is told to follow, on their nodes. Dropping it stops it all.
pub struct TaskSampler {
    manager: Engine,
    sampler: UsageSampler,
    /// The ready nodes' engines, by hostname.
    engines: HashMap<String, Engine>,
    /// When each node whose engine could not be reached was tried last, by hostname.
    failed: HashMap<String, Instant>,
}

impl TaskSampler {
    /// Samples exactly the running tasks of `state` on ready nodes, every second those of the
    /// service `detailed`. The nodes not reached yet are connected to at once; one that cannot
    /// be is left out, and tried again after a while.
    pub async fn follow(&mut self, state: &SwarmState, detailed: Option<&str>) {
        self.engines
            .retain(|host, _| state.nodes.iter().any(|n| &n.hostname == host && n.state == "ready"));
        let running: Vec<_> = placed(&state.nodes, &state.tasks).collect();
        let mut missing: Vec<&SwarmNode> = Vec::new();
        for (node, _, _) in &running {
            let tried = self
                .failed
                .get(&node.hostname)
                .is_some_and(|at| at.elapsed() < NODE_BACK_OFF);
            if !self.engines.contains_key(&node.hostname) && !tried && !missing.contains(node) {
                missing.push(*node);
            }
        }
        let manager = &self.manager;
        let reached =
            futures_util::future::join_all(missing.iter().map(|n| async move { (n, manager.node_engine(n).await) }))
                .await;
        for (node, engine) in reached {
            match engine {
                Ok(e) => {
                    self.failed.remove(&node.hostname);
                    self.engines.insert(node.hostname.clone(), e);
                }
                Err(e) => {
                    tracing::debug!(node = %node.hostname, error = %e, "cannot sample the node's tasks");
                    self.failed.insert(node.hostname.clone(), Instant::now());
                }
            }
        }
        let sampled = running
            .into_iter()
            .filter_map(|(node, t, container)| {
                Some(Sampled {
                    docker: self.engines.get(&node.hostname)?.docker.clone(),
                    id: container.to_string(),
                    name: t.name.clone(),
                    service: t.service.clone(),
                })
            })
            .collect();
        self.sampler.follow_sampled(sampled, detailed);
    }

    /// Samples nothing (the window is hidden).
    pub fn stop(&mut self) {
        self.sampler.follow_sampled(Vec::new(), None);
    }
}

/// What a task is called where its samples and its row are shown: `service.slot@node#id`
/// (`*` for a global service's slot).
pub(super) fn task_name(service: &str, slot: Option<i64>, node: Option<&str>, id: &str) -> String {
    format!(
        "{service}.{}@{}#{}",
        slot.map_or_else(|| "*".into(), |s| s.to_string()),
        node.unwrap_or("?"),
        id.get(..6).unwrap_or(id)
    )
}
