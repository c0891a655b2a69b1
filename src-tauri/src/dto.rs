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
    /// A step of a longer operation (a switch: checks, safety backup, builds, rollback).
    #[serde(rename_all = "camelCase")]
    Step { message: String },
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

impl From<deck_backup::BackupError> for ApiError {
    fn from(e: deck_backup::BackupError) -> Self {
        use deck_backup::BackupError as E;
        let code = match &e {
            E::Engine(inner) => return ApiError::new("failed", inner.to_string()),
            E::Invalid(_) => "invalid",
            E::Refused(_) | E::Busy(_) => "refused",
            E::Cancelled => "cancelled",
            E::RolledBack { .. } => "rolled_back",
            E::Io { .. } | E::Failed(_) | E::RollbackFailed { .. } => "failed",
        };
        ApiError::new(code, e.to_string())
    }
}

/// One file of a backup set.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BackupItemDto {
    /// `db:<service>` or `volume:<key>`.
    pub id: String,
    pub description: String,
    #[ts(type = "number")]
    pub size: u64,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BackupSetDto {
    pub id: String,
    /// manual or safety.
    pub kind: String,
    pub env: Option<String>,
    #[ts(type = "number")]
    pub created_unix: u64,
    #[ts(type = "number")]
    pub size: u64,
    pub items: Vec<BackupItemDto>,
    /// ok, failed, or written (checked when written, not since).
    pub verified: String,
    pub problem: Option<String>,
    #[ts(type = "number | null")]
    pub verified_unix: Option<u64>,
}

impl From<deck_backup::SetInfo> for BackupSetDto {
    fn from(s: deck_backup::SetInfo) -> Self {
        let (verified, problem, verified_unix) = match s.check {
            None => ("written".to_string(), None, None),
            Some(c) => (
                if c.problem.is_none() { "ok" } else { "failed" }.to_string(),
                c.problem,
                Some(c.at_unix),
            ),
        };
        BackupSetDto {
            items: s
                .manifest
                .items
                .iter()
                .map(|i| BackupItemDto {
                    id: i.id(),
                    description: i.describe(),
                    size: i.size,
                })
                .collect(),
            id: s.id,
            kind: s.manifest.kind.to_string(),
            env: s.manifest.env,
            created_unix: s.manifest.created_unix,
            size: s.size,
            verified,
            problem,
            verified_unix,
        }
    }
}

/// Where backups go and how many are kept.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BackupSettingsDto {
    pub dir: String,
    pub keep: u32,
    pub max_age_days: Option<u32>,
    pub keep_safety: u32,
}

impl From<&deck_backup::Settings> for BackupSettingsDto {
    fn from(s: &deck_backup::Settings) -> Self {
        BackupSettingsDto {
            dir: s.dir.display().to_string(),
            keep: s.keep as u32,
            max_age_days: s.max_age_days,
            keep_safety: s.keep_safety as u32,
        }
    }
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct BackupList {
    pub sets: Vec<BackupSetDto>,
    /// Ids of backups that were interrupted (cleaned up by the next backup or restore).
    pub interrupted: Vec<String>,
    /// Folders that are not readable sets, with why.
    pub unreadable: Vec<(String, String)>,
    /// What a backup of this stack covers.
    pub covers: Vec<String>,
    pub settings: BackupSettingsDto,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RestoreResult {
    pub set: String,
    pub items: Vec<String>,
    pub safety: Option<String>,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

/// Progress of a backup, verification or restore.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "event", rename_all = "camelCase")]
#[ts(export)]
pub enum BackupProgress {
    /// The work ahead (op: backup, safety, verify, restore, rollback).
    #[serde(rename_all = "camelCase")]
    Plan {
        op: String,
        set: String,
        items: Vec<PlannedItem>,
    },
    #[serde(rename_all = "camelCase")]
    Bytes {
        op: String,
        item: String,
        #[ts(type = "number")]
        done: u64,
        #[ts(type = "number | null")]
        total: Option<u64>,
    },
    #[serde(rename_all = "camelCase")]
    ItemDone {
        op: String,
        item: String,
        #[ts(type = "number")]
        raw: u64,
        #[ts(type = "number")]
        stored: u64,
    },
    #[serde(rename_all = "camelCase")]
    Service {
        service: String,
        phase: String,
        detail: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Step { message: String },
    #[serde(rename_all = "camelCase")]
    Done {
        op: String,
        set: String,
        #[ts(type = "number")]
        elapsed_ms: u64,
    },
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PlannedItem {
    pub item: String,
    pub description: String,
    #[ts(type = "number | null")]
    pub total: Option<u64>,
}

fn op_name(op: deck_backup::Op) -> String {
    serde_json::to_value(op)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl From<deck_backup::Progress> for BackupProgress {
    fn from(p: deck_backup::Progress) -> Self {
        use deck_backup::Progress as P;
        match p {
            P::Plan { op, set, items } => BackupProgress::Plan {
                op: op_name(op),
                set,
                items: items
                    .into_iter()
                    .map(|i| PlannedItem {
                        item: i.item,
                        description: i.description,
                        total: i.total,
                    })
                    .collect(),
            },
            P::Bytes { op, item, done, total } => BackupProgress::Bytes {
                op: op_name(op),
                item,
                done,
                total,
            },
            P::ItemDone { op, item, raw, stored } => BackupProgress::ItemDone {
                op: op_name(op),
                item,
                raw,
                stored,
            },
            P::Service { service, phase, detail } => BackupProgress::Service { service, phase, detail },
            P::Step { message } => BackupProgress::Step { message },
            P::Done { op, set, elapsed_ms } => BackupProgress::Done {
                op: op_name(op),
                set,
                elapsed_ms,
            },
        }
    }
}

/// One check of what a container runs against what its environment asks for.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DriftFinding {
    /// image, target, config or env.
    pub check: String,
    /// null: could not be checked.
    pub ok: Option<bool>,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct DriftDto {
    pub service: String,
    /// match, drift, unproven or absent.
    pub verdict: String,
    pub summary: String,
    pub findings: Vec<DriftFinding>,
    /// rebuild or recreate, when it drifted.
    pub fix: Option<String>,
}

fn snake<T: Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl From<deck_engine::ServiceDrift> for DriftDto {
    fn from(d: deck_engine::ServiceDrift) -> Self {
        DriftDto {
            summary: d.summary(),
            service: d.service,
            verdict: snake(d.verdict),
            findings: d
                .findings
                .into_iter()
                .map(|f| DriftFinding {
                    check: f.check,
                    ok: f.ok,
                    message: f.message,
                })
                .collect(),
            fix: d.fix.map(snake),
        }
    }
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SwitchResult {
    pub from: Option<String>,
    pub to: String,
    pub safety: Option<String>,
    pub built: Vec<String>,
    pub rebuilt_no_cache: Vec<String>,
    pub drift: Vec<DriftDto>,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

impl From<deck_switch::SwitchError> for ApiError {
    fn from(e: deck_switch::SwitchError) -> Self {
        use deck_switch::SwitchError as E;
        let code = match &e {
            E::Invalid(_) | E::Preflight(_) => "preflight",
            E::RolledBack { .. } => "rolled_back",
            E::Engine(inner) => return inner_engine(inner, e.to_string()),
            _ => "failed",
        };
        ApiError::new(code, e.to_string())
    }
}

fn inner_engine(e: &deck_engine::EngineError, message: String) -> ApiError {
    let code = match e {
        deck_engine::EngineError::Unreachable { .. } | deck_engine::EngineError::PermissionDenied { .. } => {
            "engine_unreachable"
        }
        deck_engine::EngineError::Preflight(_) => "preflight",
        _ => "failed",
    };
    ApiError::new(code, message)
}
