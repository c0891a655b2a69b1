//! Resource gauges of a swarm stack's tasks: each running task's container sampled on the
//! engine of the node that runs it (reached as the manager is), as a local stack's containers
//! are on the one engine.

use super::{SwarmNode, SwarmState, SwarmTask};
use crate::{Engine, Sampled, Usage, UsageSampler};
use std::collections::HashMap;

/// Samples the running tasks it is told to follow, on their nodes. Dropping it stops it all.
pub struct TaskSampler {
    manager: Engine,
    sampler: UsageSampler,
    /// The ready nodes' engines, by hostname.
    engines: HashMap<String, Engine>,
}

impl Engine {
    /// A sampler of this manager's swarm that follows nothing yet, and the receiver of its
    /// samples (each named as its task is: `SwarmTask::name`).
    pub fn task_sampler(&self) -> (TaskSampler, tokio::sync::mpsc::Receiver<Usage>) {
        let (sampler, rx) = self.usage_sampler();
        let sampler = TaskSampler {
            manager: self.clone(),
            sampler,
            engines: HashMap::new(),
        };
        (sampler, rx)
    }
}

impl Engine {
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
        let samples = tasks.iter().filter(|t| t.state == "running").filter_map(|t| {
            let engine = engines.get(t.node.as_deref()?)?;
            let container = t.container.as_deref()?;
            Some(async move { (t.id.clone(), engine.usage(container).await) })
        });
        futures_util::future::join_all(samples)
            .await
            .into_iter()
            .filter_map(|(id, u)| Some((id, u?)))
            .collect()
    }
}

impl TaskSampler {
    /// Samples exactly the running tasks of `state` on ready nodes, every second those of the
    /// service `detailed` (give none, or an empty state, to stop sampling). A node whose engine
    /// cannot be reached is left out until the next call.
    pub async fn follow(&mut self, state: &SwarmState, detailed: Option<&str>) {
        let ready: HashMap<&str, &SwarmNode> = state
            .nodes
            .iter()
            .filter(|n| n.state == "ready")
            .map(|n| (n.hostname.as_str(), n))
            .collect();
        self.engines.retain(|host, _| ready.contains_key(host.as_str()));
        let mut running = Vec::new();
        for t in state
            .tasks
            .iter()
            .filter(|t| t.state == "running" && t.desired == "running")
        {
            let (Some(host), Some(container)) = (t.node.as_deref(), t.container.as_ref()) else {
                continue;
            };
            let Some(node) = ready.get(host) else { continue };
            if !self.engines.contains_key(host) {
                match self.manager.node_engine(node).await {
                    Ok(e) => {
                        self.engines.insert(host.to_string(), e);
                    }
                    Err(e) => {
                        tracing::debug!(node = host, error = %e, "cannot sample the node's tasks");
                        continue;
                    }
                }
            }
            running.push(Sampled {
                docker: self.engines[host].docker.clone(),
                id: container.clone(),
                name: t.name.clone(),
                service: t.service.clone(),
            });
        }
        self.sampler.follow_sampled(running, detailed);
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
