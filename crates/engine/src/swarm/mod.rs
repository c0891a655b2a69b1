//! A stack on a Docker Swarm, through a manager's Engine API, with `docker stack deploy`
//! semantics: its images built on this machine and copied to each node that lacks them, its
//! networks, secrets and configs created, its services created or updated, and the deploy
//! followed task by task until every service runs its desired replicas, healthy.

mod logs;
pub mod spec;
mod usage;
mod watch;

pub use usage::{placed, TaskSampler};
pub use watch::{swarm_incidents, SwarmState};

use crate::endpoint::Endpoint;
use crate::event::{Event, FailureReport, Phase, ResourceAction, ResourceKind, Sink};
use crate::{is_not_found, Context, Engine, EngineError, UpOptions};
use bollard::models::{NetworkCreateRequest, TaskSpec, TaskState};
use bollard::query_parameters::{ListNodesOptions, ListServicesOptions, ListTasksOptions};
use deck_compose::Project;
use futures_util::StreamExt;
use serde::Serialize;
use spec::{Finding, Ids, NAMESPACE};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use ts_rs::TS;

/// A node of the swarm, as its manager lists it.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SwarmNode {
    pub id: String,
    pub hostname: String,
    /// The address the node is reached at (its engine answers there, on the manager's port).
    pub addr: String,
    pub manager: bool,
    pub leader: bool,
    /// `ready`, `down`, `unknown`, `disconnected`.
    pub state: String,
    /// `active`, `pause`, `drain`.
    pub availability: String,
    pub engine_version: Option<String>,
}

/// One task of a stack's service.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SwarmTask {
    pub id: String,
    /// What it is called where its samples and its row are shown: `service.slot@node#id`.
    pub name: String,
    /// The compose service.
    pub service: String,
    /// The replica's slot (none for a global service's task).
    #[ts(type = "number | null")]
    pub slot: Option<i64>,
    pub node: Option<String>,
    pub state: String,
    pub desired: String,
    pub message: Option<String>,
    pub error: Option<String>,
    pub image: Option<String>,
    pub container: Option<String>,
    /// Whether it runs the service's spec as it is now (not the one before an update).
    pub current: bool,
}

/// The hash of a task template as deployed (see `spec::TEMPLATE_HASH`; none: a service not
/// deployed by Sirius Deck, whose tasks all count as current).
fn template_hash(task: Option<&TaskSpec>) -> Option<String> {
    task?
        .container_spec
        .as_ref()?
        .labels
        .as_ref()?
        .get(spec::TEMPLATE_HASH)
        .cloned()
}

/// A service's last update, as a mark to tell it from a later one.
fn update_mark(u: Option<&bollard::models::ServiceUpdateStatus>) -> String {
    u.map(|u| format!("{:?}|{:?}", u.state, u.started_at))
        .unwrap_or_default()
}

/// What a deploy did.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct DeploySummary {
    #[ts(type = "number")]
    pub elapsed_ms: u64,
    /// Images copied, per node hostname.
    pub copied: BTreeMap<String, Vec<String>>,
    pub created: Vec<String>,
    pub updated: Vec<String>,
    /// What swarm does otherwise than compose (warned before anything changed).
    pub warnings: Vec<String>,
}

/// What `checked` found before a deploy: the nodes, the services in order, their images' ids
/// and what the files ask that a swarm does otherwise.
struct Checked {
    nodes: Vec<SwarmNode>,
    names: Vec<String>,
    ids: HashMap<String, String>,
    found: Vec<Finding>,
}

fn state_word(s: Option<TaskState>) -> String {
    s.map_or_else(|| "unknown".into(), |s| s.to_string())
}

fn label_filter(ns: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{NAMESPACE}={ns}")])])
}

impl Engine {
    /// The swarm's nodes; fails with a clear message when this engine is not a manager.
    pub async fn swarm_nodes(&self) -> Result<Vec<SwarmNode>, EngineError> {
        let info = self
            .docker
            .info()
            .await
            .context(|| "asking the engine about its swarm".into())?;
        let swarm = info.swarm.unwrap_or_default();
        if swarm.control_available != Some(true) {
            return Err(EngineError::NotManager {
                host: self.endpoint.name.clone(),
                state: swarm
                    .local_node_state
                    .map_or_else(|| "inactive".into(), |s| s.to_string()),
            });
        }
        let nodes = self
            .docker
            .list_nodes(None::<ListNodesOptions>)
            .await
            .context(|| "listing the swarm's nodes".into())?;
        let mut out: Vec<SwarmNode> = nodes
            .into_iter()
            .map(|n| {
                let status = n.status.unwrap_or_default();
                let spec = n.spec.unwrap_or_default();
                let manager = n.manager_status.clone();
                SwarmNode {
                    id: n.id.unwrap_or_default(),
                    hostname: n
                        .description
                        .as_ref()
                        .and_then(|d| d.hostname.clone())
                        .unwrap_or_default(),
                    addr: manager
                        .as_ref()
                        .and_then(|m| m.addr.as_ref())
                        .and_then(|a| a.rsplit_once(':').map(|(h, _)| h.to_string()))
                        .or(status.addr)
                        .unwrap_or_default(),
                    manager: manager.is_some(),
                    leader: manager.and_then(|m| m.leader).unwrap_or(false),
                    state: status.state.map_or_else(|| "unknown".into(), |s| s.to_string()),
                    availability: spec.availability.map_or_else(|| "active".into(), |a| a.to_string()),
                    engine_version: n.description.and_then(|d| d.engine).and_then(|e| e.engine_version),
                }
            })
            .collect();
        out.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Ok(out)
    }

    /// The engine of a node, reached as the manager is (same scheme, port, certificates or SSH
    /// user) at the node's address; the manager itself is this engine.
    pub async fn node_engine(&self, node: &SwarmNode) -> Result<Engine, EngineError> {
        let info = self
            .docker
            .info()
            .await
            .context(|| "asking the manager which node it is".into())?;
        if info.swarm.and_then(|s| s.node_id).as_deref() == Some(node.id.as_str()) {
            return Ok(self.clone());
        }
        let host = &self.endpoint.host;
        let addr = if node.addr.contains(':') {
            format!("[{}]", node.addr)
        } else {
            node.addr.clone()
        };
        let port = |rest: &str| {
            crate::ssh::host_port(rest.trim_end_matches('/'))
                .ok()
                .and_then(|(_, p)| p)
                .map(|p| format!(":{p}"))
        };
        let replaced = if let Some(rest) = host.strip_prefix("tcp://") {
            format!("tcp://{addr}{}", port(rest).unwrap_or_else(|| ":2376".into()))
        } else if let Some(rest) = host.strip_prefix("ssh://") {
            let (user, hostport) = rest.rsplit_once('@').map_or(("", rest), |(u, h)| (u, h));
            let user = if user.is_empty() {
                String::new()
            } else {
                format!("{user}@")
            };
            format!("ssh://{user}{addr}{}", port(hostport).unwrap_or_default())
        } else {
            return Err(EngineError::Swarm(format!(
                "node {} cannot be reached from here: the manager is reached over {host}, which says nothing of the other nodes. Reach the manager over TCP with TLS or SSH (a docker context), and each node's engine the same way",
                node.hostname
            )));
        };
        Engine::connect_to(&Endpoint {
            name: format!("{}@{}", self.endpoint.name, node.hostname),
            host: replaced,
            description: format!("swarm node {}", node.hostname),
            tls: self.endpoint.tls.clone(),
            current: false,
        })
        .await
    }

    /// Whether the nodes' kernel has IPVS (a service's virtual IP and the ingress routing mesh
    /// need it): `/proc/net/ip_vs` in a short-lived container of `image` on the manager.
    pub async fn swarm_has_ipvs(&self, image: &str) -> bool {
        let script = "if [ -e /proc/net/ip_vs ]; then echo ipvs; else echo none; fi";
        let cmd = vec!["sh".into(), "-c".into(), script.into()];
        match self.run_beside("none", image, cmd).await {
            Ok(Some(out)) => !out.contains("none"),
            // No shell in the image, or no answer: nothing is known, nothing is refused.
            _ => true,
        }
    }

    /// Deploys `project` as a stack named after it (`docker stack deploy` semantics). `local`
    /// is the engine its images are built on and copied from. Nothing changes when a check
    /// fails; every warning is sent before the first change.
    #[tracing::instrument(skip_all, fields(stack = %project.name), err)]
    pub async fn deploy(
        &self,
        project: &Project,
        local: &Engine,
        opts: &UpOptions,
        sink: &Sink,
    ) -> Result<DeploySummary, EngineError> {
        let started = Instant::now();
        let Checked {
            nodes,
            names,
            ids,
            found,
        } = self.checked(project, local, opts, sink).await?;
        let warnings: Vec<String> = found.iter().map(|f| f.problem(project).message).collect();
        for w in &warnings {
            sink.send(Event::Step {
                message: format!("warning: {w}"),
            });
        }
        let ready_nodes: Vec<&SwarmNode> = nodes
            .iter()
            .filter(|n| n.state == "ready" && n.availability == "active")
            .collect();

        // Every image on every node that may run a task.
        let mut copied = BTreeMap::new();
        let mut images: Vec<(String, String)> = names
            .iter()
            .map(|n| (crate::spec::image_ref(project, n, &project.services[n]), ids[n].clone()))
            .collect();
        images.sort();
        images.dedup();
        // Pushed to the registry the environment names, whence the nodes pull them; else
        // loaded on each node that lacks them.
        let pulled = match &opts.registry {
            Some(registry) => push_images(local, registry, &images, sink).await?,
            None => HashMap::new(),
        };
        // The login the nodes pull with, as `docker stack deploy --with-registry-auth` gives it.
        let auth = opts.registry.as_deref().map(crate::endpoint::registry_credentials);
        for node in ready_nodes.iter().filter(|_| opts.registry.is_none()) {
            let engine = self.node_engine(node).await?;
            let mut missing = Vec::new();
            for (image, id) in &images {
                match engine.docker.inspect_image(image).await {
                    Ok(i) if i.id.as_deref() == Some(id.as_str()) => {}
                    Ok(_) => missing.push(image.clone()),
                    Err(e) if is_not_found(&e) => missing.push(image.clone()),
                    Err(e) => {
                        return Err(EngineError::Docker {
                            context: format!("inspecting {image} on node {}", node.hostname),
                            source: e,
                        })
                    }
                }
            }
            if missing.is_empty() {
                continue;
            }
            sink.send(Event::Step {
                message: format!("copying {} to node {}", missing.join(", "), node.hostname),
            });
            copy_images(local, &engine, &missing)
                .await
                .map_err(|e| EngineError::Swarm(format!("copying images to node {}: {e}", node.hostname)))?;
            copied.insert(node.hostname.clone(), missing);
        }

        // A virtual IP or an ingress port needs the nodes' IPVS: asked on the manager (in a
        // container of the stack's first image) only when the files ask for one.
        let needs_ipvs: Vec<Finding> = spec::findings(project, false)
            .into_iter()
            .filter(|f| f.refused && !found.contains(f))
            .collect();
        if let (false, Some((image, _))) = (needs_ipvs.is_empty(), images.first()) {
            // From the registry, the manager has the image only once it has pulled it.
            let image = match pulled.get(image) {
                Some(from_registry) => {
                    let mut pull = self.docker.create_image(
                        Some(bollard::query_parameters::CreateImageOptions {
                            from_image: Some(from_registry.clone()),
                            ..Default::default()
                        }),
                        None,
                        auth.clone(),
                    );
                    while let Some(Ok(_)) = pull.next().await {}
                    from_registry
                }
                None => image,
            };
            if !self.swarm_has_ipvs(image).await {
                return Err(EngineError::Preflight(
                    needs_ipvs.iter().map(|f| f.problem(project)).collect(),
                ));
            }
        }

        // Networks, secrets and configs, then the services.
        for net in project.networks.values() {
            if net.external {
                continue;
            }
            if self.docker.inspect_network(&net.name, None).await.is_ok() {
                continue;
            }
            let mut labels: HashMap<String, String> = net.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            labels.insert(NAMESPACE.into(), project.name.clone());
            self.docker
                .create_network(NetworkCreateRequest {
                    name: net.name.clone(),
                    driver: Some(net.driver.clone().unwrap_or_else(|| "overlay".into())),
                    internal: Some(net.internal),
                    attachable: Some(net.attachable),
                    labels: Some(labels),
                    options: Some(net.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                    ..Default::default()
                })
                .await
                .context(|| format!("creating network {}", net.name))?;
            sink.send(Event::Resource {
                kind: ResourceKind::Network,
                name: net.name.clone(),
                action: ResourceAction::Created,
            });
        }
        let objects = self.ensure_objects(project).await?;

        // Each existing service's version, and its last update as it was before this deploy
        // (an update that ended before is not this deploy's).
        let listed = self
            .docker
            .list_services(Some(ListServicesOptions {
                filters: Some(label_filter(&project.name)),
                ..Default::default()
            }))
            .await
            .context(|| "listing the stack's services".into())?;
        let earlier: HashMap<String, String> = listed
            .iter()
            .filter_map(|s| Some((s.spec.as_ref()?.name.clone()?, update_mark(s.update_status.as_ref()))))
            .collect();
        let existing: HashMap<String, u64> = listed
            .into_iter()
            .filter_map(|s| Some((s.spec?.name?, s.version?.index?)))
            .collect();
        let (mut created, mut updated) = (Vec::new(), Vec::new());
        let from = Instant::now();
        for name in &names {
            let image_id = ids.get(name).map(String::as_str);
            let image = crate::spec::image_ref(project, name, &project.services[name]);
            let pulled = pulled.get(&image).map(String::as_str);
            let spec = spec::service_spec(project, name, image_id, pulled, &objects, opts.env.as_deref()).map_err(
                |message| {
                    EngineError::Preflight(vec![crate::preflight::Problem {
                        service: Some(name.clone()),
                        message,
                    }])
                },
            )?;
            let full = spec::service_name(project, name);
            match existing.get(&full) {
                Some(version) => {
                    self.update_service(&full, spec, *version, auth.clone()).await?;
                    sink.service(name, Phase::Recreated, Some("updated".into()));
                    updated.push(name.clone());
                }
                None => {
                    self.docker
                        .create_service(spec, auth.clone())
                        .await
                        .context(|| format!("creating service {full}"))?;
                    sink.service(name, Phase::Created, None);
                    created.push(name.clone());
                }
            }
        }
        self.converge(project, &names, opts.wait_timeout, sink, from, &earlier)
            .await?;
        Ok(DeploySummary {
            elapsed_ms: started.elapsed().as_millis() as u64,
            copied,
            created,
            updated,
            warnings,
        })
    }

    /// What the swarm would refuse, checked before anything changes: each service's spec, the
    /// external networks, secrets and configs (they must exist), and networks of the stack's
    /// names that exist already (they must be overlay networks of the swarm).
    async fn validate(
        &self,
        project: &Project,
        names: &[String],
        ids: &HashMap<String, String>,
        env: Option<&str>,
    ) -> Result<(), EngineError> {
        let mut problems = Vec::new();
        let mut problem = |service: Option<&str>, message: String| {
            problems.push(crate::preflight::Problem {
                service: service.map(str::to_string),
                message,
            })
        };
        for name in names {
            if let Err(message) =
                spec::service_spec(project, name, ids.get(name).map(String::as_str), None, &Ids::new(), env)
            {
                problem(Some(name), message);
            }
        }
        for (key, net) in &project.networks {
            match self.docker.inspect_network(&net.name, None).await {
                Ok(n) if n.scope.as_deref() != Some("swarm") => problem(
                    None,
                    format!(
                        "networks.{key}: a network {} exists on the manager and is {} (scope {}), not a swarm one: {}",
                        net.name,
                        n.driver.as_deref().unwrap_or("?"),
                        n.scope.as_deref().unwrap_or("?"),
                        if net.external {
                            "name an overlay network".to_string()
                        } else {
                            format!("remove it (`docker network rm {}`) or name another", net.name)
                        }
                    ),
                ),
                Ok(_) => {}
                Err(e) if is_not_found(&e) && net.external => problem(
                    None,
                    format!(
                        "networks.{key}: the external network {} does not exist in the swarm: create it with `docker network create -d overlay {}`",
                        net.name, net.name
                    ),
                ),
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(EngineError::Docker {
                        context: format!("inspecting network {}", net.name),
                        source: e,
                    })
                }
            }
        }
        let (secrets, configs) = self.object_names().await?;
        for (kind, objects, have) in [
            ("secret", &project.secrets, &secrets),
            ("config", &project.configs, &configs),
        ] {
            for (key, obj) in objects.iter().filter(|(_, o)| o.external) {
                if !have.contains_key(&obj.name) {
                    problem(
                        None,
                        format!(
                            "{kind}s.{key}: the external {kind} {} does not exist in the swarm: create it with `docker {kind} create {} FILE`",
                            obj.name, obj.name
                        ),
                    );
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Preflight(problems))
        }
    }

    /// The swarm's secrets and configs: their ids by name.
    async fn object_names(&self) -> Result<(HashMap<String, String>, HashMap<String, String>), EngineError> {
        let secrets = self
            .docker
            .list_secrets(None::<bollard::query_parameters::ListSecretsOptions>)
            .await
            .context(|| "listing secrets".into())?
            .into_iter()
            .filter_map(|s| Some((s.spec?.name?, s.id?)))
            .collect();
        let configs = self
            .docker
            .list_configs(None::<bollard::query_parameters::ListConfigsOptions>)
            .await
            .context(|| "listing configs".into())?
            .into_iter()
            .filter_map(|c| Some((c.spec?.name?, c.id?)))
            .collect();
        Ok((secrets, configs))
    }

    /// The stack's secrets and configs as swarm objects (created when missing; a swarm's are
    /// immutable, so one that exists is used as it is): their ids by name.
    async fn ensure_objects(&self, project: &Project) -> Result<Ids, EngineError> {
        use base64::Engine as _;
        let mut ids = Ids::new();
        let (secrets, configs) = self.object_names().await?;
        let all = project
            .secrets
            .values()
            .map(|o| (o, true))
            .chain(project.configs.values().map(|o| (o, false)));
        for (obj, secret) in all {
            let have = if secret { &secrets } else { &configs };
            let key = spec::object_key(secret, &obj.name);
            if let Some(id) = have.get(&obj.name) {
                ids.insert(key, id.clone());
                continue;
            }
            if obj.external {
                return Err(EngineError::Swarm(format!(
                    "the external {} {} does not exist in the swarm: create it with `docker {} create {} FILE`",
                    if secret { "secret" } else { "config" },
                    obj.name,
                    if secret { "secret" } else { "config" },
                    obj.name
                )));
            }
            let data = match (&obj.file, &obj.content, &obj.environment) {
                (Some(f), _, _) => std::fs::read(f)?,
                (_, Some(c), _) => c.clone().into_bytes(),
                (_, _, Some(var)) => std::env::var(var).unwrap_or_default().into_bytes(),
                _ => Vec::new(),
            };
            let data = Some(base64::engine::general_purpose::STANDARD.encode(data));
            let mut labels: HashMap<String, String> = obj.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            labels.insert(NAMESPACE.into(), project.name.clone());
            let id = if secret {
                self.docker
                    .create_secret(bollard::models::SecretSpec {
                        name: Some(obj.name.clone()),
                        labels: Some(labels),
                        data,
                        ..Default::default()
                    })
                    .await
            } else {
                self.docker
                    .create_config(bollard::models::ConfigSpec {
                        name: Some(obj.name.clone()),
                        labels: Some(labels),
                        data,
                        ..Default::default()
                    })
                    .await
            }
            .context(|| format!("creating {}", obj.name))?
            .id;
            ids.insert(key, id);
        }
        Ok(ids)
    }

    /// What a deploy checks before it changes anything on the swarm: the images, here (built
    /// when they have a build section and are missing or asked for), what the files ask that a
    /// swarm cannot do, each service's spec, its networks, secrets and configs, and a node to
    /// run on. Nothing on the swarm changes.
    pub async fn swarm_preflight(
        &self,
        project: &Project,
        local: &Engine,
        opts: &UpOptions,
        sink: &Sink,
    ) -> Result<(), EngineError> {
        self.checked(project, local, opts, sink).await.map(|_| ())
    }

    async fn checked(
        &self,
        project: &Project,
        local: &Engine,
        opts: &UpOptions,
        sink: &Sink,
    ) -> Result<Checked, EngineError> {
        let nodes = self.swarm_nodes().await?;
        let names: Vec<String> = project.startup_order();
        let ids = local.ensure_images(project, &names, opts, sink).await?;
        // What needs IPVS is checked once the images are on the nodes (in `deploy`).
        let found: Vec<Finding> = spec::findings(project, true);
        let refused: Vec<_> = found.iter().filter(|f| f.refused).map(|f| f.problem(project)).collect();
        if !refused.is_empty() {
            return Err(EngineError::Preflight(refused));
        }
        self.validate(project, &names, &ids, opts.env.as_deref()).await?;
        if !nodes.iter().any(|n| n.state == "ready" && n.availability == "active") {
            return Err(EngineError::Swarm("no node of the swarm is ready and active".into()));
        }
        Ok(Checked {
            nodes,
            names,
            ids,
            found,
        })
    }

    /// Waits until every service runs its desired replicas (a one-shot: until it completed),
    /// each task's change said as it happens; a failed update that the swarm rolled back, or a
    /// service not ready in time, fails with its failing tasks' errors and last log lines.
    async fn converge(
        &self,
        project: &Project,
        names: &[String],
        wait: Option<Duration>,
        sink: &Sink,
        from: Instant,
        earlier: &HashMap<String, String>,
    ) -> Result<(), EngineError> {
        let limit = wait.unwrap_or_else(|| {
            names
                .iter()
                .map(|n| crate::up::default_wait(project, n))
                .max()
                .unwrap_or_default()
                + Duration::from_secs(60)
        });
        let deadline = Instant::now() + limit;
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut ready: BTreeMap<String, bool> = names.iter().map(|n| (n.clone(), false)).collect();
        let nodes: HashMap<String, String> = self
            .swarm_nodes()
            .await?
            .into_iter()
            .map(|n| (n.id, n.hostname))
            .collect();
        loop {
            let tasks = self.stack_tasks_with(project, &nodes).await?;
            for t in &tasks {
                let key = format!("{}|{}", t.id, t.state);
                if seen.insert(t.id.clone(), key.clone()).as_deref() != Some(key.as_str()) && t.desired != "shutdown" {
                    sink.send(Event::Step {
                        message: format!(
                            "{}.{} ({}) on {}: {}{}",
                            t.service,
                            t.slot.map_or_else(|| "*".into(), |s| s.to_string()),
                            t.id.get(..12).unwrap_or(&t.id),
                            t.node.as_deref().unwrap_or("?"),
                            t.state,
                            t.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                        ),
                    });
                }
            }
            let mut failures = Vec::new();
            for name in names {
                let full = spec::service_name(project, name);
                let svc = self
                    .docker
                    .inspect_service(&full, None)
                    .await
                    .context(|| format!("inspecting service {full}"))?;
                let update = svc
                    .update_status
                    .as_ref()
                    .filter(|u| earlier.get(&full) != Some(&update_mark(Some(u))))
                    .and_then(|u| u.state)
                    .map(|s| s.to_string());
                let mine: Vec<&SwarmTask> = tasks.iter().filter(|t| &t.service == name).collect();
                let one_shot = spec::one_shot(&project.services[name]);
                let desired = svc
                    .spec
                    .as_ref()
                    .and_then(|s| s.mode.as_ref())
                    .and_then(|m| m.replicated.as_ref())
                    .and_then(|r| r.replicas)
                    // A global service: one task on each node that may run it.
                    .map_or_else(
                        || {
                            mine.iter()
                                .filter(|t| t.current && t.desired == "running")
                                .count()
                                .max(1)
                        },
                        |r| r as usize,
                    );
                let running = mine
                    .iter()
                    .filter(|t| t.current && t.desired == "running" && t.state == "running")
                    .count();
                let ok = (one_shot && mine.iter().any(|t| t.current && t.state == "complete"))
                    || (running >= desired && !matches!(update.as_deref(), Some("updating" | "rollback_started")));
                if matches!(
                    update.as_deref(),
                    Some("rollback_completed" | "paused" | "rollback_paused")
                ) {
                    let message = svc.update_status.and_then(|u| u.message).unwrap_or_default();
                    failures.push(
                        self.task_failure(
                            name,
                            &mine,
                            &format!(
                                "the update failed and was {}: {message}",
                                if update.as_deref() == Some("paused") {
                                    "paused"
                                } else {
                                    "rolled back"
                                }
                            ),
                        )
                        .await,
                    );
                    continue;
                }
                if ok && !ready[name] {
                    ready.insert(name.clone(), true);
                    sink.service(name, Phase::Ready, Some(format!("{} ms", from.elapsed().as_millis())));
                }
                if !ok && Instant::now() > deadline {
                    failures.push(
                        self.task_failure(name, &mine, &format!("not ready within {} s", limit.as_secs()))
                            .await,
                    );
                }
            }
            if !failures.is_empty() {
                for f in &failures {
                    sink.send(Event::Failure(f.clone()));
                }
                return Err(EngineError::Failed(failures));
            }
            if ready.values().all(|r| *r) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A failed service's report: its failing task's error and its service's last log lines.
    async fn task_failure(&self, service: &str, tasks: &[&SwarmTask], reason: &str) -> FailureReport {
        let failing = tasks.iter().find(|t| t.error.is_some()).or_else(|| tasks.first());
        let error = failing.and_then(|t| t.error.clone().or(t.message.clone()));
        let mut logs = Vec::new();
        if let Some(t) = failing {
            let mut stream = self.docker.task_logs(
                &t.id,
                Some(bollard::query_parameters::LogsOptions {
                    stdout: true,
                    stderr: true,
                    tail: "20".into(),
                    ..Default::default()
                }),
            );
            let read = async {
                while let Some(Ok(chunk)) = stream.next().await {
                    logs.extend(chunk.to_string().lines().map(str::to_string));
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
        }
        FailureReport {
            service: service.to_string(),
            reason: match error {
                Some(e) => format!("{reason}; task {}: {e}", failing.map_or("?", |t| t.id.as_str())),
                None => reason.to_string(),
            },
            health_output: Vec::new(),
            logs,
        }
    }

    /// The replicas a replicated service of the stack is set to now; `None` for a global
    /// service. Fails when the stack has no such service on the swarm (it is not deployed).
    pub async fn service_replicas(&self, project: &Project, service: &str) -> Result<Option<u64>, EngineError> {
        let full = spec::service_name(project, service);
        match self.docker.inspect_service(&full, None).await {
            Ok(s) => Ok(s
                .spec
                .and_then(|s| s.mode)
                .and_then(|m| m.replicated)
                .map(|r| r.replicas.unwrap_or(1).max(0) as u64)),
            Err(e) if is_not_found(&e) => Err(EngineError::Swarm(format!(
                "stack {} has no service {full} on the swarm: deploy it first (`sirius-deck up`)",
                project.name
            ))),
            Err(e) => Err(EngineError::Docker {
                context: format!("inspecting service {full}"),
                source: e,
            }),
        }
    }

    /// The image a service of the stack runs on the swarm, as its tasks were given it (a
    /// registry's, pinned to a digest, when pushed to one); none when it is not deployed.
    pub async fn service_image(&self, project: &Project, service: &str) -> Option<String> {
        let full = spec::service_name(project, service);
        self.docker
            .inspect_service(&full, None)
            .await
            .ok()?
            .spec?
            .task_template?
            .container_spec?
            .image
    }

    /// Replaces a service's spec (`version`: the one it was read at).
    /// `auth`: the registry login the nodes pull with (the swarm keeps the one given before
    /// when none is).
    async fn update_service(
        &self,
        full: &str,
        spec: bollard::models::ServiceSpec,
        version: u64,
        auth: Option<bollard::auth::DockerCredentials>,
    ) -> Result<(), EngineError> {
        self.docker
            .update_service(
                full,
                spec,
                bollard::query_parameters::UpdateServiceOptions {
                    version: version as i32,
                    ..Default::default()
                },
                auth,
            )
            .await
            .context(|| format!("updating service {full}"))?;
        Ok(())
    }

    /// Sets replicated services of the stack to the given replicas and waits: a service set
    /// to 0 until none of its tasks runs, the others until they run as a deploy waits for them
    /// (healthy). A global service cannot be scaled, and fails before anything changes.
    pub async fn scale(&self, project: &Project, wanted: &[(String, u64)], sink: &Sink) -> Result<(), EngineError> {
        let from = Instant::now();
        let mut earlier = HashMap::new();
        let mut specs = Vec::new();
        for (name, replicas) in wanted {
            let full = spec::service_name(project, name);
            let svc = self
                .docker
                .inspect_service(&full, None)
                .await
                .context(|| format!("inspecting service {full}"))?;
            let mut spec = svc.spec.clone().unwrap_or_default();
            let Some(replicated) = spec.mode.as_mut().and_then(|m| m.replicated.as_mut()) else {
                return Err(EngineError::Swarm(format!(
                    "{name} is a global service (a task on every node): it cannot be stopped by scaling it to 0. Back up its volume with `consistency = \"pause\"` or `\"live\"`"
                )));
            };
            if replicated.replicas == Some(*replicas as i64) {
                continue;
            }
            replicated.replicas = Some(*replicas as i64);
            earlier.insert(full.clone(), update_mark(svc.update_status.as_ref()));
            let version = svc.version.and_then(|v| v.index).unwrap_or_default();
            specs.push((name.clone(), full, spec, version, *replicas));
        }
        for (name, full, spec, version, replicas) in &specs {
            self.update_service(full, spec.clone(), *version, None).await?;
            let phase = if *replicas == 0 {
                Phase::Stopping
            } else {
                Phase::Starting
            };
            sink.service(name, phase, Some(format!("{replicas} replicas")));
        }
        let (stopped, started): (Vec<_>, Vec<_>) = specs.into_iter().partition(|s| s.4 == 0);
        let stopped: Vec<String> = stopped.into_iter().map(|s| s.0).collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        // A node that is down says nothing more of its tasks: they do not count.
        let ready: Vec<String> = self
            .swarm_nodes()
            .await?
            .into_iter()
            .filter(|n| n.state == "ready")
            .map(|n| n.hostname)
            .collect();
        while !stopped.is_empty() {
            let tasks = self.stack_tasks(project).await?;
            let left: Vec<&SwarmTask> = tasks
                .iter()
                .filter(|t| stopped.contains(&t.service) && (t.state == "running" || t.desired == "running"))
                .filter(|t| t.node.as_ref().is_none_or(|n| ready.contains(n)))
                .collect();
            if left.is_empty() {
                for s in &stopped {
                    sink.service(s, Phase::Stopped, None);
                }
                break;
            }
            if Instant::now() > deadline {
                return Err(EngineError::Swarm(format!(
                    "{} did not stop within 120 s (task {} on {})",
                    left[0].service,
                    left[0].id,
                    left[0].node.as_deref().unwrap_or("?")
                )));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let started: Vec<String> = started.into_iter().map(|s| s.0).collect();
        if !started.is_empty() {
            self.converge(project, &started, None, sink, from, &earlier).await?;
        }
        Ok(())
    }

    /// The proof of what each task runs, as `drift` gives it for containers: every task meant
    /// to run (a one-shot's that completed) runs the current spec, the image that `local`
    /// has under the reference its files name (built here and copied to the nodes), from the
    /// build target its environment asks for, created for `env`; and each replicated service
    /// runs as many tasks as asked.
    pub async fn swarm_drift(
        &self,
        project: &Project,
        local: &Engine,
        env: Option<&str>,
    ) -> Result<Vec<crate::ServiceDrift>, EngineError> {
        use crate::drift::{found, judge};
        use crate::{ServiceDrift, Verdict};
        let nodes = self.swarm_nodes().await?;
        let mut engines: HashMap<String, Engine> = HashMap::new();
        let tasks = self.stack_tasks(project).await?;
        let mut out = Vec::new();
        for (name, svc) in &project.services {
            let one_shot = spec::one_shot(svc);
            let mine: Vec<&SwarmTask> = tasks
                .iter()
                .filter(|t| &t.service == name && t.current)
                .filter(|t| t.desired == "running" || (one_shot && t.state == "complete"))
                .collect();
            if mine.is_empty() {
                out.push(ServiceDrift::new(name, Verdict::Absent, vec![], None));
                continue;
            }
            let wanted = crate::image_ref(project, name, svc);
            let want_id = local
                .docker
                .inspect_image(&wanted)
                .await
                .ok()
                .and_then(|i| i.id)
                .unwrap_or_default();
            let mut findings = Vec::new();
            for t in &mine {
                let at = format!(
                    "task {}.{} on {}",
                    name,
                    t.slot.map_or_else(|| "*".into(), |s| s.to_string()),
                    t.node.as_deref().unwrap_or("?")
                );
                let (Some(node), Some(container)) = (
                    nodes.iter().find(|n| Some(&n.hostname) == t.node.as_ref()),
                    t.container.as_deref(),
                ) else {
                    findings.push(found("image", None, format!("{at}: no container yet")));
                    continue;
                };
                if !engines.contains_key(&node.hostname) {
                    engines.insert(node.hostname.clone(), self.node_engine(node).await?);
                }
                let engine = &engines[&node.hostname];
                let c = engine
                    .docker
                    .inspect_container(container, None)
                    .await
                    .context(|| format!("inspecting the container of {at}"))?;
                let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
                let runs = c.image.unwrap_or_default();
                findings.push(if runs == want_id {
                    found(
                        "image",
                        Some(true),
                        format!("{at}: runs {wanted} ({})", crate::up::short_id(&runs)),
                    )
                } else {
                    found(
                        "image",
                        Some(false),
                        format!(
                            "{at}: runs image {}, but {wanted} is {} here",
                            crate::up::short_id(&runs),
                            crate::up::short_id(&want_id)
                        ),
                    )
                });
                if let Some(target) = svc.build.as_ref().and_then(|b| b.target.as_ref()) {
                    findings.push(match engine.image_target(&runs).await {
                        Some(got) if &got == target => {
                            found("target", Some(true), format!("{at}: built from target {got}"))
                        }
                        Some(got) => found(
                            "target",
                            Some(false),
                            format!("{at}: its image was built from target {got}, the environment asks for {target}"),
                        ),
                        None => found(
                            "target",
                            None,
                            format!(
                                "{at}: its image has no build-target label: cannot prove it comes from target {target}"
                            ),
                        ),
                    });
                }
                if let Some(env) = env {
                    findings.push(match labels.get(crate::labels::ENV_LABEL) {
                        Some(e) if e == env => found("env", Some(true), format!("{at}: created for {e}")),
                        Some(e) => found("env", Some(false), format!("{at}: created for {e}, not {env}")),
                        None => found("env", None, format!("{at}: no environment recorded")),
                    });
                }
            }
            if !one_shot && !spec::global(svc) {
                let (have, want) = (
                    mine.iter().filter(|t| t.state == "running").count(),
                    svc.replicas() as usize,
                );
                findings.push(found(
                    "replicas",
                    Some(have == want),
                    format!("{have} of {want} replicas running"),
                ));
            }
            let (verdict, fix) = judge(&findings, svc.build.is_some());
            out.push(ServiceDrift::new(name, verdict, findings, fix));
        }
        Ok(out)
    }

    /// The stack's tasks (every service, newest first per slot), with node hostnames.
    pub async fn stack_tasks(&self, project: &Project) -> Result<Vec<SwarmTask>, EngineError> {
        let nodes: HashMap<String, String> = self
            .swarm_nodes()
            .await?
            .into_iter()
            .map(|n| (n.id, n.hostname))
            .collect();
        self.stack_tasks_with(project, &nodes).await
    }

    async fn stack_tasks_with(
        &self,
        project: &Project,
        nodes: &HashMap<String, String>,
    ) -> Result<Vec<SwarmTask>, EngineError> {
        // Each service's short name and the hash of its task template now.
        let services: HashMap<String, (String, Option<String>)> = self
            .docker
            .list_services(Some(ListServicesOptions {
                filters: Some(label_filter(&project.name)),
                ..Default::default()
            }))
            .await
            .context(|| "listing the stack's services".into())?
            .into_iter()
            .filter_map(|s| {
                let spec = s.spec?;
                let short = spec.name?.strip_prefix(&format!("{}_", project.name))?.to_string();
                Some((s.id?, (short, template_hash(spec.task_template.as_ref()))))
            })
            .collect();
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let tasks = self
            .docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(HashMap::from([(
                    "service".to_string(),
                    services.keys().cloned().collect(),
                )])),
            }))
            .await
            .context(|| "listing the stack's tasks".into())?;
        let mut out: Vec<(String, SwarmTask)> = tasks
            .into_iter()
            .filter_map(|t| {
                let (service, wanted) = services.get(t.service_id.as_ref()?)?.clone();
                let status = t.status.unwrap_or_default();
                // A task runs a copy of its service's task template as it was then.
                let current = template_hash(t.spec.as_ref()) == wanted;
                let runs = t.spec.and_then(|s| s.container_spec);
                let stamp = t.updated_at.map(|d| d.to_string()).unwrap_or_default();
                let id = t.id.unwrap_or_default();
                let node = t
                    .node_id
                    .as_ref()
                    .map(|n| nodes.get(n).cloned().unwrap_or_else(|| n.clone()));
                Some((
                    stamp,
                    SwarmTask {
                        name: usage::task_name(&service, t.slot, node.as_deref(), &id),
                        id,
                        service,
                        slot: t.slot,
                        node,
                        state: state_word(status.state),
                        desired: state_word(t.desired_state),
                        message: status.message,
                        error: status.err,
                        current,
                        image: runs.and_then(|c| c.image),
                        container: status.container_status.and_then(|c| c.container_id),
                    },
                ))
            })
            .collect();
        out.sort_by(|a, b| (&a.1.service, a.1.slot, &b.0).cmp(&(&b.1.service, b.1.slot, &a.0)));
        Ok(out.into_iter().map(|(_, t)| t).collect())
    }

    /// Removes the stack as `docker stack rm` does (services, then networks, secrets and
    /// configs; volumes stay on their nodes), waiting until its tasks are gone.
    pub async fn remove_stack(&self, project: &Project, sink: &Sink) -> Result<(), EngineError> {
        let filters = || Some(label_filter(&project.name));
        let services = self
            .docker
            .list_services(Some(ListServicesOptions {
                filters: filters(),
                ..Default::default()
            }))
            .await
            .context(|| "listing the stack's services".into())?;
        for s in &services {
            let Some(name) = s.spec.as_ref().and_then(|s| s.name.clone()) else {
                continue;
            };
            self.docker
                .delete_service(&name)
                .await
                .context(|| format!("removing service {name}"))?;
            let short = name.strip_prefix(&format!("{}_", project.name)).unwrap_or(&name);
            sink.service(short, Phase::Removed, None);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let left = self
                .docker
                .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                    all: true,
                    filters: filters(),
                    ..Default::default()
                }))
                .await
                .map(|l| l.len())
                .unwrap_or(0);
            // The tasks of the services just removed, on every node that is up (by the stack's
            // label; a node that is down says nothing more of its own).
            let up: Vec<String> = self
                .swarm_nodes()
                .await
                .map(|n| n.into_iter().filter(|n| n.state == "ready").map(|n| n.id).collect())
                .unwrap_or_default();
            let tasks = self
                .docker
                .list_tasks(Some(ListTasksOptions { filters: filters() }))
                .await
                .map(|t| {
                    t.iter()
                        .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
                        .filter(|t| t.node_id.as_ref().is_some_and(|n| up.contains(n)))
                        .count()
                })
                .unwrap_or(0);
            if left == 0 && tasks == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let networks = self
            .docker
            .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
                filters: filters(),
            }))
            .await
            .context(|| "listing the stack's networks".into())?;
        for n in networks {
            let Some(name) = n.name else { continue };
            // A network's endpoints on other nodes go a moment after their tasks.
            for attempt in 0..20 {
                match self.docker.remove_network(&name).await {
                    Ok(()) => break,
                    Err(e) if is_not_found(&e) => break,
                    Err(_) if attempt < 19 => tokio::time::sleep(Duration::from_millis(500)).await,
                    Err(e) => {
                        return Err(EngineError::Docker {
                            context: format!("removing network {name}"),
                            source: e,
                        })
                    }
                }
            }
            sink.send(Event::Resource {
                kind: ResourceKind::Network,
                name,
                action: ResourceAction::Removed,
            });
        }
        for s in self
            .docker
            .list_secrets(Some(bollard::query_parameters::ListSecretsOptions {
                filters: filters(),
            }))
            .await
            .context(|| "listing the stack's secrets".into())?
        {
            if let Some(id) = s.id {
                self.docker
                    .delete_secret(&id)
                    .await
                    .context(|| format!("removing secret {id}"))?;
            }
        }
        for c in self
            .docker
            .list_configs(Some(bollard::query_parameters::ListConfigsOptions {
                filters: filters(),
            }))
            .await
            .context(|| "listing the stack's configs".into())?
        {
            if let Some(id) = c.id {
                self.docker
                    .delete_config(&id)
                    .await
                    .context(|| format!("removing config {id}"))?;
            }
        }
        Ok(())
    }
}

/// Pushes each of `images` from the engine that built it to `registry` (tagged there under the
/// registry's name, with the credentials the docker CLI keeps for it), and returns by image
/// the reference the nodes pull it by: the registry's, pinned to the digest pushed.
async fn push_images(
    local: &Engine,
    registry: &str,
    images: &[(String, String)],
    sink: &Sink,
) -> Result<HashMap<String, String>, EngineError> {
    let credentials = crate::endpoint::registry_credentials(registry);
    let host = registry.split('/').next().unwrap_or(registry);
    let mut out = HashMap::new();
    for (image, _) in images {
        let (repo, tag) = spec::registry_ref(registry, image);
        let target = format!("{repo}:{tag}");
        local
            .docker
            .tag_image(
                image,
                Some(bollard::query_parameters::TagImageOptions {
                    repo: Some(repo.clone()),
                    tag: Some(tag.clone()),
                }),
            )
            .await
            .context(|| format!("tagging {image} as {target}"))?;
        sink.send(Event::Step {
            message: format!("pushing {image} to {registry}"),
        });
        let refused = |e: String| {
            EngineError::Swarm(format!(
                "pushing {image} to the registry {registry}: {e}. The swarm's nodes pull the stack's images from it: check that this machine's engine reaches it and trusts it (for a registry with its own CA: /etc/docker/certs.d/{host}/ca.crt), and that the docker CLI is logged in to it when it asks for a login (docker login {host})"
            ))
        };
        let mut push = local.docker.push_image(
            &repo,
            Some(bollard::query_parameters::PushImageOptions {
                tag: Some(tag.clone()),
                ..Default::default()
            }),
            Some(credentials.clone()),
        );
        // The registry's digest of what was pushed, from the push's last status
        // (`TAG: digest: sha256:… size: N`).
        let mut digest = None;
        while let Some(step) = push.next().await {
            let step = step.map_err(|e| refused(e.to_string()))?;
            if let Some(e) = step.error_detail.and_then(|d| d.message) {
                return Err(refused(e));
            }
            if let Some(d) = step.status.as_deref().and_then(|s| s.split_once("digest: ")) {
                digest = d.1.split_whitespace().next().map(str::to_string);
            }
        }
        let digest = digest.ok_or_else(|| refused("the registry gave no digest".into()))?;
        out.insert(image.clone(), format!("{target}@{digest}"));
    }
    Ok(out)
}

/// Copies images from one engine to another (`docker save | docker load`, streamed).
async fn copy_images(from: &Engine, to: &Engine, images: &[String]) -> Result<(), String> {
    let names: Vec<&str> = images.iter().map(String::as_str).collect();
    let saved = from.docker.export_images(&names);
    let mut loaded = to.docker.import_image_stream(
        bollard::query_parameters::ImportImageOptions {
            quiet: true,
            ..Default::default()
        },
        saved,
        None,
    );
    while let Some(r) = loaded.next().await {
        let info = r.map_err(|e| e.to_string())?;
        if let Some(e) = info.error_detail.and_then(|d| d.message) {
            return Err(e);
        }
    }
    Ok(())
}
