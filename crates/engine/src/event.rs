//! What the engine reports while it works: one event per step of each service, build output,
//! and failure reports. The CLI prints them; the desktop app draws them on the nodes.

use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Building,
    Built,
    /// The container is kept as it is: its configuration and image did not change.
    Unchanged,
    Created,
    Recreated,
    Starting,
    Started,
    WaitingHealth,
    WaitingExit,
    Ready,
    Failed,
    /// Not started because something it depends on failed.
    Skipped,
    Stopping,
    Stopped,
    Removed,
    Orphan,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Phase::Building => "building",
            Phase::Built => "built",
            Phase::Unchanged => "unchanged",
            Phase::Created => "created",
            Phase::Recreated => "recreated",
            Phase::Starting => "starting",
            Phase::Started => "started",
            Phase::WaitingHealth => "waiting for health",
            Phase::WaitingExit => "waiting to complete",
            Phase::Ready => "ready",
            Phase::Failed => "failed",
            Phase::Skipped => "skipped",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
            Phase::Removed => "removed",
            Phase::Orphan => "orphan",
        };
        f.write_str(s)
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A service moved to a new phase. `elapsed_ms` counts from the start of the operation.
    Service {
        service: String,
        phase: Phase,
        detail: Option<String>,
        elapsed_ms: u64,
    },
    /// One line of build output.
    BuildOutput { service: String, line: String },
    /// A network or volume was created or removed.
    Resource { kind: String, name: String, action: String },
    /// A service failed: why, its last health check output and last log lines.
    Failure(FailureReport),
}

#[derive(Clone, Debug, Serialize)]
pub struct FailureReport {
    pub service: String,
    pub reason: String,
    /// The last outputs of its health check, newest last.
    pub health_output: Vec<String>,
    /// Its last log lines.
    pub logs: Vec<String>,
}

impl fmt::Display for FailureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  {}: {}", self.service, self.reason)?;
        if !self.health_output.is_empty() {
            writeln!(f, "    last health check output:")?;
            for l in &self.health_output {
                writeln!(f, "      {l}")?;
            }
        }
        if !self.logs.is_empty() {
            writeln!(f, "    last log lines:")?;
            for l in &self.logs {
                writeln!(f, "      {l}")?;
            }
        }
        Ok(())
    }
}

/// Where events go; a closed receiver is not an error (nobody is watching).
#[derive(Clone)]
pub(crate) struct Sink {
    tx: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
    start: std::time::Instant,
}

impl Sink {
    pub fn new(tx: Option<tokio::sync::mpsc::UnboundedSender<Event>>) -> Self {
        Sink {
            tx,
            start: std::time::Instant::now(),
        }
    }

    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }

    pub fn step(&self, service: &str, phase: Phase, detail: Option<String>) {
        self.send(Event::Service {
            service: service.to_string(),
            phase,
            detail,
            elapsed_ms: self.start.elapsed().as_millis() as u64,
        });
    }

    pub fn resource(&self, kind: &str, name: &str, action: &str) {
        self.send(Event::Resource {
            kind: kind.into(),
            name: name.into(),
            action: action.into(),
        });
    }
}
