//! The status of every service of a project, as the engine sees it.

use crate::labels::{self, ENV_LABEL, EXPECTED_IMAGE_LABEL, SERVICE, TARGET_LABEL};
use crate::{Context, Engine, EngineError};
use bollard::query_parameters::ListContainersOptions;
use deck_compose::Project;
use serde::Serialize;
use std::collections::BTreeMap;
use ts_rs::TS;

/// The engine's state of a container.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum ContainerState {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl ContainerState {
    pub fn from_engine(s: Option<bollard::models::ContainerStateStatusEnum>) -> Self {
        use bollard::models::ContainerStateStatusEnum as S;
        match s {
            Some(S::RUNNING) => ContainerState::Running,
            Some(S::PAUSED) => ContainerState::Paused,
            Some(S::RESTARTING) => ContainerState::Restarting,
            Some(S::REMOVING) => ContainerState::Removing,
            Some(S::EXITED) => ContainerState::Exited,
            Some(S::DEAD) => ContainerState::Dead,
            _ => ContainerState::Created,
        }
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = serde_json::to_value(self).ok();
        f.write_str(v.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

/// The health a container's status text names, as `docker ps` shows it: `Up 3 minutes
/// (healthy)`, `Up 2 seconds (health: starting)`; none without a health check, or paused.
fn health_in_status(status: &str) -> Option<Health> {
    match status.rsplit_once('(')?.1.strip_suffix(')')? {
        "healthy" => Some(Health::Healthy),
        "unhealthy" => Some(Health::Unhealthy),
        "health: starting" => Some(Health::Starting),
        _ => None,
    }
}

/// The result of a container's own health check, as the engine reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn from_engine(s: Option<bollard::models::HealthStatusEnum>) -> Option<Self> {
        use bollard::models::HealthStatusEnum as H;
        match s {
            Some(H::STARTING) => Some(Health::Starting),
            Some(H::HEALTHY) => Some(Health::Healthy),
            Some(H::UNHEALTHY) => Some(Health::Unhealthy),
            _ => None,
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ContainerStatus {
    pub name: String,
    pub id: String,
    /// The service it runs, and which of the service's replicas it is (from 1).
    pub service: String,
    pub number: u32,
    pub state: ContainerState,
    /// `None` without a health check.
    pub health: Option<Health>,
    /// The image reference the container was created from.
    pub image: String,
    pub image_id: String,
    /// The build target of the image the container runs, from the image's labels.
    pub build_target: Option<String>,
    /// The environment (dev, prod) that created the container.
    pub env: Option<String>,
    /// `host_ip:host_port->container_port/protocol`.
    pub ports: Vec<String>,
    #[ts(type = "number")]
    pub restart_count: i64,
    #[ts(type = "number | null")]
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub started_at: Option<String>,
    /// Stopped by something other than Sirius Deck, and not started since: known to a live watch
    /// that saw the stop (`Engine::watch_incidents`), false elsewhere.
    #[serde(default)]
    pub stopped_outside: bool,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ServiceStatus {
    pub service: String,
    /// Its containers, one per replica, lowest number first; empty when it has none (not
    /// started yet, or taken down).
    pub containers: Vec<ContainerStatus>,
}

impl ServiceStatus {
    /// The first replica's container.
    pub fn first(&self) -> Option<&ContainerStatus> {
        self.containers.first()
    }
}

/// Containers grouped by service, in the order given.
pub fn by_service(containers: &[ContainerStatus]) -> BTreeMap<String, Vec<ContainerStatus>> {
    let mut out: BTreeMap<String, Vec<ContainerStatus>> = BTreeMap::new();
    for c in containers {
        out.entry(c.service.clone()).or_default().push(c.clone());
    }
    out
}

/// Containers by name.
pub fn by_name(containers: Vec<ContainerStatus>) -> BTreeMap<String, ContainerStatus> {
    containers.into_iter().map(|c| (c.name.clone(), c)).collect()
}

impl Engine {
    /// The status of each service of the project, and of containers of the project that are not
    /// in its files any more.
    pub async fn status(&self, project: &Project) -> Result<Vec<ServiceStatus>, EngineError> {
        let mut grouped = by_service(&self.containers(&project.name).await?);
        let mut out: Vec<ServiceStatus> = project
            .services
            .keys()
            .map(|s| ServiceStatus {
                service: s.clone(),
                containers: grouped.remove(s).unwrap_or_default(),
            })
            .collect();
        out.extend(
            grouped
                .into_iter()
                .map(|(service, containers)| ServiceStatus { service, containers }),
        );
        Ok(out)
    }

    /// The project's containers, stopped ones too, as the engine lists them.
    async fn list(&self, project_name: &str) -> Result<Vec<bollard::models::ContainerSummary>, EngineError> {
        self.docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(labels::project_filter(project_name)),
                ..Default::default()
            }))
            .await
            .context(|| "listing containers".into())
    }

    /// The containers of the project's services, by service, then replica number.
    pub async fn containers(&self, project_name: &str) -> Result<Vec<ContainerStatus>, EngineError> {
        let list = self.list(project_name).await?;
        let mut out = Vec::new();
        for c in list {
            out.extend(self.container_status(&c.id.unwrap_or_default()).await);
        }
        out.sort_by(|a, b| a.service.cmp(&b.service).then(a.number.cmp(&b.number)));
        Ok(out)
    }

    /// Whether one listing of the project's containers (a single request, nothing inspected)
    /// agrees with `known`: the same containers, each with the same id and state, and the
    /// same health where the engine's status text names one.
    pub(crate) async fn listing_agrees(
        &self,
        project_name: &str,
        known: &BTreeMap<String, ContainerStatus>,
    ) -> Result<bool, EngineError> {
        let list = self.list(project_name).await?;
        let ours = list
            .iter()
            .filter(|c| c.labels.as_ref().is_some_and(|l| l.contains_key(SERVICE)))
            .collect::<Vec<_>>();
        Ok(ours.len() == known.len()
            && ours.iter().all(|c| {
                let name = c
                    .names
                    .as_ref()
                    .and_then(|n| n.first())
                    .map(|n| n.trim_start_matches('/'));
                name.and_then(|n| known.get(n)).is_some_and(|k| {
                    c.id.as_deref() == Some(k.id.as_str())
                        && c.state.map(|s| s.to_string()) == Some(k.state.to_string())
                        && c.status
                            .as_deref()
                            .and_then(health_in_status)
                            .is_none_or(|h| k.health == Some(h))
                })
            }))
    }

    /// One container's status, or `None` when it is gone or not a service's.
    pub async fn container_status(&self, id: &str) -> Option<ContainerStatus> {
        let i = self.docker.inspect_container(id, None).await.ok()?;
        self.status_of(&i).await
    }

    /// The status a container's inspection says (its image read for the build target).
    pub(crate) async fn status_of(&self, i: &bollard::models::ContainerInspectResponse) -> Option<ContainerStatus> {
        let labels = i.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
        let service = labels.get(SERVICE).cloned()?;
        let state = i.state.clone().unwrap_or_default();
        let image_id = i.image.clone().unwrap_or_default();
        let image_labels = match self.docker.inspect_image(&image_id).await {
            Ok(img) => img.config.and_then(|c| c.labels).unwrap_or_default(),
            Err(_) => Default::default(),
        };
        let mut ports: Vec<String> = i
            .network_settings
            .as_ref()
            .and_then(|n| n.ports.clone())
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(container_port, bindings)| {
                bindings.unwrap_or_default().into_iter().map(move |b| {
                    format!(
                        "{}:{}->{container_port}",
                        b.host_ip.unwrap_or_default(),
                        b.host_port.unwrap_or_default()
                    )
                })
            })
            .collect();
        // The IPv6 twin of an IPv4 binding says nothing new.
        let v4: Vec<String> = ports
            .iter()
            .filter_map(|p| p.strip_prefix("0.0.0.0:").map(str::to_string))
            .collect();
        ports.retain(|p| !p.strip_prefix(":::").is_some_and(|rest| v4.iter().any(|v| v == rest)));
        ports.sort();
        ports.dedup();
        let exited = matches!(state.status, Some(bollard::models::ContainerStateStatusEnum::EXITED));
        let status = ContainerStatus {
            name: i.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
            id: i.id.clone().unwrap_or_default(),
            number: labels.get(labels::NUMBER).and_then(|n| n.parse().ok()).unwrap_or(1),
            service,
            state: ContainerState::from_engine(state.status),
            health: Health::from_engine(state.health.and_then(|h| h.status)),
            image: labels
                .get(EXPECTED_IMAGE_LABEL)
                .cloned()
                .or_else(|| i.config.as_ref().and_then(|c| c.image.clone()))
                .unwrap_or_default(),
            image_id,
            build_target: image_labels.get(TARGET_LABEL).cloned().filter(|t| !t.is_empty()),
            env: labels.get(ENV_LABEL).cloned(),
            ports,
            restart_count: i.restart_count.unwrap_or(0),
            exit_code: if exited { state.exit_code } else { None },
            oom_killed: state.oom_killed.unwrap_or(false),
            started_at: state.started_at,
            stopped_outside: false,
        };
        Some(status)
    }
}

/// What the user can do to one service's container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, Serialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl Engine {
    /// Starts, stops or restarts the containers of one service (each of its replicas).
    pub async fn control(&self, project: &Project, service: &str, action: Action) -> Result<(), EngineError> {
        let mut names: Vec<String> = crate::replicas(&self.docker, &project.name, service)
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        if names.is_empty() {
            names.push(project.container_name(service)); // the engine says it does not exist
        }
        let each = names.iter().map(|name| async move {
            let what = || format!("{action:?} {name}").to_lowercase();
            if action == Action::Restart {
                crate::ours::mark(name);
            }
            match action {
                Action::Start => self.docker.start_container(name, None).await.context(what),
                // Without a timeout the engine uses the container's own (its stop_grace_period).
                Action::Stop => crate::stop_marked(&self.docker, name).await.context(what),
                Action::Restart => self
                    .docker
                    .restart_container(name, None::<bollard::query_parameters::RestartContainerOptions>)
                    .await
                    .context(what),
            }
        });
        futures_util::future::try_join_all(each).await.map(|_| ())
    }
}

impl Engine {
    /// The last runs of a service's health check as Docker recorded them, oldest first (each
    /// replica's in turn).
    pub async fn health_log(&self, project: &Project, service: &str) -> Result<Vec<HealthCheck>, EngineError> {
        let names: Vec<String> = crate::replicas(&self.docker, &project.name, service)
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        let mut out = Vec::new();
        for name in &names {
            let mut runs = self.container_health_log(name).await?;
            if names.len() > 1 {
                runs.iter_mut().for_each(|r| r.container = Some(name.clone()));
            }
            out.extend(runs);
        }
        Ok(out)
    }

    /// The last runs of one container's health check, oldest first.
    pub async fn container_health_log(&self, name: &str) -> Result<Vec<HealthCheck>, EngineError> {
        let inspect = match self.docker.inspect_container(name, None).await {
            Ok(i) => i,
            Err(e) if crate::is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => {
                return Err(EngineError::Docker {
                    context: format!("inspecting {name}"),
                    source: e,
                })
            }
        };
        Ok(inspect
            .state
            .and_then(|s| s.health)
            .and_then(|h| h.log)
            .unwrap_or_default()
            .into_iter()
            .map(|r| HealthCheck {
                container: None,
                started: r.start,
                exit_code: r.exit_code,
                output: deck_error::redact::text(r.output.unwrap_or_default().trim()).to_string(),
            })
            .collect())
    }
}

/// One run of a container's health check, as Docker recorded it.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct HealthCheck {
    /// The replica's container, when the service runs several.
    pub container: Option<String>,
    /// When it ran (RFC 3339, the engine's clock).
    pub started: Option<String>,
    /// 0 when it passed; none when it did not finish.
    #[ts(type = "number | null")]
    pub exit_code: Option<i64>,
    /// What it printed (secrets masked).
    pub output: String,
}

impl Engine {
    /// CPU (percent of one core) and memory (bytes) of a running container, from one stats
    /// sample.
    pub async fn usage(&self, container: &str) -> Option<(f64, u64)> {
        use futures_util::StreamExt;
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: false,
        };
        let s = self.docker.stats(container, Some(opts)).next().await?.ok()?;
        usage_of(&s)
    }
}

/// One resource sample of a service's container.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Usage {
    pub service: String,
    /// The container (one of the service's replicas).
    pub container: String,
    /// Percent of one core.
    pub cpu_percent: f64,
    #[ts(type = "number")]
    pub memory_bytes: u64,
}

/// CPU percent of one core and working-set memory from one stats sample (its CPU over the
/// second before it).
fn usage_of(s: &bollard::models::ContainerStatsResponse) -> Option<(f64, u64)> {
    Some((
        cpu_percent(s.precpu_stats.as_ref()?, s.cpu_stats.as_ref()?),
        memory_of(s)?,
    ))
}

/// CPU percent of one core between two readings of a container's counters.
fn cpu_percent(pre: &bollard::models::ContainerCpuStats, cpu: &bollard::models::ContainerCpuStats) -> f64 {
    let total = |c: &bollard::models::ContainerCpuStats| c.cpu_usage.as_ref().and_then(|u| u.total_usage).unwrap_or(0);
    let delta = total(cpu).saturating_sub(total(pre)) as f64;
    let system = cpu
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(pre.system_cpu_usage.unwrap_or(0)) as f64;
    let cpus = cpu.online_cpus.unwrap_or(1).max(1) as f64;
    if system > 0.0 {
        delta / system * cpus * 100.0
    } else {
        0.0
    }
}

/// Working-set memory: page cache is not the service's (docker stats subtracts it too).
fn memory_of(s: &bollard::models::ContainerStatsResponse) -> Option<u64> {
    let mem = s.memory_stats.as_ref()?;
    let cache = mem
        .stats
        .as_ref()
        .and_then(|st| {
            st.get("inactive_file")
                .or_else(|| st.get("total_inactive_file"))
                .copied()
        })
        .unwrap_or(0);
    Some(mem.usage.unwrap_or(0).saturating_sub(cache))
}

/// How often a container not shown in detail is read (its CPU is the mean over this time).
pub const SLOW_SAMPLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Samples the CPU and memory of the containers it is told to follow: those shown in detail
/// every second through the engine's stats stream, the others every [`SLOW_SAMPLE`] through
/// one reading each (their CPU the mean since the reading before). Dropping it stops it all.
pub struct UsageSampler {
    docker: bollard::Docker,
    tx: tokio::sync::mpsc::Sender<Usage>,
    /// By container id: the task, and whether it samples every second.
    tasks: std::collections::HashMap<String, (tokio::task::JoinHandle<()>, bool)>,
    /// Slow readings fall on this instant plus a multiple of [`SLOW_SAMPLE`]: all containers
    /// are read at once, in one wake-up of the process rather than one each.
    epoch: tokio::time::Instant,
}

/// A running container to sample: the engine it runs on, and what its samples are called.
#[derive(Clone)]
pub struct Sampled {
    pub docker: bollard::Docker,
    pub id: String,
    /// The name its samples carry (a container's name, a swarm task's).
    pub name: String,
    pub service: String,
}

impl Drop for UsageSampler {
    fn drop(&mut self) {
        self.follow([], None);
    }
}

impl Engine {
    /// A sampler that follows nothing yet, and the receiver of its samples.
    pub fn usage_sampler(&self) -> (UsageSampler, tokio::sync::mpsc::Receiver<Usage>) {
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let sampler = UsageSampler {
            docker: self.docker.clone(),
            tx,
            tasks: Default::default(),
            epoch: tokio::time::Instant::now(),
        };
        (sampler, rx)
    }
}

impl UsageSampler {
    /// Samples exactly the running ones of `containers`, every second those of the service
    /// `detailed`: sampling starts for those not sampled yet (or not at that pace) and stops
    /// for the rest (give none to stop sampling).
    pub fn follow<'a>(&mut self, containers: impl IntoIterator<Item = &'a ContainerStatus>, detailed: Option<&str>) {
        let running = containers
            .into_iter()
            .filter(|c| c.state == ContainerState::Running)
            .map(|c| Sampled {
                docker: self.docker.clone(),
                id: c.id.clone(),
                name: c.name.clone(),
                service: c.service.clone(),
            })
            .collect::<Vec<_>>();
        self.follow_sampled(running, detailed);
    }

    /// Samples exactly `running` (each on its own engine), every second those of the service
    /// `detailed`.
    pub fn follow_sampled(&mut self, running: Vec<Sampled>, detailed: Option<&str>) {
        let running: std::collections::HashMap<String, (Sampled, bool)> = running
            .into_iter()
            .map(|c| {
                let fast = detailed == Some(c.service.as_str());
                (c.id.clone(), (c, fast))
            })
            .collect();
        self.tasks.retain(|id, (task, fast)| {
            let keep = running.get(id).is_some_and(|(_, f)| f == fast) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for (id, (c, fast)) in running {
            if !self.tasks.contains_key(&id) {
                let tx = self.tx.clone();
                let task = match fast {
                    true => tokio::spawn(stream(c, tx)),
                    false => tokio::spawn(read_every(c, tx, self.epoch)),
                };
                self.tasks.insert(id, (task, fast));
            }
        }
    }
}

/// Sends one sample; false when nobody listens any more.
async fn send(tx: &tokio::sync::mpsc::Sender<Usage>, c: &Sampled, cpu_percent: f64, memory_bytes: u64) -> bool {
    let usage = Usage {
        service: c.service.clone(),
        container: c.name.clone(),
        cpu_percent,
        memory_bytes,
    };
    tx.send(usage).await.is_ok()
}

/// A stopped container's stats carry no system CPU reading.
fn stopped(s: &bollard::models::ContainerStatsResponse) -> bool {
    s.cpu_stats.as_ref().and_then(|c| c.system_cpu_usage).is_none()
}

/// Streams one container's samples (one a second) until it stops or nobody listens.
async fn stream(c: Sampled, tx: tokio::sync::mpsc::Sender<Usage>) {
    use futures_util::StreamExt;
    let opts = bollard::query_parameters::StatsOptions {
        stream: true,
        one_shot: false,
    };
    let mut stats = c.docker.stats(&c.id, Some(opts));
    while let Some(Ok(s)) = stats.next().await {
        if stopped(&s) {
            return;
        }
        // The first frame has no reading before it: its CPU would be the mean since the start.
        if s.precpu_stats.as_ref().and_then(|c| c.system_cpu_usage).unwrap_or(0) == 0 {
            continue;
        }
        if let Some((cpu, memory)) = usage_of(&s) {
            if !send(&tx, &c, cpu, memory).await {
                return;
            }
        }
    }
}

/// Reads one container's counters at once (waiting for the engine's second reading, for a CPU
/// figure at once), then at `epoch` plus each multiple of [`SLOW_SAMPLE`], until it stops or
/// nobody listens.
async fn read_every(c: Sampled, tx: tokio::sync::mpsc::Sender<Usage>, epoch: tokio::time::Instant) {
    use futures_util::StreamExt;
    let mut before: Option<bollard::models::ContainerCpuStats> = None;
    let mut ticks = tokio::time::interval_at(
        next_multiple(epoch, tokio::time::Instant::now(), SLOW_SAMPLE),
        SLOW_SAMPLE,
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: before.is_some(),
        };
        let Some(Ok(s)) = c.docker.stats(&c.id, Some(opts)).next().await else {
            return;
        };
        if stopped(&s) {
            return;
        }
        let (Some(cpu), Some(memory)) = (s.cpu_stats.as_ref(), memory_of(&s)) else {
            return;
        };
        let percent = match (&before, &s.precpu_stats) {
            (Some(pre), _) | (None, Some(pre)) => cpu_percent(pre, cpu),
            (None, None) => 0.0,
        };
        if !send(&tx, &c, percent, memory).await {
            return;
        }
        before = Some(cpu.clone());
        ticks.tick().await;
    }
}

/// The first instant that is `epoch` plus a multiple of `every`, and at least half of `every`
/// after `now` (a reading over a shorter time would say little).
fn next_multiple(
    epoch: tokio::time::Instant,
    now: tokio::time::Instant,
    every: std::time::Duration,
) -> tokio::time::Instant {
    let n = (now.saturating_duration_since(epoch) + every / 2).as_nanos() / every.as_nanos() + 1;
    epoch + every * u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::{health_in_status, next_multiple, Health};
    use std::time::Duration;

    #[test]
    fn slow_readings_fall_on_the_same_instants() {
        let epoch = tokio::time::Instant::now();
        let every = Duration::from_secs(10);
        let at = |s: u64| epoch + Duration::from_secs(s);
        assert_eq!(next_multiple(epoch, at(0), every), at(10));
        assert_eq!(next_multiple(epoch, at(3), every), at(10));
        // Less than half a period before the next instant: the one after it.
        assert_eq!(next_multiple(epoch, at(7), every), at(20));
        assert_eq!(next_multiple(epoch, at(10), every), at(20));
        assert_eq!(next_multiple(epoch, at(1234), every), at(1240));
    }

    #[test]
    fn the_health_a_status_text_names() {
        assert_eq!(health_in_status("Up 3 minutes (healthy)"), Some(Health::Healthy));
        assert_eq!(health_in_status("Up 40 seconds (unhealthy)"), Some(Health::Unhealthy));
        assert_eq!(
            health_in_status("Up 2 seconds (health: starting)"),
            Some(Health::Starting)
        );
        // No health check, paused, restarting, exited: the text names no health.
        assert_eq!(health_in_status("Up 3 minutes"), None);
        assert_eq!(health_in_status("Up 3 minutes (Paused)"), None);
        assert_eq!(health_in_status("Restarting (1) 5 seconds ago"), None);
        assert_eq!(health_in_status("Exited (0) 2 hours ago"), None);
    }
}
