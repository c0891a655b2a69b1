//! Progress of every long operation (up, down, build, backup, verify, restore, switch, repair)
//! as one event enum with typed phases and operations: the CLI prints it, the window draws it on
//! the nodes and in its progress views. Exported to TypeScript.

use serde::Serialize;
use std::fmt;
use ts_rs::TS;

/// Where a service is in an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
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
    /// Paused while its data is read (backup consistency `pause`).
    Paused,
    Unpaused,
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
            Phase::Paused => "paused",
            Phase::Unpaused => "unpaused",
        };
        f.write_str(s)
    }
}

/// What a backup-like operation is doing with its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Op {
    Backup,
    Safety,
    Verify,
    Restore,
    Rollback,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Backup => "backup",
            Op::Safety => "safety backup",
            Op::Verify => "verify",
            Op::Restore => "restore",
            Op::Rollback => "rollback",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ResourceKind {
    Network,
    Volume,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ResourceAction {
    Created,
    Removed,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::Network => "network",
            ResourceKind::Volume => "volume",
        })
    }
}

impl fmt::Display for ResourceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceAction::Created => "created",
            ResourceAction::Removed => "removed",
        })
    }
}

/// One item of the work ahead.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Planned {
    /// `db:<service>` or `volume:<key>`.
    pub item: String,
    pub description: String,
    /// Bytes expected, when known. For a backup this is the engine's estimate.
    #[ts(type = "number | null")]
    pub total: Option<u64>,
    /// Whether `total` is an estimate (a backup's sizes before reading) or exact.
    pub estimate: bool,
}

#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(export)]
pub enum Event {
    /// A service moved to a new phase. `elapsed_ms` counts from the start of the operation.
    Service {
        service: String,
        phase: Phase,
        detail: Option<String>,
        #[ts(type = "number")]
        elapsed_ms: u64,
    },
    /// One line of build output.
    BuildOutput { service: String, line: String },
    /// A network or volume was created or removed.
    Resource {
        kind: ResourceKind,
        name: String,
        action: ResourceAction,
    },
    /// A service failed: why, its last health check output and last log lines.
    Failure(FailureReport),
    /// A step of a longer operation, in words (checks, safety backup, builds, rollback).
    Step { message: String },
    /// The files of a backup, verification or restore ahead.
    Plan { op: Op, set: String, items: Vec<Planned> },
    /// Bytes of one item done so far (at most every few MiB, and at the end).
    Bytes {
        op: Op,
        item: String,
        #[ts(type = "number")]
        done: u64,
        #[ts(type = "number | null")]
        total: Option<u64>,
    },
    /// One item finished: bytes before and after compression.
    ItemDone {
        op: Op,
        item: String,
        #[ts(type = "number")]
        raw: u64,
        #[ts(type = "number")]
        stored: u64,
    },
    /// A backup, verification or restore finished.
    Done {
        op: Op,
        set: String,
        #[ts(type = "number")]
        elapsed_ms: u64,
    },
}

impl Event {
    /// The event with the secrets of the loaded stacks masked in its free text (what services,
    /// builds and health checks print).
    fn redacted(self) -> Event {
        use deck_error::redact::text;
        let own = |s: String| text(&s).into_owned();
        match self {
            Event::Service {
                service,
                phase,
                detail,
                elapsed_ms,
            } => Event::Service {
                service,
                phase,
                detail: detail.map(own),
                elapsed_ms,
            },
            Event::BuildOutput { service, line } => Event::BuildOutput {
                service,
                line: own(line),
            },
            Event::Failure(f) => Event::Failure(FailureReport {
                reason: own(f.reason),
                health_output: f.health_output.into_iter().map(own).collect(),
                logs: f.logs.into_iter().map(own).collect(),
                ..f
            }),
            Event::Step { message } => Event::Step { message: own(message) },
            other => other,
        }
    }
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
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

/// Where the events of one operation go; nobody listening is fine. Cloned into the parts of
/// an operation (a switch's safety backup, builds, down and up), which all report through it.
#[derive(Clone)]
pub struct Sink {
    tx: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
    start: std::time::Instant,
}

impl Default for Sink {
    fn default() -> Self {
        Sink::none()
    }
}

impl Sink {
    pub fn new(tx: tokio::sync::mpsc::UnboundedSender<Event>) -> Self {
        Sink {
            tx: Some(tx),
            start: std::time::Instant::now(),
        }
    }

    /// A sink that drops every event.
    pub fn none() -> Self {
        Sink {
            tx: None,
            start: std::time::Instant::now(),
        }
    }

    /// A sink and the receiving end of its events.
    pub fn channel() -> (Sink, tokio::sync::mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Sink::new(tx), rx)
    }

    pub fn send(&self, e: Event) {
        #[cfg(debug_assertions)]
        crash_point::boundary(&e);
        if let Some(tx) = &self.tx {
            let e = e.redacted();
            let _ = tx.send(e);
        }
    }

    /// A service moved to `phase`.
    pub fn service(&self, service: &str, phase: Phase, detail: Option<String>) {
        self.send(Event::Service {
            service: service.to_string(),
            phase,
            detail,
            elapsed_ms: self.start.elapsed().as_millis() as u64,
        });
    }

    /// A step of the operation, in words.
    pub fn step(&self, message: impl Into<String>) {
        self.send(Event::Step {
            message: message.into(),
        });
    }

    pub fn resource(&self, kind: ResourceKind, name: &str, action: ResourceAction) {
        self.send(Event::Resource {
            kind,
            name: name.into(),
            action,
        });
    }

    /// A byte counter for one item that reports every 4 MiB, at 0 and at the total.
    pub fn bytes(&self, op: Op, item: &str, total: Option<u64>) -> impl Fn(u64) + Send + Sync + 'static {
        let me = self.clone();
        let item = item.to_string();
        let last = std::sync::atomic::AtomicU64::new(0);
        move |done| {
            let prev = last.load(std::sync::atomic::Ordering::Relaxed);
            if done < prev + (4 << 20) && Some(done) != total && done != 0 {
                return;
            }
            last.store(done, std::sync::atomic::Ordering::Relaxed);
            me.send(Event::Bytes {
                op,
                item: item.clone(),
                done,
                total,
            });
        }
    }
}

/// Crash points for the tests, in debug builds only (release builds have none): with
/// `SIRIUS_DECK_KILL_AT=N` the process kills itself with SIGKILL at its Nth step boundary (every
/// progress event is one, but build output and byte counts), after saying which on stderr.
/// With `SIRIUS_DECK_KILL_PID=P` as well, it kills process `P` instead (the tests' own Docker
/// engine), waits until that process is gone, and goes on. With `N` beyond the last boundary,
/// the run ends normally. With `SIRIUS_DECK_STOP_AT=TEXT`, it stops itself (SIGSTOP) at the first
/// boundary whose event, as JSON, contains `TEXT`, for the test to change the world before it
/// continues (a count would shift: how many times a service is seen waiting varies).
#[cfg(debug_assertions)]
mod crash_point {
    use super::Event;
    use rustix::process::{getpid, kill_process, Pid, Signal};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    enum Then {
        KillSelf,
        Kill(Pid),
        Stop,
    }

    enum At {
        Nth(u64),
        First(String),
    }

    static AT: OnceLock<Option<(At, Then)>> = OnceLock::new();
    static PASSED: AtomicU64 = AtomicU64::new(0);
    static FIRED: AtomicBool = AtomicBool::new(false);

    fn setting() -> Option<(At, Then)> {
        if let Ok(text) = std::env::var("SIRIUS_DECK_STOP_AT") {
            return Some((At::First(text), Then::Stop));
        }
        let at = At::Nth(std::env::var("SIRIUS_DECK_KILL_AT").ok()?.parse().ok()?);
        let Ok(other) = std::env::var("SIRIUS_DECK_KILL_PID") else {
            return Some((at, Then::KillSelf));
        };
        match other.parse().ok().and_then(Pid::from_raw) {
            Some(pid) => Some((at, Then::Kill(pid))),
            None => {
                eprintln!("sirius-deck: SIRIUS_DECK_KILL_PID={other} is not a process id: no crash point");
                None
            }
        }
    }

    /// Whether process `pid` has exited (gone, or a zombie its parent has not reaped yet).
    fn gone(pid: Pid) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())).map_or(true, |s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X']))
        })
    }

    pub fn boundary(e: &Event) {
        let Some((at, then)) = AT.get_or_init(setting) else {
            return;
        };
        if matches!(e, Event::Bytes { .. } | Event::BuildOutput { .. }) {
            return;
        }
        let n = PASSED.fetch_add(1, Ordering::SeqCst) + 1;
        let what = serde_json::to_string(e).unwrap_or_default();
        let hit = match at {
            At::Nth(k) => n == *k,
            At::First(text) => what.contains(text.as_str()) && !FIRED.swap(true, Ordering::SeqCst),
        };
        if !hit {
            return;
        }
        match then {
            Then::KillSelf => {
                eprintln!("sirius-deck: killed at crash point {n}: {what}");
                let _ = kill_process(getpid(), Signal::KILL);
            }
            Then::Kill(pid) => {
                eprintln!(
                    "sirius-deck: killed process {} at crash point {n}: {what}",
                    pid.as_raw_nonzero()
                );
                let _ = kill_process(*pid, Signal::KILL);
                let deadline = Instant::now() + Duration::from_secs(10);
                while !gone(*pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Then::Stop => {
                eprintln!("sirius-deck: stopped at crash point {n}: {what}");
                let _ = kill_process(getpid(), Signal::STOP);
            }
        }
    }
}
