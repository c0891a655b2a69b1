//! Drives the Docker Engine from a loaded compose project, through `bollard`: builds, brings a
//! stack up in dependency order with fast readiness, takes it down, and reports its status.
//! Containers, networks and volumes carry the labels `docker compose` v2 puts on them, so each
//! tool sees the stacks of the other.

mod build;
mod down;
mod drift;
mod event;
mod extra;
pub mod ignore;
mod incidents;
mod inspect;
mod labels;
mod logs;
mod observe;
mod ours;
mod plan;
mod preflight;
mod reach;
mod readiness;
mod spec;
mod status;
mod terminal;
mod up;

pub use down::DownOptions;
pub use drift::{Finding, Fix, ServiceDrift, Verdict};
pub use event::{Event, FailureReport, Op, Phase, Planned, ResourceAction, ResourceKind, Sink};
pub use incidents::{notify_desktop, Incident, IncidentKind, IncidentTracker, IncidentWatch, Observed, TrackerConfig};
pub use inspect::{EnvVar, Inspection, MountInfo, NetworkInfo};
pub use labels::{ENV_LABEL, EXPECTED_IMAGE_LABEL, TARGET_LABEL};
pub use logs::LogLine;
pub use observe::{ContainerAction, StackChange, Watch};
pub use plan::{Change, PlannedChange};
pub use preflight::Problem;
pub use reach::{EdgeCheck, Reach};
pub use spec::image_ref;
pub use status::{
    by_name, by_service, Action, ContainerState, ContainerStatus, Health, HealthCheck, ServiceStatus, Usage,
    UsageSampler,
};
pub use terminal::{TermSize, Terminal};
pub use up::{UpOptions, UpSummary};

use bollard::Docker;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {host}: {reason}. Is dockerd running? Start it (`sudo systemctl start docker`, or `sudo dockerd &`), or set DOCKER_HOST")]
    Unreachable { host: String, reason: String },
    #[error("permission denied on the Docker socket {host}: add your user to the `docker` group (`sudo usermod -aG docker $USER`, then log in again), or run as root")]
    PermissionDenied { host: String },
    #[error("nothing was changed, because:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Preflight(Vec<Problem>),
    #[error("{} service(s) failed:\n{}", .0.len(), .0.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n"))]
    Failed(Vec<FailureReport>),
    #[error("building the image of {service}: {message}")]
    Build { service: String, message: String },
    #[error("{context}: {}", describe(source))]
    Docker {
        context: String,
        source: bollard::errors::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A shell or a check in a container could not go on (it ended, or the engine would not attach).
    #[error("{0}")]
    Session(String),
}

impl deck_error::Coded for EngineError {
    fn code(&self) -> deck_error::Code {
        use deck_error::Code;
        match self {
            EngineError::Unreachable { .. } | EngineError::PermissionDenied { .. } => Code::EngineUnreachable,
            EngineError::Preflight(_) => Code::Refused,
            EngineError::Failed(_) | EngineError::Build { .. } | EngineError::Session(_) => Code::Failed,
            EngineError::Docker { source, .. } if lost_connection(source) => Code::EngineUnreachable,
            EngineError::Docker { .. } => Code::Failed,
            EngineError::Io(_) => Code::Internal,
        }
    }
}

/// Whether a request failed because the engine could not be reached (it went away during an
/// operation), not because the engine refused it.
pub fn lost_connection(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        e,
        E::HyperLegacyError { .. }
            | E::HyperResponseError { .. }
            | E::IOError { .. }
            | E::SocketNotFoundError(_)
            | E::RequestTimeoutError
    )
}

/// A request's error in words: a lost connection says so, whatever layer reported it.
pub fn describe(e: &bollard::errors::Error) -> String {
    if lost_connection(e) {
        format!("the connection to the Docker engine was lost (it stopped or restarted): {e}")
    } else {
        e.to_string()
    }
}

pub(crate) trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, EngineError>;
}

impl<T> Context<T> for Result<T, bollard::errors::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, EngineError> {
        self.map_err(|source| EngineError::Docker {
            context: what(),
            source,
        })
    }
}

/// A connection to one Docker engine, version-negotiated once.
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    host: String,
}

/// Stops a container within its own stop timeout (set at creation from `stop_grace_period`,
/// else the engine's 10 s); a container that is already stopped or gone is not an error here.
pub(crate) async fn stop_container(docker: &Docker, id: &str) {
    let _ = stop_marked(docker, id).await;
}

/// Stops a container (by id or name) as a stop of ours (see `ours`), with the engine's answer.
pub(crate) async fn stop_marked(docker: &Docker, container: &str) -> Result<(), bollard::errors::Error> {
    ours::mark(container);
    docker
        .stop_container(container, None::<bollard::query_parameters::StopContainerOptions>)
        .await
}

/// Removes a container, stopped or not.
pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<(), bollard::errors::Error> {
    ours::mark(id);
    let opts = bollard::query_parameters::RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    docker.remove_container(id, Some(opts)).await
}

/// Whether a bollard error is a 404 from the engine.
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }
    )
}

impl Engine {
    /// Connects through `DOCKER_HOST` or the local socket, pings, and negotiates the API
    /// version (Debian's engine speaks 1.41; current engines speak newer).
    #[tracing::instrument(err)]
    pub async fn connect() -> Result<Engine, EngineError> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
        let unreachable = |reason: String| EngineError::Unreachable {
            host: host.clone(),
            reason,
        };
        let docker = Docker::connect_with_defaults().map_err(|e| unreachable(e.to_string()))?;
        let docker = docker.with_timeout(Duration::from_secs(600));
        if let Err(e) = docker.ping().await {
            let text = format!("{e:?}");
            if text.contains("PermissionDenied") || text.contains("ermission denied") {
                return Err(EngineError::PermissionDenied { host });
            }
            return Err(unreachable(e.to_string()));
        }
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Engine { docker, host })
    }

    /// The shared client, for callers that need an API this crate does not wrap.
    /// Stops a container (by id or name) within its own stop timeout, as a stop of ours: the
    /// live watches of every Sirius Deck process see it as asked for, not from outside.
    pub async fn stop(&self, container: &str) -> Result<(), bollard::errors::Error> {
        stop_marked(&self.docker, container).await
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API version in use after negotiation.
    pub fn api_version(&self) -> String {
        let v = self.docker.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }
}

/// One container of a service, as the engine lists it.
#[derive(Clone, Debug)]
pub struct Replica {
    pub id: String,
    pub name: String,
    pub number: u32,
    /// Its configuration hash label.
    pub hash: String,
    pub image: String,
    pub running: bool,
}

/// A service's containers (one per replica, any state; not one-off runs), lowest number first.
pub(crate) async fn replicas(docker: &Docker, project: &str, service: &str) -> Result<Vec<Replica>, EngineError> {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![
            format!("{}={project}", labels::PROJECT),
            format!("{}={service}", labels::SERVICE),
            format!("{}=False", labels::ONEOFF),
        ],
    )]);
    let list = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .context(|| format!("listing the containers of {service}"))?;
    let mut out: Vec<Replica> = list
        .into_iter()
        .map(|c| {
            let labels = c.labels.unwrap_or_default();
            Replica {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.first().cloned())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                number: labels.get(labels::NUMBER).and_then(|n| n.parse().ok()).unwrap_or(1),
                hash: labels.get(labels::CONFIG_HASH).cloned().unwrap_or_default(),
                image: c.image_id.unwrap_or_default(),
                running: c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
            }
        })
        .collect();
    out.sort_by_key(|r| r.number);
    Ok(out)
}

impl Engine {
    /// A service's containers (one per replica, any state), lowest number first, from one
    /// listing (nothing inspected).
    pub async fn replicas(&self, project: &str, service: &str) -> Result<Vec<Replica>, EngineError> {
        replicas(&self.docker, project, service).await
    }
}

/// The container ids of `services`' containers that exist (for references to them).
pub(crate) async fn container_ids(
    docker: &Docker,
    project: &deck_compose::Project,
    services: &[String],
) -> std::collections::HashMap<String, String> {
    let mut ids = std::collections::HashMap::new();
    for s in services {
        if let Ok(c) = docker.inspect_container(&project.container_name(s), None).await {
            if let Some(id) = c.id {
                ids.insert(s.clone(), id);
            }
        }
    }
    ids
}
