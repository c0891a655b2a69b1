//! `up`: networks, volumes, images, then every container in dependency order, independent
//! services in parallel, each waited for as its dependents ask (started, healthy, completed).

use crate::build::{build_image, BuildRequest};
use crate::event::{Event, FailureReport, Phase, ResourceAction, ResourceKind, Sink};
use crate::labels::{self, CONFIG_HASH, NETWORK, SERVICE, VOLUME};
use crate::readiness::{self, Via};
use crate::spec::{self, image_ref};
use crate::{is_not_found, preflight, Context, Engine, EngineError};
use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{CreateContainerOptions, ListContainersOptions};
use bollard::Docker;
use deck_compose::{Condition, Project};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// Build images even when they exist.
    pub build: bool,
    /// Build without the layer cache.
    pub no_cache: bool,
    /// The stack environment (dev, prod) recorded on containers and images.
    pub env: Option<String>,
    /// How long to wait for each service to be ready; by default from its health check.
    pub wait_timeout: Option<Duration>,
    /// Remove containers of the project whose service is no longer in the files.
    pub remove_orphans: bool,
    /// Only these services (and what they depend on); empty: all.
    pub services: Vec<String>,
    /// Create containers, networks and volumes (in dependency order) but start nothing, as
    /// `docker compose create`.
    pub no_start: bool,
    /// Start the containers there are as they are, even when their configuration changed
    /// (`docker compose up --no-recreate`): what a backup stopped runs again unchanged.
    pub no_recreate: bool,
    /// On a swarm: the registry (`host[:port]`) the images are pushed to and the nodes pull
    /// from; none: they are loaded on each node.
    pub registry: Option<String>,
}

#[derive(Clone, Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct UpSummary {
    #[ts(type = "number")]
    pub elapsed_ms: u64,
    /// The last phase of each service.
    pub services: BTreeMap<String, Phase>,
    pub orphans: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Pending,
    Started,
    Ready,
    Failed,
}

/// The selected services and everything they depend on.
fn closure(project: &Project, selected: &[String]) -> Vec<String> {
    if selected.is_empty() {
        return project.startup_order();
    }
    let mut keep = BTreeSet::new();
    let mut todo: Vec<String> = selected.to_vec();
    while let Some(s) = todo.pop() {
        if let Some(svc) = project.services.get(&s) {
            if keep.insert(s.clone()) {
                todo.extend(svc.depends_on.keys().cloned());
            }
        }
    }
    project
        .startup_order()
        .into_iter()
        .filter(|s| keep.contains(s))
        .collect()
}

/// How long a service may take to become ready when the user did not say: as long as Docker
/// would take to call it unhealthy (start period, then `retries` checks of interval + timeout).
pub(crate) fn default_wait(project: &Project, name: &str) -> Duration {
    let hc = project.services.get(name).and_then(|s| s.healthcheck.as_ref());
    match hc {
        Some(h) if !h.is_disabled() => {
            let interval = h.interval.unwrap_or(Duration::from_secs(30));
            let timeout = h.timeout.unwrap_or(Duration::from_secs(30));
            let retries = h.retries.unwrap_or(3) as u32;
            (h.start_period.unwrap_or_default() + (interval + timeout) * retries.max(1)).max(Duration::from_secs(5))
        }
        _ => Duration::from_secs(300),
    }
}

impl Engine {
    /// Brings the project up and returns when every service is ready, or fails with a report
    /// of each service that failed. Nothing is changed when a preflight check fails.
    #[tracing::instrument(skip_all, fields(project = %project.name), err)]
    pub async fn up(&self, project: &Project, opts: &UpOptions, sink: &Sink) -> Result<UpSummary, EngineError> {
        let sink = sink.clone();
        let started = Instant::now();
        let docker = &self.docker;
        let services = closure(project, &opts.services);

        let remote = self.endpoint.is_remote();
        let problems = preflight::check(docker, project, &services, false, remote).await?;
        if !problems.is_empty() {
            return Err(EngineError::Preflight(problems));
        }
        if remote {
            for w in preflight::remote_warnings(project, &services) {
                sink.send(Event::Step {
                    message: format!("warning: {w}"),
                });
            }
        }

        self.ensure_networks(project, &services, &sink).await?;
        self.ensure_volumes(project, &services, &sink).await?;
        let image_ids = self.ensure_images(project, &services, opts, &sink).await?;
        let orphans = self.orphans(project, opts.remove_orphans, &sink).await?;

        // One task per service; each waits on the state of what it depends on.
        let project = Arc::new(project.clone());
        let selected: BTreeSet<String> = services.iter().cloned().collect();
        // Only services that a selected one waits on to complete count as one-shots here.
        let one_shots: BTreeSet<String> = project
            .services
            .iter()
            .filter(|(n, _)| selected.contains(*n))
            .flat_map(|(_, s)| s.depends_on.iter())
            .filter(|(_, d)| d.condition == Condition::ServiceCompletedSuccessfully)
            .map(|(n, _)| n.clone())
            .collect();
        let mut senders = HashMap::new();
        let mut receivers = HashMap::new();
        for s in &services {
            let (tx, rx) = watch::channel(State::Pending);
            senders.insert(s.clone(), tx);
            receivers.insert(s.clone(), rx);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for name in &services {
            let deps: Vec<(String, Condition, bool, watch::Receiver<State>)> = project.services[name]
                .depends_on
                .iter()
                .filter_map(|(d, dep)| {
                    receivers
                        .get(d)
                        .map(|rx| (d.clone(), dep.condition, dep.required, rx.clone()))
                })
                .collect();
            let job = ServiceJob {
                docker: docker.clone(),
                project: project.clone(),
                name: name.clone(),
                image_id: image_ids.get(name).cloned().unwrap_or_default(),
                one_shot: one_shots.contains(name),
                no_start: opts.no_start,
                no_recreate: opts.no_recreate,
                env: opts.env.clone(),
                deadline_after: opts.wait_timeout.unwrap_or_else(|| default_wait(&project, name)),
                sink: sink.clone(),
                state: senders.remove(name).unwrap_or_else(|| watch::channel(State::Pending).0),
            };
            tasks.spawn(async move {
                let name = job.name.clone();
                let result = job.run(deps).await;
                (name, result)
            });
        }
        let mut failures = Vec::new();
        let mut phases = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((name, Ok(phase))) => {
                    phases.insert(name, phase);
                }
                Ok((name, Err(report))) => {
                    phases.insert(name, Phase::Failed);
                    if let Some(r) = report {
                        failures.push(r);
                    }
                }
                Err(e) => failures.push(FailureReport {
                    service: "?".into(),
                    reason: format!("internal error: {e}"),
                    health_output: vec![],
                    logs: vec![],
                }),
            }
        }
        if !failures.is_empty() {
            failures.sort_by(|a, b| a.service.cmp(&b.service));
            return Err(EngineError::Failed(failures));
        }
        Ok(UpSummary {
            elapsed_ms: started.elapsed().as_millis() as u64,
            services: phases,
            orphans,
        })
    }

    async fn ensure_networks(&self, project: &Project, services: &[String], sink: &Sink) -> Result<(), EngineError> {
        let used: BTreeSet<&String> = services
            .iter()
            .filter_map(|s| project.services.get(s))
            .flat_map(|s| s.networks.keys())
            .collect();
        for key in used {
            let Some(net) = project.networks.get(key) else { continue };
            if net.external {
                continue;
            }
            match self.docker.inspect_network(&net.name, None).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {
                    let labels = labels::resource_labels(NETWORK, key, &project.name, &net.labels);
                    let req = NetworkCreateRequest {
                        name: net.name.clone(),
                        driver: Some(net.driver.clone().unwrap_or_else(|| "bridge".into())),
                        internal: Some(net.internal),
                        attachable: Some(net.attachable),
                        options: Some(net.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                        labels: Some(labels),
                        ipam: Some(spec::ipam(&net.ipam)),
                        enable_ipv6: net.extra.get("enable_ipv6").and_then(|v| v.as_bool()),
                        enable_ipv4: net.extra.get("enable_ipv4").and_then(|v| v.as_bool()),
                        ..Default::default()
                    };
                    self.docker
                        .create_network(req)
                        .await
                        .context(|| format!("creating network {}", net.name))?;
                    sink.resource(ResourceKind::Network, &net.name, ResourceAction::Created);
                }
                Err(e) => {
                    return Err(EngineError::Docker {
                        context: format!("inspecting network {}", net.name),
                        source: e,
                    })
                }
            }
        }
        Ok(())
    }

    /// Every problem that would stop the whole project from coming up, checked without changing
    /// anything. With `replacing`, what this project's own containers hold counts as free.
    pub async fn preflight(&self, project: &Project, replacing: bool) -> Result<Vec<preflight::Problem>, EngineError> {
        preflight::check(
            &self.docker,
            project,
            &project.startup_order(),
            replacing,
            self.endpoint.is_remote(),
        )
        .await
    }

    /// Creates the named volumes that the given services mount and that do not exist yet.
    pub async fn create_volumes(&self, project: &Project, services: &[String]) -> Result<(), EngineError> {
        self.ensure_volumes(project, services, &Sink::none()).await
    }

    async fn ensure_volumes(&self, project: &Project, services: &[String], sink: &Sink) -> Result<(), EngineError> {
        let used: BTreeSet<&String> = services
            .iter()
            .filter_map(|s| project.services.get(s))
            .flat_map(|s| s.volumes.iter())
            .filter(|m| m.kind == deck_compose::MountType::Volume)
            .filter_map(|m| m.source.as_ref())
            .collect();
        for key in used {
            let Some(vol) = project.volumes.get(key) else { continue };
            if vol.external {
                continue;
            }
            match self.docker.inspect_volume(&vol.name).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {
                    let labels = labels::resource_labels(VOLUME, key, &project.name, &vol.labels);
                    let req = VolumeCreateRequest {
                        name: Some(vol.name.clone()),
                        driver: Some(vol.driver.clone().unwrap_or_else(|| "local".into())),
                        driver_opts: Some(vol.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                        labels: Some(labels),
                        ..Default::default()
                    };
                    self.docker
                        .create_volume(req)
                        .await
                        .context(|| format!("creating volume {}", vol.name))?;
                    sink.resource(ResourceKind::Volume, &vol.name, ResourceAction::Created);
                }
                Err(e) => {
                    return Err(EngineError::Docker {
                        context: format!("inspecting volume {}", vol.name),
                        source: e,
                    })
                }
            }
        }
        Ok(())
    }

    /// Builds the images of the given services (all with a build section when empty).
    pub async fn build(
        &self,
        project: &Project,
        services: &[String],
        opts: &UpOptions,
        sink: &Sink,
    ) -> Result<(), EngineError> {
        // Exactly the services named (as `docker compose build` does), not what they depend on.
        let named = if services.is_empty() {
            project.startup_order()
        } else {
            services.to_vec()
        };
        let services: Vec<String> = named
            .into_iter()
            .filter(|s| project.services.get(s).is_some_and(|x| x.build.is_some()))
            .collect();
        let opts = UpOptions {
            build: true,
            ..opts.clone()
        };
        self.ensure_images(project, &services, &opts, sink).await.map(|_| ())
    }

    /// Builds what must be built (missing, or asked for), one image at a time; the id of
    /// every service's image.
    pub(crate) async fn ensure_images(
        &self,
        project: &Project,
        services: &[String],
        opts: &UpOptions,
        sink: &Sink,
    ) -> Result<HashMap<String, String>, EngineError> {
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut by_image: HashMap<String, String> = HashMap::new();
        // Builders first, so that services that only name a built image find it.
        let mut ordered: Vec<&String> = services.iter().collect();
        ordered.sort_by_key(|s| project.services[*s].build.is_none());
        for name in ordered {
            let svc = &project.services[name];
            let image = image_ref(project, name, svc);
            if let Some(id) = by_image.get(&image) {
                ids.insert(name.clone(), id.clone());
                continue;
            }
            let existing = match self.docker.inspect_image(&image).await {
                Ok(i) => i.id,
                Err(e) if is_not_found(&e) => None,
                Err(e) => {
                    return Err(EngineError::Docker {
                        context: format!("inspecting image {image}"),
                        source: e,
                    })
                }
            };
            let id = match (&svc.build, existing) {
                (Some(build), existing) if opts.build || opts.no_cache || existing.is_none() => {
                    sink.service(name, Phase::Building, Some(image.clone()));
                    let req = BuildRequest {
                        service: name,
                        project: &project.name,
                        image: &image,
                        build,
                        env: opts.env.as_deref(),
                        no_cache: opts.no_cache,
                    };
                    let id = build_image(&self.docker, req, sink).await?;
                    sink.service(name, Phase::Built, Some(short_id(&id)));
                    id
                }
                (_, Some(id)) => id,
                (_, None) => {
                    return Err(EngineError::Preflight(vec![preflight::Problem {
                        service: Some(name.clone()),
                        message: format!("image {image} is not on this machine"),
                    }]))
                }
            };
            by_image.insert(image, id.clone());
            ids.insert(name.clone(), id);
        }
        Ok(ids)
    }

    async fn orphans(&self, project: &Project, remove: bool, sink: &Sink) -> Result<Vec<String>, EngineError> {
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(labels::project_filter(&project.name)),
                ..Default::default()
            }))
            .await
            .context(|| "listing the project's containers".into())?;
        let mut orphans = Vec::new();
        for c in list {
            let labels = c.labels.unwrap_or_default();
            let Some(service) = labels.get(SERVICE) else { continue };
            if project.services.contains_key(service) || project.disabled_services.contains_key(service) {
                continue;
            }
            let name = c
                .names
                .and_then(|n| n.first().cloned())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string();
            if remove {
                let id = c.id.unwrap_or_default();
                crate::remove_container(&self.docker, &id)
                    .await
                    .context(|| format!("removing orphan container {name}"))?;
                sink.service(service, Phase::Removed, Some(format!("orphan container {name}")));
            } else {
                sink.service(
                    service,
                    Phase::Orphan,
                    Some(format!(
                        "container {name} is not in the compose files; --remove-orphans removes it"
                    )),
                );
            }
            orphans.push(name);
        }
        Ok(orphans)
    }
}

pub(crate) fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

struct ServiceJob {
    docker: Docker,
    project: Arc<Project>,
    name: String,
    image_id: String,
    one_shot: bool,
    no_start: bool,
    no_recreate: bool,
    env: Option<String>,
    deadline_after: Duration,
    sink: Sink,
    state: watch::Sender<State>,
}

impl ServiceJob {
    /// The final phase, or the failure (`None`: skipped because of another failure).
    async fn run(
        self,
        deps: Vec<(String, Condition, bool, watch::Receiver<State>)>,
    ) -> Result<Phase, Option<FailureReport>> {
        let result = self.run_inner(deps).await;
        if let Err(Some(r)) = &result {
            self.sink.send(Event::Failure(r.clone()));
            self.sink.service(&self.name, Phase::Failed, Some(r.reason.clone()));
        }
        self.state
            .send_replace(if result.is_ok() { State::Ready } else { State::Failed });
        result
    }

    async fn run_inner(
        &self,
        deps: Vec<(String, Condition, bool, watch::Receiver<State>)>,
    ) -> Result<Phase, Option<FailureReport>> {
        let name = &self.name;
        for (dep, condition, required, mut rx) in deps {
            let no_start = self.no_start;
            let wanted = |s: &State| match condition {
                _ if no_start => *s == State::Ready, // created is all there is
                Condition::ServiceStarted => matches!(s, State::Started | State::Ready),
                _ => *s == State::Ready,
            };
            let reached = rx.wait_for(|s| *s == State::Failed || wanted(s)).await.map(|s| *s);
            if !matches!(reached, Ok(s) if wanted(&s)) && required {
                self.sink.service(name, Phase::Skipped, Some(format!("{dep} failed")));
                return Err(None);
            }
        }
        let fail = |reason: String| FailureReport {
            service: name.clone(),
            reason,
            health_output: vec![],
            logs: vec![],
        };
        let svc = &self.project.services[name];
        let ids = crate::container_ids(&self.docker, &self.project, &spec::referenced_services(svc)).await;
        let resolved = spec::resolve_references(svc, &ids, true);
        let hash = labels::config_hash(&spec::resolve_references(svc, &ids, false));

        // The service's containers, lowest number first: the first `replicas` are kept (or
        // recreated when their configuration changed), the rest removed, the missing ones
        // created with the next numbers (as compose scales).
        let wanted = svc.replicas();
        let mut existing = crate::replicas(&self.docker, &self.project.name, name)
            .await
            .map_err(|e| Some(fail(e.to_string())))?;
        let surplus = existing.split_off((wanted as usize).min(existing.len()));
        for c in &surplus {
            crate::stop_container(&self.docker, &c.id).await;
            crate::remove_container(&self.docker, &c.id).await.map_err(|e| {
                Some(fail(format!(
                    "removing {} (scaling down): {}",
                    c.name,
                    crate::describe(&e)
                )))
            })?;
            self.sink.service(
                name,
                Phase::Removed,
                Some(format!("{} (scaled down to {wanted})", c.name)),
            );
        }
        let replicated = wanted > 1 || !surplus.is_empty();
        let which = |cname: &str| replicated.then(|| cname.to_string());
        let mut containers = Vec::new();
        let mut next = existing.iter().map(|c| c.number).max().unwrap_or(0) + 1;
        for i in 0..wanted as usize {
            let (number, old) = match existing.get(i) {
                Some(c) => (c.number, Some(c)),
                None => {
                    next += 1;
                    (next - 1, None)
                }
            };
            let cname = old.map_or_else(|| self.project.replica_name(name, number), |c| c.name.clone());
            let mut running = false;
            match old {
                Some(c) if self.no_recreate || (c.hash == hash && c.image == self.image_id) => {
                    running = c.running;
                    self.sink.service(name, Phase::Unchanged, which(&cname));
                }
                old => {
                    let mut body = spec::container_body(&self.project, name, number, &resolved, self.env.as_deref())
                        .map_err(|e| Some(fail(e)))?;
                    if let Some(l) = body.labels.as_mut() {
                        l.insert(CONFIG_HASH.into(), hash.clone());
                        l.insert(labels::IMAGE.into(), self.image_id.clone());
                    }
                    if let Some(c) = old {
                        crate::stop_container(&self.docker, &c.id).await;
                        crate::remove_container(&self.docker, &c.id).await.map_err(|e| {
                            Some(fail(format!(
                                "removing the old container {cname}: {}",
                                crate::describe(&e)
                            )))
                        })?;
                    }
                    self.create(&cname, number, body).await?;
                    let phase = if old.is_some() {
                        Phase::Recreated
                    } else {
                        Phase::Created
                    };
                    self.sink.service(name, phase, which(&cname));
                }
            }
            containers.push((cname, running));
        }
        if self.no_start {
            self.sink.service(name, Phase::Ready, Some("created".into()));
            return Ok(Phase::Ready);
        }
        for (cname, running) in &containers {
            if !running {
                self.sink.service(name, Phase::Starting, which(cname));
                self.docker
                    .start_container(cname, None)
                    .await
                    .map_err(|e| Some(fail(format!("starting {cname}: {}", crate::describe(&e)))))?;
            }
        }
        self.state.send_replace(State::Started);
        self.sink.service(name, Phase::Started, None);

        let deadline = Instant::now() + self.deadline_after;
        let waits = containers
            .iter()
            .map(|(cname, _)| self.wait_ready(&resolved, cname, which(cname), deadline));
        let how = futures_util::future::try_join_all(waits).await.map_err(Some)?;
        let how = match (how.first(), how.len()) {
            (None, _) => format!(
                "no container ({} set to 0)",
                if svc.extra.contains_key("scale") {
                    "scale"
                } else {
                    "deploy.replicas"
                }
            ),
            (Some(h), 1) => h.to_string(),
            (Some(h), n) => format!("{n} replicas {h}"),
        };
        self.sink.service(name, Phase::Ready, Some(how));
        Ok(Phase::Ready)
    }

    /// Waits until one container of the service is ready as its dependents ask: completed for
    /// a one-shot, healthy with a health check, running otherwise. How it was found ready.
    async fn wait_ready(
        &self,
        svc: &deck_compose::Service,
        cname: &str,
        which: Option<String>,
        deadline: Instant,
    ) -> Result<&'static str, FailureReport> {
        let name = &self.name;
        match &svc.healthcheck {
            _ if self.one_shot => {
                self.sink.service(name, Phase::WaitingExit, which);
                readiness::wait_exit(&self.docker, name, cname, deadline).await?;
                Ok("completed successfully")
            }
            Some(hc) if !hc.is_disabled() => {
                self.sink.service(name, Phase::WaitingHealth, which.clone());
                let sink = self.sink.clone();
                let via = readiness::wait_healthy(&self.docker, name, cname, hc, deadline, |docker_status| {
                    let status = if docker_status.is_empty() {
                        "none"
                    } else {
                        docker_status
                    };
                    let on = which.as_ref().map(|c| format!("{c}: ")).unwrap_or_default();
                    sink.service(name, Phase::WaitingHealth, Some(format!("{on}docker health: {status}")));
                })
                .await?;
                Ok(match via {
                    Via::Probe => "healthy (health check passed in the container)",
                    Via::Docker => "healthy (docker)",
                })
            }
            _ => Ok("running"),
        }
    }

    async fn create(
        &self,
        cname: &str,
        number: u32,
        body: bollard::models::ContainerCreateBody,
    ) -> Result<(), Option<FailureReport>> {
        let fail = |reason: String| {
            Some(FailureReport {
                service: self.name.clone(),
                reason,
                health_output: vec![],
                logs: vec![],
            })
        };
        let opts = CreateContainerOptions {
            name: Some(cname.to_string()),
            ..Default::default()
        };
        self.docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| fail(format!("creating {cname}: {}", crate::describe(&e))))?;
        // API 1.41 attaches one network at creation; the others are connected here.
        let svc = &self.project.services[&self.name];
        for (net, settings) in spec::networks(&self.project, &self.name, number, svc)
            .into_iter()
            .skip(1)
        {
            let req = NetworkConnectRequest {
                container: cname.to_string(),
                endpoint_config: Some(settings),
            };
            self.docker
                .connect_network(&net, req)
                .await
                .map_err(|e| fail(format!("connecting {cname} to {net}: {}", crate::describe(&e))))?;
        }
        Ok(())
    }
}
