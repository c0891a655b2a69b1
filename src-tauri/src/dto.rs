//! What crosses the bridge to the window. TypeScript types are generated from these
//! (`ui/src/bindings/`, by `cargo test -p sirius-deck-app`), never written twice.

use deck_engine::{ContainerStatus, Event, Phase, StackChange};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ts_rs::TS;

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StackSummary {
    pub name: String,
    pub description: String,
    pub envs: Vec<String>,
    pub default_env: String,
    pub is_default: bool,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Stacks {
    pub stacks: Vec<StackSummary>,
    /// The stack and environment to open: the last ones used, or the default.
    pub open_stack: String,
    pub open_env: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Edge {
    pub target: String,
    /// started, healthy or completed.
    pub condition: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ServiceNode {
    pub name: String,
    /// frontend, processing or data.
    pub layer: String,
    pub image: Option<String>,
    pub build_target: Option<String>,
    pub ports: Vec<String>,
    pub depends_on: Vec<Edge>,
    pub has_healthcheck: bool,
    pub one_shot: bool,
    #[ts(type = "number | null")]
    pub memory_limit: Option<u64>,
    pub cpu_limit: Option<f64>,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Diagnostic {
    /// error or warning.
    pub severity: String,
    pub file: Option<String>,
    #[ts(type = "number | null")]
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl From<&deck_compose::Diagnostic> for Diagnostic {
    fn from(d: &deck_compose::Diagnostic) -> Self {
        Diagnostic {
            severity: match d.severity {
                deck_compose::Severity::Error => "error".into(),
                deck_compose::Severity::Warning => "warning".into(),
            },
            file: d.file.as_ref().map(|f| f.display().to_string()),
            line: d.line,
            key: d.key.clone(),
            message: d.message.clone(),
        }
    }
}

/// A stack as the window draws it: the planned services, or the errors that stop it loading.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StackView {
    pub stack: String,
    pub env: String,
    pub project: String,
    pub services: Vec<ServiceNode>,
    pub diagnostics: Vec<Diagnostic>,
    /// True when the files have errors: `services` is empty and `diagnostics` says why.
    pub invalid: bool,
    /// Whether incidents of this stack raise desktop notifications.
    pub notifications: bool,
}

/// One resource sample of a service (event `stack-usage`, about once a second each).
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UsageEvent {
    pub stack: String,
    pub service: String,
    /// Percent of one core.
    pub cpu_percent: f64,
    #[ts(type = "number")]
    pub memory_bytes: u64,
}

/// One log line, streamed over a channel.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LogLineDto {
    pub service: String,
    pub timestamp: Option<String>,
    pub stderr: bool,
    pub line: String,
}

/// A notification was clicked: show this service (event `focus-service`).
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct FocusService {
    pub stack: String,
    pub service: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ContainerView {
    pub name: String,
    pub state: String,
    pub health: Option<String>,
    pub image: String,
    pub build_target: Option<String>,
    pub env: Option<String>,
    pub ports: Vec<String>,
    #[ts(type = "number")]
    pub restart_count: i64,
    #[ts(type = "number | null")]
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
}

impl From<ContainerStatus> for ContainerView {
    fn from(c: ContainerStatus) -> Self {
        ContainerView {
            name: c.name,
            state: c.state,
            health: c.health,
            image: c.image,
            build_target: c.build_target,
            env: c.env,
            ports: c.ports,
            restart_count: c.restart_count,
            exit_code: c.exit_code,
            oom_killed: c.oom_killed,
        }
    }
}

/// Live state of the open stack, pushed as the engine reports it (event `stack-state`).
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[ts(export)]
pub enum StateEvent {
    #[serde(rename_all = "camelCase")]
    Snapshot {
        stack: String,
        containers: BTreeMap<String, ContainerView>,
    },
    #[serde(rename_all = "camelCase")]
    Container {
        stack: String,
        service: String,
        action: String,
        status: Option<Box<ContainerView>>,
    },
    #[serde(rename_all = "camelCase")]
    EngineDown { stack: String, reason: String },
}

impl StateEvent {
    pub fn from_change(stack: &str, c: StackChange) -> Self {
        let stack = stack.to_string();
        match c {
            StackChange::Snapshot { containers } => StateEvent::Snapshot {
                stack,
                containers: containers.into_iter().map(|(k, v)| (k, v.into())).collect(),
            },
            StackChange::Container {
                service,
                action,
                status,
                ..
            } => StateEvent::Container {
                stack,
                service,
                action,
                status: status.map(|s| Box::new((*s).into())),
            },
            StackChange::EngineDown { reason } => StateEvent::EngineDown { stack, reason },
        }
    }
}

/// Progress of a long operation (up, down), streamed over a channel.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "event", content = "payload", rename_all = "camelCase")]
#[ts(export)]
pub enum ProgressEvent {
    #[serde(rename_all = "camelCase")]
    Service {
        service: String,
        phase: String,
        detail: Option<String>,
        #[ts(type = "number")]
        elapsed_ms: u64,
    },
    #[serde(rename_all = "camelCase")]
    Output { service: String, line: String },
    #[serde(rename_all = "camelCase")]
    Resource { kind: String, name: String, action: String },
    #[serde(rename_all = "camelCase")]
    Failure {
        service: String,
        reason: String,
        health_output: Vec<String>,
        logs: Vec<String>,
    },
}

fn phase_name(p: Phase) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl From<Event> for ProgressEvent {
    fn from(e: Event) -> Self {
        match e {
            Event::Service {
                service,
                phase,
                detail,
                elapsed_ms,
            } => ProgressEvent::Service {
                service,
                phase: phase_name(phase),
                detail,
                elapsed_ms,
            },
            Event::BuildOutput { service, line } => ProgressEvent::Output { service, line },
            Event::Resource { kind, name, action } => ProgressEvent::Resource { kind, name, action },
            Event::Failure(r) => ProgressEvent::Failure {
                service: r.service,
                reason: r.reason,
                health_output: r.health_output,
                logs: r.logs,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum ServiceAction {
    Start,
    Stop,
    Restart,
}

/// What reaches the window when a command fails: the UI branches on `code`, never on text.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ApiError {
    /// engine_unreachable, invalid_stack, preflight, failed, docker, internal.
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<deck_engine::EngineError> for ApiError {
    fn from(e: deck_engine::EngineError) -> Self {
        use deck_engine::EngineError as E;
        let code = match &e {
            E::Unreachable { .. } | E::PermissionDenied { .. } => "engine_unreachable",
            E::Preflight(_) => "preflight",
            E::Failed(_) | E::Build { .. } => "failed",
            E::Docker { .. } => "docker",
            E::Io(_) => "internal",
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<deck_stack::StackError> for ApiError {
    fn from(e: deck_stack::StackError) -> Self {
        ApiError::new("invalid_stack", e.to_string())
    }
}
