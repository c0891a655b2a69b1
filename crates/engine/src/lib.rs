//! Drives the Docker Engine from a loaded compose project, through `bollard`: builds, brings a
//! stack up in dependency order with fast readiness, takes it down, and reports its status.
//! Containers, networks and volumes carry the labels `docker compose` v2 puts on them, so each
//! tool sees the stacks of the other.

mod build;
mod down;
mod drift;
pub mod endpoint;
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
mod ssh;
mod status;
pub mod swarm;
mod terminal;
mod up;

pub use down::DownOptions;
pub use drift::{Finding, Fix, ServiceDrift, Verdict};
pub use endpoint::Endpoint;
pub use event::{Event, FailureReport, Op, Phase, Planned, ResourceAction, ResourceKind, Sink};
pub use incidents::{notify_desktop, Incident, IncidentKind, IncidentTracker, IncidentWatch, Observed, TrackerConfig};
pub use inspect::{EnvVar, Inspection, MountInfo, NetworkInfo};
pub use labels::{helper as helper_labels, ENV_LABEL, EXPECTED_IMAGE_LABEL, TARGET_LABEL};
pub use logs::LogLine;
pub use observe::{ContainerAction, StackChange, Watch};
pub use plan::{Change, PlannedChange};
pub use preflight::Problem;
pub use reach::{EdgeCheck, Reach};
pub use spec::image_ref;
pub use status::{
    by_name, by_service, Action, ContainerState, ContainerStatus, Health, HealthCheck, Sampled, ServiceStatus, Usage,
    UsageSampler,
};
pub use terminal::{TermSize, Terminal};
pub use up::{UpOptions, UpSummary};

use bollard::Docker;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {host}: {reason}{hint}")]
    Unreachable { host: String, reason: String, hint: String },
    #[error("no Docker context named {name}: `docker context ls` lists them (here: {known})")]
    NoContext { name: String, known: String },
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
    #[error("{host} is not a swarm manager (its swarm state: {state}): name the context of a manager of the swarm (`docker node ls` works there)")]
    NotManager { host: String, state: String },
    #[error("{0}")]
    Swarm(String),
    /// A shell or a check in a container could not go on (it ended, or the engine would not attach).
    #[error("{0}")]
    Session(String),
}

impl deck_error::Coded for EngineError {
    fn code(&self) -> deck_error::Code {
        use deck_error::Code;
        match self {
            EngineError::Unreachable { .. } | EngineError::PermissionDenied { .. } => Code::EngineUnreachable,
            EngineError::NoContext { .. } => Code::Invalid,
            EngineError::NotManager { .. } => Code::Refused,
            EngineError::Swarm(_) => Code::Failed,
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

/// Why connecting failed, in words: the TLS and SSH layers' own errors are deep in the chain.
fn connect_failure(e: &bollard::errors::Error, endpoint: &Endpoint) -> String {
    let mut chain = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let all = chain.join(": ");
    if all.contains("HTTP request to an HTTPS server") {
        return "the engine speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the folder of its ca.pem, cert.pem and key.pem, or use a context that has them".into();
    }
    if let (Some(dir), true) = (
        &endpoint.tls,
        all.contains("certificate") || all.contains("Certificate"),
    ) {
        return format!(
            "the TLS handshake failed ({}): the engine's certificate must be signed by {} and name this host, and the engine must accept {}",
            chain.last().map_or("", String::as_str),
            dir.join("ca.pem").display(),
            dir.join("cert.pem").display()
        );
    }
    all
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
    endpoint: Endpoint,
    /// The SSH connections of an `ssh://` engine, as long as a clone of it lives.
    #[allow(dead_code)] // held, not read: dropping the last clone closes them
    tunnel: Option<std::sync::Arc<ssh::Tunnel>>,
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

/// Removes a container, stopped or not. One the engine is removing already (a container that
/// removes itself when it ends, or another client's removal) counts as removed once it is gone.
pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<(), bollard::errors::Error> {
    ours::mark(id);
    let opts = bollard::query_parameters::RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    match docker.remove_container(id, Some(opts)).await {
        Err(e) if removal_in_progress(&e) => {
            use futures_util::StreamExt;
            let removed = bollard::query_parameters::WaitContainerOptions {
                condition: "removed".into(),
            };
            let mut wait = docker.wait_container(id, Some(removed));
            // (An error here is the container gone before the wait began, or its exit status.)
            let _ = tokio::time::timeout(std::time::Duration::from_secs(60), wait.next()).await;
            Ok(())
        }
        r => r,
    }
}

/// Whether the engine refused a removal because the container is being removed already.
fn removal_in_progress(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { status_code: 409, message }
            if message.contains("already in progress")
    )
}

/// Whether a bollard error is a 404 from the engine.
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }
    )
}

impl Engine {
    /// Connects to the engine the docker CLI would use now (`DOCKER_HOST`, `DOCKER_CONTEXT`,
    /// the current context, else the local socket).
    pub async fn connect() -> Result<Engine, EngineError> {
        Engine::connect_to(&endpoint::resolve(None)?).await
    }

    /// Connects to an engine (over its socket, TCP with TLS when it has certificates, or SSH),
    /// pings it within 20 s, and negotiates the API version (Debian's engine speaks 1.41;
    /// current engines speak newer).
    #[tracing::instrument(err, skip_all, fields(engine = %endpoint.name, host = %endpoint.host))]
    pub async fn connect_to(endpoint: &Endpoint) -> Result<Engine, EngineError> {
        let host = endpoint.host.clone();
        let hint = if endpoint.is_remote() {
            ". Is the engine running there, and is the address right? (`docker context ls` lists the engines)"
        } else {
            ". Is dockerd running? Start it (`sudo systemctl start docker`, or `sudo dockerd &`), or set DOCKER_HOST"
        };
        let unreachable = |reason: String| EngineError::Unreachable {
            host: host.clone(),
            reason: reason.trim_end_matches(['.', '\n']).to_string(),
            hint: hint.into(),
        };
        const TIMEOUT: u64 = 600;
        let version = bollard::API_DEFAULT_VERSION;
        let tunnel = if host.starts_with("ssh://") {
            Some(std::sync::Arc::new(ssh::open(&host).map_err(&unreachable)?))
        } else {
            None
        };
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, TIMEOUT, version)
        } else if let Some(t) = &tunnel {
            Docker::connect_with_unix(&t.socket.to_string_lossy(), TIMEOUT, version)
        } else if let Some(dir) = &endpoint.tls {
            for f in ["ca.pem", "cert.pem", "key.pem"] {
                if !dir.join(f).is_file() {
                    return Err(unreachable(format!(
                        "{} is missing (the engine is reached over TLS with the ca.pem, cert.pem and key.pem of that folder)",
                        dir.join(f).display()
                    )));
                }
            }
            Docker::connect_with_ssl(
                &host,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                TIMEOUT,
                version,
            )
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(&host, TIMEOUT, version)
        } else {
            return Err(EngineError::Unreachable {
                host: host.clone(),
                reason: "this address is not one Docker takes".into(),
                hint: ": use unix://PATH, tcp://HOST:PORT or ssh://USER@HOST".into(),
            });
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let pinged = tokio::time::timeout(Duration::from_secs(20), docker.ping()).await;
        match pinged {
            Err(_) => return Err(unreachable("no answer within 20 s".into())),
            Ok(Err(e)) => {
                let text = format!("{e:?}");
                if text.contains("PermissionDenied") || text.contains("ermission denied") {
                    return Err(EngineError::PermissionDenied { host });
                }
                let said = tunnel.as_ref().and_then(|t| t.last_error()).map(|e| {
                    if e.contains("Host key verification failed") {
                        format!(
                            "{e}: this host's key is not known here; connect once with `ssh` to check and accept it"
                        )
                    } else {
                        e
                    }
                });
                return Err(unreachable(said.unwrap_or_else(|| connect_failure(&e, endpoint))));
            }
            Ok(Ok(_)) => {}
        }
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Engine {
            docker,
            endpoint: endpoint.clone(),
            tunnel,
        })
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
        &self.endpoint.host
    }

    /// The engine as the user chose it (its context).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
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
