//! Where a stack's containers and volumes are: on one engine, or on the nodes of a swarm
//! (each reached as its manager is). Backups and restores ask the site for the container to
//! run a tool in, the engine a volume lives on, and to stop and start services: on one engine
//! its containers are stopped and started (`up`), on a swarm its services are scaled to 0 and
//! back to the replicas the files ask for.

use crate::plan::Volume;
use crate::BackupError;
use deck_compose::Project;
use deck_engine::swarm::SwarmNode;
use deck_engine::{Engine, Phase, Sink, UpOptions};
use std::collections::HashMap;
use tokio::sync::Mutex;

pub(crate) enum Site {
    Engine(Engine),
    Swarm {
        manager: Engine,
        /// Engines of the nodes reached so far, by hostname.
        nodes: Mutex<HashMap<String, Engine>>,
    },
}

/// A container of one of the stack's services, and the engine it is on.
#[derive(Clone)]
pub(crate) struct Placed {
    pub engine: Engine,
    pub id: String,
    pub name: String,
    pub service: String,
    pub running: bool,
    pub started_at: Option<String>,
    pub image: String,
    pub image_id: String,
}

impl Site {
    /// The engine asked about the stack as a whole (the swarm's manager).
    pub fn engine(&self) -> &Engine {
        match self {
            Site::Engine(e) | Site::Swarm { manager: e, .. } => e,
        }
    }

    pub fn is_swarm(&self) -> bool {
        matches!(self, Site::Swarm { .. })
    }

    async fn node(&self, manager: &Engine, hostname: &str) -> Result<Engine, BackupError> {
        let Site::Swarm { nodes, .. } = self else {
            return Ok(manager.clone());
        };
        let mut known = nodes.lock().await;
        if let Some(e) = known.get(hostname) {
            return Ok(e.clone());
        }
        let listed: Vec<SwarmNode> = manager.swarm_nodes().await?;
        let node = listed
            .iter()
            .find(|n| n.hostname == hostname)
            .ok_or_else(|| BackupError::Failed(format!("node {hostname} is not in the swarm's node list any more")))?;
        if node.state != "ready" {
            return Err(BackupError::Refused(format!(
                "node {hostname} is {}: what the stack keeps there cannot be reached",
                node.state
            )));
        }
        let engine = manager.node_engine(node).await?;
        known.insert(hostname.to_string(), engine.clone());
        Ok(engine)
    }

    /// Every engine the site has reached (to clean up after an interrupted run).
    pub async fn engines(&self) -> Vec<Engine> {
        match self {
            Site::Engine(e) => vec![e.clone()],
            Site::Swarm { nodes, manager } => {
                let mut out = vec![manager.clone()];
                out.extend(nodes.lock().await.values().cloned());
                out
            }
        }
    }

    /// The stack's containers: on one engine, all of them; on a swarm, those of the tasks
    /// meant to run, on their nodes.
    pub async fn containers(&self, project: &Project) -> Result<Vec<Placed>, BackupError> {
        match self {
            Site::Engine(engine) => Ok(engine
                .containers(&project.name)
                .await?
                .into_iter()
                .map(|c| Placed {
                    engine: engine.clone(),
                    id: c.id,
                    name: c.name,
                    service: c.service,
                    running: c.state == deck_engine::ContainerState::Running,
                    started_at: c.started_at,
                    image: c.image,
                    image_id: c.image_id,
                })
                .collect()),
            Site::Swarm { manager, .. } => {
                let mut out = Vec::new();
                for t in manager.stack_tasks(project).await? {
                    let (Some(node), Some(id)) = (&t.node, &t.container) else {
                        continue;
                    };
                    if t.desired != "running" {
                        continue;
                    }
                    let engine = self.node(manager, node).await?;
                    let Ok(i) = engine.docker().inspect_container(id, None).await else {
                        continue;
                    };
                    let state = i.state.unwrap_or_default();
                    out.push(Placed {
                        engine,
                        id: id.clone(),
                        name: i.name.unwrap_or_default().trim_start_matches('/').to_string(),
                        service: t.service.clone(),
                        running: state.running.unwrap_or(false),
                        started_at: state.started_at,
                        image: i.config.and_then(|c| c.image).unwrap_or_default(),
                        image_id: i.image.unwrap_or_default(),
                    });
                }
                Ok(out)
            }
        }
    }

    /// The service's containers (any state), on their engines.
    pub async fn replicas(&self, project: &Project, service: &str) -> Result<Vec<Placed>, BackupError> {
        Ok(self
            .containers(project)
            .await?
            .into_iter()
            .filter(|c| c.service == service)
            .collect())
    }

    /// A running container of the service (its first), to run a tool in.
    pub async fn running(&self, project: &Project, service: &str) -> Result<Option<Placed>, BackupError> {
        Ok(self.replicas(project, service).await?.into_iter().find(|c| c.running))
    }

    /// The engine the volume lives on: this engine; on a swarm, the node of the newest task of
    /// a service that mounts it (the one meant to run first), else (its services scaled to 0:
    /// the swarm forgets their tasks) the one ready node that has it. `None` when no node has
    /// it; several nodes with their own copy and no task to choose are refused.
    pub async fn volume_engine(&self, project: &Project, v: &Volume) -> Result<Option<Engine>, BackupError> {
        let Site::Swarm { manager, .. } = self else {
            return Ok(Some(self.engine().clone()));
        };
        let tasks = manager.stack_tasks(project).await?;
        let users = || {
            tasks
                .iter()
                .filter(|t| v.users.contains(&t.service) && t.node.is_some())
        };
        let newest = users().find(|t| t.desired == "running").or_else(|| users().next());
        if let Some(node) = newest.and_then(|t| t.node.as_deref()) {
            return Ok(Some(self.node(manager, node).await?));
        }
        let mut having = Vec::new();
        for n in manager.swarm_nodes().await?.iter().filter(|n| n.state == "ready") {
            let engine = self.node(manager, &n.hostname).await?;
            if engine.docker().inspect_volume(&v.name).await.is_ok() {
                having.push((n.hostname.clone(), engine));
            }
        }
        match having.len() {
            0 | 1 => Ok(having.pop().map(|(_, e)| e)),
            _ => Err(BackupError::Refused(format!(
                "volume {} exists on nodes {}, and no task of {} says which copy is the stack's: start the stack (`sirius-deck up`) first",
                v.name,
                having.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>().join(", "),
                v.users.join(", ")
            ))),
        }
    }

    /// Whether the stack is there at all (not taken down): it has containers on this engine,
    /// or services on the swarm (scaled to 0 or not).
    pub async fn deployed(&self, project: &Project) -> Result<bool, BackupError> {
        match self {
            Site::Engine(engine) => Ok(!engine.containers(&project.name).await?.is_empty()),
            Site::Swarm { manager, .. } => {
                for s in project.services.keys() {
                    if manager.service_replicas(project, s).await.is_ok() {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }

    /// The images of `users` as they run here: on a swarm, as each service's tasks were given
    /// it (a registry's, pinned to a digest), then as the files name them.
    pub async fn images(&self, project: &Project, users: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for u in users {
            if let Site::Swarm { manager, .. } = self {
                out.extend(manager.service_image(project, u).await);
            }
            out.push(deck_engine::image_ref(project, u, &project.services[u.as_str()]));
        }
        out
    }

    /// Before a volume is written on a swarm: its users must stay on the node it is written on.
    pub fn check_pinned(&self, project: &Project, v: &Volume) -> Result<(), BackupError> {
        if !self.is_swarm() {
            return Ok(());
        }
        match v
            .users
            .iter()
            .find(|u| !deck_engine::swarm::spec::pinned(&project.services[u.as_str()]))
        {
            Some(u) => Err(BackupError::Refused(format!(
                "volume {} is on the node where {u} ran last, and once stopped (scaled to 0) {u} may start again on another node, with an empty copy of it: pin {u} to one node first (`deploy.placement.constraints`, e.g. `node.hostname == …`)",
                v.name
            ))),
            None => Ok(()),
        }
    }

    /// Before services are stopped on a swarm: scaling to 0 must stop each (a global service
    /// has a task on every node, and cannot be scaled).
    pub fn check_stoppable(&self, project: &Project, services: &[String]) -> Result<(), BackupError> {
        if !self.is_swarm() {
            return Ok(());
        }
        match services
            .iter()
            .find(|s| deck_engine::swarm::spec::global(&project.services[s.as_str()]))
        {
            Some(s) => Err(BackupError::Refused(format!(
                "{s} is a global service (a task on every node): it cannot be stopped by scaling it to 0, and it uses or depends on what is replaced. Make it a replicated service (`deploy.mode: replicated`) to restore this set"
            ))),
            None => Ok(()),
        }
    }

    /// Stops services: on one engine, their containers in the order given (dependents
    /// first); on a swarm (which knows no order), all of them scaled to 0 at once.
    pub async fn stop(&self, project: &Project, services: &[String], progress: &Sink) -> Result<(), BackupError> {
        let engine = match self {
            Site::Engine(engine) => engine,
            Site::Swarm { manager, .. } => {
                let wanted: Vec<(String, u64)> = services.iter().map(|s| (s.clone(), 0)).collect();
                return Ok(manager.scale(project, &wanted, progress).await?);
            }
        };
        for s in services {
            progress.service(s, Phase::Stopping, None);
            for c in engine.replicas(&project.name, s).await? {
                match engine.stop(&c.name).await {
                    Ok(()) => {}
                    Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {}
                    Err(e) => {
                        return Err(BackupError::Failed(format!(
                            "stopping {}: {}",
                            c.name,
                            deck_engine::describe(&e)
                        )))
                    }
                }
            }
            progress.service(s, Phase::Stopped, None);
        }
        Ok(())
    }

    /// Starts services and waits until they are ready: `up` on one engine; on a swarm, those
    /// scaled to 0 go back to the replicas their files ask for.
    pub async fn start(&self, project: &Project, opts: &UpOptions, progress: &Sink) -> Result<(), BackupError> {
        match self {
            Site::Engine(engine) => Ok(engine.up(project, opts, progress).await.map(|_| ())?),
            Site::Swarm { manager, .. } => {
                let mut wanted = Vec::new();
                for s in &opts.services {
                    if manager.service_replicas(project, s).await? == Some(0) {
                        let replicas = project.services[s.as_str()].replicas() as u64;
                        wanted.push((s.clone(), replicas));
                    }
                }
                Ok(manager.scale(project, &wanted, progress).await?)
            }
        }
    }

    /// Whether a service a killed backup stopped is still stopped: one of the containers it
    /// stopped still exists, stopped; on a swarm, the service is still at 0 replicas.
    pub async fn still_stopped(&self, project: &Project, service: &str, containers: &[String]) -> bool {
        match self {
            Site::Engine(engine) => {
                for c in containers {
                    if let Ok(i) = engine.docker().inspect_container(c, None).await {
                        if !i.state.and_then(|s| s.running).unwrap_or(false) {
                            return true;
                        }
                    }
                }
                false
            }
            Site::Swarm { manager, .. } => matches!(manager.service_replicas(project, service).await, Ok(Some(0))),
        }
    }
}
