//! Running a stack: up, down, build, per-service control, status, logs, the live watch, and
//! the proof of what each container runs (drift) with its fix.

use crate::error::{Error, Result};
use crate::target::Stack;
use crate::App;
use deck_engine::swarm::{SwarmNode, SwarmTask};
use deck_engine::Phase;
use deck_engine::{
    Action, ContainerState, ContainerStatus, DownOptions, EdgeCheck, Fix, HealthCheck, IncidentWatch, Inspection,
    LogLine, ServiceDrift, ServiceStatus, Sink, TermSize, Terminal, TrackerConfig, UpOptions, UpSummary, Usage,
    UsageSampler, Verdict,
};
use deck_error::Code;
use serde::Serialize;
use ts_rs::TS;

/// Builds what is missing, starts in dependency order, returns when every service is ready.
pub async fn up(app: &App, stack: &Stack, opts: UpOptions, sink: &Sink) -> Result<UpSummary> {
    for s in &opts.services {
        stack.require_service(s)?;
    }
    let opts = UpOptions {
        env: opts.env.or_else(|| stack.env.clone()),
        build: opts.build || opts.no_cache,
        registry: opts
            .registry
            .or_else(|| stack.env_spec().and_then(|e| e.registry.clone())),
        ..opts
    };
    let whole = opts.services.is_empty() && !opts.no_start;
    if !opts.no_start {
        crate::interrupted::check_start(app, stack, opts.env.as_deref(), &opts.services)?;
    }
    if stack.swarm() {
        if !opts.services.is_empty() || opts.no_start {
            return Err(Error::invalid(
                "a swarm stack is deployed whole: name no service, and it cannot be created without starting",
            ));
        }
        let manager = app.engine_for(stack).await?;
        let deployed = manager
            .deploy(&stack.project, &app.local_engine().await?, &opts, sink)
            .await?;
        return Ok(UpSummary {
            elapsed_ms: deployed.elapsed_ms,
            services: stack
                .project
                .services
                .keys()
                .map(|s| (s.clone(), Phase::Ready))
                .collect(),
            orphans: Vec::new(),
        });
    }
    let summary = app.engine_for(stack).await?.up(&stack.project, &opts, sink).await?;
    if whole {
        crate::interrupted::settle_switch(app, stack, sink, "up")?;
    }
    Ok(summary)
}

/// Creates containers, networks and volumes without starting anything (`docker compose
/// create`).
pub async fn create(app: &App, stack: &Stack, opts: UpOptions, sink: &Sink) -> Result<UpSummary> {
    up(app, stack, UpOptions { no_start: true, ..opts }, sink).await
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct DownSummary {
    /// Named volumes deleted (with `volumes`), or kept.
    pub volumes_removed: Vec<String>,
    pub volumes_kept: Vec<String>,
}

/// Stops in reverse dependency order and removes containers and networks; volumes only when
/// asked.
pub async fn down(app: &App, stack: &Stack, volumes: bool, sink: &Sink) -> Result<DownSummary> {
    let engine = app.engine_for(stack).await?;
    if stack.swarm() {
        if volumes {
            return Err(Error::invalid(
                "a swarm stack's volumes live on the nodes its tasks ran on: take it down without --volumes, then remove them on each node (`docker volume rm`)",
            ));
        }
        engine.remove_stack(&stack.project, sink).await?;
        return Ok(DownSummary {
            volumes_removed: Vec::new(),
            volumes_kept: Vec::new(),
        });
    }
    let name = &stack.project.name;
    let project_volumes = engine.project_volumes(name).await?;
    engine
        .down(name, Some(&stack.project), &DownOptions { volumes }, sink)
        .await?;
    crate::interrupted::settle_switch(app, stack, sink, "down")?;
    let (volumes_removed, volumes_kept) = if volumes {
        (project_volumes, Vec::new())
    } else {
        (Vec::new(), project_volumes)
    };
    Ok(DownSummary {
        volumes_removed,
        volumes_kept,
    })
}

/// Builds the images of the named services (all that build when none is named).
pub async fn build(app: &App, stack: &Stack, services: &[String], no_cache: bool, sink: &Sink) -> Result<()> {
    stack.require_local("building images one by one")?;
    for s in services {
        stack.require_service(s)?;
    }
    let opts = UpOptions {
        no_cache,
        env: stack.env.clone(),
        ..Default::default()
    };
    Ok(app
        .engine_for(stack)
        .await?
        .build(&stack.project, services, &opts, sink)
        .await?)
}

/// Starts, stops or restarts one service's container.
pub async fn control(app: &App, stack: &Stack, service: &str, action: Action) -> Result<()> {
    stack.require_local("starting, stopping or restarting one service")?;
    stack.require_service(service)?;
    if action != Action::Stop {
        crate::interrupted::check_start(app, stack, stack.env.as_deref(), &[service.to_string()])?;
    }
    Ok(app
        .engine_for(stack)
        .await?
        .control(&stack.project, service, action)
        .await?)
}

/// What each of a service's containers runs (lowest replica first): its environment with secret
/// values masked, mounts, networks, ports, labels, command and build target.
pub async fn inspect(app: &App, stack: &Stack, service: &str) -> Result<Vec<Inspection>> {
    stack.require_local("inspecting a container")?;
    stack.require_service(service)?;
    let engine = app.engine_for(stack).await?;
    let mut out = Vec::new();
    for r in engine.replicas(&stack.project.name, service).await? {
        out.push(engine.inspect(&r.name).await?);
    }
    Ok(out)
}

/// A shell in the service's first running container (on a swarm: its first running task, on
/// the node that runs it), with a TTY of `size`; its output comes from the receiver until the
/// shell ends or the receiver is dropped.
pub async fn terminal(
    app: &App,
    stack: &Stack,
    service: &str,
    size: TermSize,
) -> Result<(Terminal, tokio::sync::mpsc::Receiver<String>)> {
    stack.require_service(service)?;
    let engine = app.engine_for(stack).await?;
    let not_running = || {
        Error::new(
            Code::Refused,
            format!("{service} is not running, so it has no shell to open: start it first (`sirius-deck up`)"),
        )
    };
    if stack.swarm() {
        let (on, container) = engine
            .task_container(&stack.project, service)
            .await?
            .ok_or_else(not_running)?;
        return Ok(on.open_terminal(&container, size).await?);
    }
    let replicas = engine.replicas(&stack.project.name, service).await?;
    let running = replicas.iter().find(|r| r.running).ok_or_else(not_running)?;
    Ok(engine.open_terminal(&running.name, size).await?)
}

/// One variable of a container of the stack, as it is: a person asked to see a masked value.
pub async fn env_value(app: &App, stack: &Stack, container: &str, name: &str) -> Result<String> {
    stack.require_local("reading a container's variable")?;
    let engine = app.engine_for(stack).await?;
    let ours = engine
        .containers(&stack.project.name)
        .await?
        .iter()
        .any(|c| c.name == container);
    if !ours {
        return Err(Error::invalid(format!("{container} is not a container of this stack")));
    }
    engine
        .env_value(container, name)
        .await?
        .ok_or_else(|| Error::invalid(format!("{container} has no variable {name}")))
}

/// Whether each service reaches what it depends on (those of `service` only when named): a
/// TCP connect from inside it to each dependency's name and port.
pub async fn connectivity(app: &App, stack: &Stack, service: Option<&str>) -> Result<Vec<EdgeCheck>> {
    stack.require_local("checking connections")?;
    if let Some(s) = service {
        stack.require_service(s)?;
    }
    Ok(app
        .engine_for(stack)
        .await?
        .check_edges(&stack.project, service)
        .await?)
}

/// The last outputs of a service's own health check, newest last.
pub async fn health(app: &App, stack: &Stack, service: &str) -> Result<Vec<HealthCheck>> {
    stack.require_local("a health-check log")?;
    stack.require_service(service)?;
    Ok(app.engine_for(stack).await?.health_log(&stack.project, service).await?)
}

/// The logs of the named services (all when none), merged; `follow` keeps the stream open
/// until the receiver is dropped.
pub async fn logs(
    app: &App,
    stack: &Stack,
    services: &[String],
    follow: bool,
    tail: Option<usize>,
) -> Result<tokio::sync::mpsc::Receiver<LogLine>> {
    for s in services {
        stack.require_service(s)?;
    }
    let engine = app.engine_for(stack).await?;
    Ok(if stack.swarm() {
        engine.swarm_logs(&stack.project, services, follow, tail).await?
    } else {
        engine.logs(&stack.project, services, follow, tail).await?
    })
}

/// The live state of the stack and the incidents it raises, until dropped.
pub async fn watch(app: &App, stack: &Stack) -> Result<IncidentWatch> {
    stack.require_local("watching incidents")?;
    Ok(app
        .engine_for(stack)
        .await?
        .watch_incidents(&stack.project, TrackerConfig::default()))
}

/// A sampler of the stack's resource use: it samples the running containers it is told to
/// follow (nothing at first), until dropped.
pub async fn usage(app: &App, stack: &Stack) -> Result<(UsageSampler, tokio::sync::mpsc::Receiver<Usage>)> {
    stack.require_local("resource gauges")?;
    Ok(app.engine_for(stack).await?.usage_sampler())
}

/// One container as `ps` shows it (one row per replica), or a service without one.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct PsRow {
    pub service: String,
    /// `None`: the service has no container (not started yet, or taken down).
    pub container: Option<ContainerStatus>,
    /// Percent of one core.
    pub cpu_percent: Option<f64>,
    pub cpu_limit: Option<f64>,
    #[ts(type = "number | null")]
    pub memory_bytes: Option<u64>,
    #[ts(type = "number | null")]
    pub memory_limit: Option<u64>,
    /// At 90% of its memory limit or more.
    pub near_memory_limit: bool,
    /// Whether its service runs what its environment asks for.
    pub drift: Option<ServiceDrift>,
}

/// A swarm stack's task as `ps` shows it: with one CPU and memory sample, taken on its node,
/// against its service's limits.
#[derive(Clone, Debug, Serialize)]
pub struct TaskRow {
    #[serde(flatten)]
    pub task: SwarmTask,
    /// Percent of one core; none when the task does not run (or its node cannot be reached).
    pub cpu_percent: Option<f64>,
    pub cpu_limit: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub memory_limit: Option<u64>,
    pub near_memory_limit: bool,
}

/// A swarm stack's nodes, and its tasks (each service's replicas, newest first per slot) with
/// their nodes and their resource use.
pub async fn tasks(app: &App, stack: &Stack) -> Result<(Vec<SwarmNode>, Vec<TaskRow>)> {
    let engine = app.engine_for(stack).await?;
    let nodes = engine.swarm_nodes().await?;
    let tasks = engine.stack_tasks(&stack.project).await?;
    let mut usage = engine.tasks_usage(&nodes, &tasks).await;
    let rows = tasks
        .into_iter()
        .map(|task| {
            let sample = usage.remove(&task.id);
            let service = stack.project.services.get(&task.service);
            TaskRow {
                cpu_percent: sample.map(|s| s.0),
                cpu_limit: service.and_then(|s| s.cpu_limit()),
                memory_bytes: sample.map(|s| s.1),
                memory_limit: service.and_then(|s| s.memory_limit()),
                near_memory_limit: sample.is_some_and(|s| near_memory_limit(stack, &task.service, s.1)),
                task,
            }
        })
        .collect();
    Ok((nodes, rows))
}

/// A swarm stack watched live, until dropped.
pub struct SwarmWatch {
    /// Its nodes and tasks: as they are, then each time the engine says they changed.
    pub states: tokio::sync::mpsc::Receiver<deck_engine::swarm::SwarmState>,
    /// Samples the resource use of the running tasks it is told to follow (nothing at
    /// first), each on its node, into `samples`.
    pub sampler: deck_engine::swarm::TaskSampler,
    pub samples: tokio::sync::mpsc::Receiver<Usage>,
}

/// A swarm stack's nodes and tasks, and a sampler of its tasks' resource use.
pub async fn watch_swarm(app: &App, stack: &Stack) -> Result<SwarmWatch> {
    let manager = app.engine_for(stack).await?;
    let (sampler, samples) = manager.task_sampler();
    Ok(SwarmWatch {
        states: manager.watch_swarm(&stack.project),
        sampler,
        samples,
    })
}

/// At this share of its memory limit a service is marked as near it.
pub const NEAR_MEMORY_LIMIT: f64 = 0.9;

/// Whether a service using `memory` bytes is near its memory limit (for `ps` and the window's
/// gauges alike).
pub fn near_memory_limit(stack: &Stack, service: &str, memory: u64) -> bool {
    let limit = stack.project.services.get(service).and_then(|s| s.memory_limit());
    limit.is_some_and(|l| memory as f64 >= NEAR_MEMORY_LIMIT * l as f64)
}

/// Each container (each service without one): state, health, image, target, one CPU and
/// memory sample against its limits, and whether its service runs what its environment asks
/// for.
pub async fn ps(app: &App, stack: &Stack) -> Result<Vec<PsRow>> {
    stack.require_local("ps by container")?;
    let engine = app.engine_for(stack).await?;
    let status = engine.status(&stack.project).await?;
    let drift = engine.drift(&stack.project, stack.env.as_deref()).await?;
    let mut rows = Vec::new();
    for ServiceStatus { service, containers } in status {
        let containers: Vec<Option<ContainerStatus>> = match containers.is_empty() {
            true => vec![None],
            false => containers.into_iter().map(Some).collect(),
        };
        for container in containers {
            let usage = match container.as_ref().filter(|c| c.state == ContainerState::Running) {
                Some(c) => engine.usage(&c.id).await,
                None => None,
            };
            let svc = stack.project.services.get(&service);
            let memory_bytes = usage.map(|u| u.1);
            rows.push(PsRow {
                cpu_percent: usage.map(|u| u.0),
                cpu_limit: svc.and_then(|x| x.cpu_limit()),
                memory_bytes,
                memory_limit: svc.and_then(|x| x.memory_limit()),
                near_memory_limit: memory_bytes.is_some_and(|m| near_memory_limit(stack, &service, m)),
                drift: drift.iter().find(|d| d.service == service).cloned(),
                service: service.clone(),
                container,
            });
        }
    }
    Ok(rows)
}

/// Whether each service runs what the stack's environment asks for.
/// On a swarm, whether each task does (its image as built here and copied to the nodes).
pub async fn drift(app: &App, stack: &Stack) -> Result<Vec<ServiceDrift>> {
    let engine = app.engine_for(stack).await?;
    let env = stack.env.as_deref();
    Ok(if stack.swarm() {
        engine
            .swarm_drift(&stack.project, &app.local_engine().await?, env)
            .await?
    } else {
        engine.drift(&stack.project, env).await?
    })
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct RepairResult {
    /// Whether the image was rebuilt without cache (its target was wrong, or asked for).
    pub rebuilt: bool,
    /// Every service after the repair.
    pub drift: Vec<ServiceDrift>,
}

/// The fix of a drifted service: rebuild its image without cache when its target is wrong (or
/// `rebuild`), then recreate it. Fails with `Code::Drift` when it still drifts.
pub async fn repair(app: &App, stack: &Stack, service: &str, rebuild: bool, sink: &Sink) -> Result<RepairResult> {
    stack.require_local("repair")?;
    stack.require_service(service)?;
    let engine = app.engine_for(stack).await?;
    let env = stack.env.as_deref();
    let fix = engine
        .drift(&stack.project, env)
        .await?
        .into_iter()
        .find(|d| d.service == service)
        .and_then(|d| d.fix);
    let rebuild = rebuild || fix == Some(Fix::Rebuild);
    engine.repair(&stack.project, service, env, rebuild, sink).await?;
    let drift = engine.drift(&stack.project, env).await?;
    if let Some(d) = drift
        .iter()
        .find(|d| d.service == service && d.verdict == Verdict::Drift)
    {
        return Err(Error::new(
            Code::Drift,
            format!("{service} still drifts: {}", d.summary),
        ));
    }
    Ok(RepairResult {
        rebuilt: rebuild,
        drift,
    })
}
