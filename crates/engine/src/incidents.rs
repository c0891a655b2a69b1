//! Incidents: what is worth telling a person about a running stack, from the engine's events.
//! One notification per incident (not one per event), one when it recovers, a summary for a
//! service that flaps, and nothing for what was expected: one-shots that completed, stops asked
//! for here (a stop from the window or the CLI, a `down`, a switch, a backup: see `ours`). A stop
//! from outside (`docker kill`, `docker stop` by another tool) is an incident of its own.

use crate::observe::{ContainerAction, StackChange};
use crate::status::ContainerStatus;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};
use ts_rs::TS;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum IncidentKind {
    /// Its health check failed; `output` is the check's last output when known.
    Unhealthy { output: Option<String> },
    /// It exited by itself with a non-zero code (or zero, for a service meant to keep running);
    /// the code when the engine said it.
    Exited {
        #[ts(type = "number | null")]
        code: Option<i64>,
    },
    /// Something other than Sirius Deck stopped it (`docker stop`, `docker kill`).
    StoppedOutside,
    /// The kernel killed it for exceeding its memory limit.
    OutOfMemory,
    /// It keeps restarting.
    RestartLoop { restarts: usize },
    /// It went bad and recovered several times in a short while; quiet until it settles.
    Flapping { times: usize },
    /// It is healthy (or running) again.
    Recovered,
    /// A swarm node went down (`service` names it); the tasks it ran, which the swarm moves.
    NodeDown { tasks: Vec<String> },
    /// A swarm task failed (`container` names it as `<service>.<slot>`), with the swarm's error.
    TaskFailed { error: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Incident {
    pub service: String,
    /// The container, when the service runs several replicas (which one it is about).
    pub container: Option<String>,
    #[serde(flatten)]
    pub kind: IncidentKind,
    /// When the engine reported the event that raised it (ns since the epoch), if known.
    #[ts(type = "number | null")]
    pub event_time_ns: Option<i64>,
}

impl Incident {
    pub fn is_recovery(&self) -> bool {
        self.kind == IncidentKind::Recovered
    }

    /// A short title and a body for a notification.
    pub fn text(&self, stack: &str) -> (String, String) {
        let s = self.container.as_ref().unwrap_or(&self.service);
        match &self.kind {
            IncidentKind::Unhealthy { output } => (
                format!("{s} is unhealthy ({stack})"),
                match output {
                    Some(o) if !o.is_empty() => format!("Its health check failed: {o}"),
                    _ => "Its health check failed.".into(),
                },
            ),
            IncidentKind::Exited { code } => (
                format!("{s} exited ({stack})"),
                match code {
                    Some(code) => format!("It stopped by itself with exit code {code}."),
                    None => "It stopped by itself.".into(),
                },
            ),
            IncidentKind::StoppedOutside => (
                format!("{s} was stopped from outside ({stack})"),
                "Something other than Sirius Deck stopped it (docker stop or docker kill). Start it again from Sirius Deck.".into(),
            ),
            IncidentKind::OutOfMemory => (
                format!("{s} ran out of memory ({stack})"),
                "It was killed for exceeding its memory limit (out of memory).".into(),
            ),
            IncidentKind::RestartLoop { restarts } => (
                format!("{s} keeps restarting ({stack})"),
                format!("It restarted {restarts} times in a minute."),
            ),
            IncidentKind::Flapping { times } => (
                format!("{s} is flapping ({stack})"),
                format!(
                    "It failed and recovered {times} times in a few minutes; no more notifications until it settles."
                ),
            ),
            IncidentKind::Recovered => (format!("{s} recovered ({stack})"), "It is back to normal.".into()),
            IncidentKind::NodeDown { tasks } => (
                format!("{s} is down ({stack})"),
                if tasks.is_empty() {
                    "It ran no task of the stack.".into()
                } else {
                    format!("It ran {}: the swarm starts them on the other nodes.", tasks.join(", "))
                },
            ),
            IncidentKind::TaskFailed { error } => (format!("{s} failed ({stack})"), format!("The swarm says: {error}")),
        }
    }
}

impl fmt::Display for Incident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (title, body) = self.text("");
        write!(f, "{} {}", title.trim_end_matches(" ()"), body)
    }
}

/// Tuning of the tracker; the defaults suit people, tests shorten them.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    /// Restarts within `restart_window` that make a restart loop.
    pub restart_loop: usize,
    pub restart_window: Duration,
    /// Incidents within `flap_window` that make a service flapping.
    pub flap_after: usize,
    pub flap_window: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            restart_loop: 3,
            restart_window: Duration::from_secs(60),
            flap_after: 3,
            flap_window: Duration::from_secs(300),
        }
    }
}

/// What the tracker remembers of one container.
#[derive(Default)]
struct ServiceState {
    open: bool,
    /// Incident openings, for flapping.
    opened: VecDeque<Instant>,
    starts: VecDeque<Instant>,
    loop_reported: bool,
    flapping_until: Option<Instant>,
}

/// Whether a stop of a container (name, id), seen now, was asked for here.
pub type OursCheck = Box<dyn Fn(&str, &str) -> bool + Send>;

/// How long a stop from outside waits before it is told (dropped if the engine goes away then).
const OUTSIDE_HOLD: Duration = Duration::from_secs(5);

/// How long after a kill from outside its container's death counts as that stop (the longest
/// stop timeout there is in practice); a death later than that is a crash of its own.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Turns a stream of state changes into incidents. Pure but for `ours` (which reads the marks
/// our processes leave before they stop a container): the caller feeds it changes and the
/// time, and says which services are one-shots.
pub struct IncidentTracker {
    config: TrackerConfig,
    one_shots: BTreeSet<String>,
    ours: OursCheck,
    /// Containers (by name) that we asked to stop.
    expected_stops: BTreeSet<String>,
    /// Containers (by name) that something else is stopping, since when.
    outside_stops: BTreeMap<String, Instant>,
    /// Containers (by name) that something else stopped, not started since.
    stopped_outside: BTreeSet<String>,
    /// By container name.
    services: BTreeMap<String, ServiceState>,
    /// The last status of each container, by name.
    known: BTreeMap<String, ContainerStatus>,
    /// The engine went away: the next snapshot shows what happened meanwhile.
    away: bool,
}

impl IncidentTracker {
    pub fn new(config: TrackerConfig, one_shots: impl IntoIterator<Item = String>) -> Self {
        IncidentTracker {
            config,
            one_shots: one_shots.into_iter().collect(),
            ours: Box::new(crate::ours::stopped_by_us),
            expected_stops: BTreeSet::new(),
            outside_stops: BTreeMap::new(),
            stopped_outside: BTreeSet::new(),
            services: BTreeMap::new(),
            known: BTreeMap::new(),
            away: false,
        }
    }

    /// Tells stops of ours by `ours` instead of the marks (tests).
    pub fn with_ours(mut self, ours: OursCheck) -> Self {
        self.ours = ours;
        self
    }

    /// Marks in a change the containers that were stopped from outside (`stopped_outside`), as
    /// the events seen so far tell.
    pub fn annotate(&self, change: &mut StackChange) {
        let outside = |name: &str, c: &ContainerStatus| {
            self.stopped_outside.contains(name) && c.state != crate::ContainerState::Running
        };
        match change {
            StackChange::Snapshot { containers } => {
                for (name, c) in containers.iter_mut() {
                    c.stopped_outside = outside(name, c);
                }
            }
            StackChange::Container {
                container,
                status: Some(s),
                ..
            } => s.stopped_outside = outside(container, s),
            _ => {}
        }
    }

    pub fn observe(&mut self, change: &StackChange, now: Instant) -> Vec<Incident> {
        match change {
            StackChange::Snapshot { containers } => {
                // A container that runs now was started again (by the engine's restart, or while
                // the watch was away): its next exit is not one that was asked for.
                let stopped = |s: &String| {
                    containers
                        .get(s)
                        .is_none_or(|c| c.state != crate::ContainerState::Running)
                };
                self.expected_stops.retain(stopped);
                self.outside_stops.retain(|s, _| stopped(s));
                // After the engine was away: a container that ran and has stopped since, with no
                // event seen (an engine that comes back without live restore stops every
                // container before it answers). A die nobody saw. (Other snapshots only catch
                // up: what they show changing has its events on the way.)
                let away = std::mem::take(&mut self.away);
                let stopped: Vec<ContainerStatus> = containers
                    .iter()
                    .filter(|(name, c)| {
                        away && matches!(c.state, crate::ContainerState::Exited | crate::ContainerState::Dead)
                            && self
                                .known
                                .get(*name)
                                .is_some_and(|before| before.state == crate::ContainerState::Running)
                    })
                    .map(|(_, c)| c.clone())
                    .collect();
                self.known = containers.clone();
                let mut out = Vec::new();
                for c in stopped {
                    let replicated = self.replicated(&c.service, &c.name, c.number);
                    let mut found =
                        self.on_event(&c.service, &c.name, ContainerAction::Die, Some(&c), c.exit_code, now);
                    for i in &mut found {
                        i.container = replicated.then(|| c.name.clone());
                    }
                    out.extend(found);
                }
                out
            }
            StackChange::EngineDown { .. } => {
                self.away = true;
                Vec::new()
            }
            StackChange::Container {
                service,
                container,
                id,
                number,
                action,
                status,
                time_ns,
                exit_code,
            } => {
                if let Some(s) = status {
                    self.known.insert(container.clone(), (**s).clone());
                } else {
                    self.known.remove(container);
                }
                let replicated = self.replicated(service, container, *number);
                if matches!(action, ContainerAction::Kill | ContainerAction::Stop) {
                    self.note_stop(container, id, now);
                }
                let mut out = self.on_event(service, container, *action, status.as_deref(), *exit_code, now);
                for i in &mut out {
                    i.event_time_ns = *time_ns;
                    i.container = replicated.then(|| container.clone());
                }
                out
            }
        }
    }

    /// Someone asked a container to stop: the engine reports a kill (or a stop) before the die;
    /// a crash or the kernel's OOM killer does not. Asked here (marked just before, see `ours`),
    /// the die is expected; asked by another tool, it is a stop from outside.
    fn note_stop(&mut self, container: &str, id: &str, now: Instant) {
        if (self.ours)(container, id) {
            self.expected_stops.insert(container.to_string());
        } else if !self.expected_stops.contains(container) {
            // The first kill of a stop counts (`docker stop` sends a second one on its timeout).
            self.outside_stops.entry(container.to_string()).or_insert(now);
        }
    }

    /// Whether the service runs several replicas (an incident then names its container).
    fn replicated(&self, service: &str, container: &str, number: u32) -> bool {
        number > 1 || self.known.values().any(|c| c.service == service && c.name != container)
    }

    fn on_event(
        &mut self,
        service: &str,
        container: &str,
        action: ContainerAction,
        status: Option<&ContainerStatus>,
        exit_code: Option<i64>,
        now: Instant,
    ) -> Vec<Incident> {
        use ContainerAction as A;
        let config = self.config.clone();
        // A die after a kill (see `note_stop`) was asked for, here or by another tool.
        let (expected, outside) = match action {
            A::Start | A::Destroy => {
                self.expected_stops.remove(container);
                self.outside_stops.remove(container);
                self.stopped_outside.remove(container);
                (false, false)
            }
            A::Die => {
                let outside = self
                    .outside_stops
                    .remove(container)
                    .is_some_and(|since| now.duration_since(since) <= STOP_TIMEOUT);
                if outside {
                    self.stopped_outside.insert(container.to_string());
                }
                (self.expected_stops.contains(container), outside)
            }
            _ => (false, false),
        };
        let one_shot = self.one_shots.contains(service);
        let state = self.services.entry(container.to_string()).or_default();
        let incident = |kind| Incident {
            service: service.to_string(),
            container: None,
            kind,
            event_time_ns: None,
        };

        let problem = match action {
            A::Unhealthy => Some(IncidentKind::Unhealthy { output: None }),
            A::Oom => Some(IncidentKind::OutOfMemory),
            A::Die if expected => None,
            A::Die if status.is_some_and(|s| s.oom_killed) => Some(IncidentKind::OutOfMemory),
            A::Die if outside => Some(IncidentKind::StoppedOutside),
            A::Die => {
                let code = exit_code.or(status.and_then(|s| s.exit_code));
                if one_shot && code == Some(0) {
                    None
                } else {
                    Some(IncidentKind::Exited { code })
                }
            }
            _ => None,
        };
        if action == A::Start {
            state.starts.push_back(now);
            while state
                .starts
                .front()
                .is_some_and(|t| now.duration_since(*t) > config.restart_window)
            {
                state.starts.pop_front();
            }
        }
        let recovered = match action {
            A::Healthy => true,
            // Without a health check, running again is recovering.
            A::Start => status.is_some_and(|s| s.health.is_none()),
            _ => false,
        };
        let flapping = state.flapping_until.is_some_and(|t| now < t);
        if !flapping {
            state.flapping_until = None;
        }
        let mut out = Vec::new();
        if let Some(kind) = problem {
            if state.open {
                // One notification per incident; a restart loop is summarised once.
                if state.starts.len() >= config.restart_loop && !state.loop_reported && !flapping {
                    state.loop_reported = true;
                    out.push(incident(IncidentKind::RestartLoop {
                        restarts: state.starts.len(),
                    }));
                }
                return out;
            }
            state.open = true;
            state.opened.push_back(now);
            while state
                .opened
                .front()
                .is_some_and(|t| now.duration_since(*t) > config.flap_window)
            {
                state.opened.pop_front();
            }
            if flapping {
                return out;
            }
            if state.opened.len() >= config.flap_after {
                state.flapping_until = Some(now + config.flap_window);
                out.push(incident(IncidentKind::Flapping {
                    times: state.opened.len(),
                }));
                return out;
            }
            out.push(incident(kind));
        } else if recovered && state.open {
            state.open = false;
            state.loop_reported = false;
            if !flapping {
                out.push(incident(IncidentKind::Recovered));
            }
        } else if action == A::Start
            && state.open
            && state.starts.len() >= config.restart_loop
            && !state.loop_reported
            && !flapping
        {
            state.loop_reported = true;
            out.push(incident(IncidentKind::RestartLoop {
                restarts: state.starts.len(),
            }));
        }
        out
    }
}

/// What a live watch of a stack reports: each change of its containers as the engine reports
/// it, and the incidents those changes raise.
#[derive(Clone, Debug)]
pub enum Observed {
    Change(StackChange),
    Incident(Incident),
}

/// A running watch of a stack's state and incidents; dropping it stops the watch.
pub struct IncidentWatch {
    pub events: tokio::sync::mpsc::Receiver<Observed>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IncidentWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl crate::Engine {
    /// Watches a project: every change, then the incidents it raises (the unhealthy ones with
    /// their health check's last output). The underlying watch reconnects by itself when the
    /// engine goes away and comes back.
    pub fn watch_incidents(&self, project: &deck_compose::Project, config: TrackerConfig) -> IncidentWatch {
        let mut watch = self.watch(project.name.clone(), Duration::from_secs(30));
        let mut tracker = IncidentTracker::new(config, project.one_shots());
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let engine = self.clone();
        let project = project.clone();
        let task = tokio::spawn(async move {
            // Stops from outside wait a moment before they are told: when the engine itself
            // shuts down it stops every container first, and its going away says it all.
            let mut held: VecDeque<(tokio::time::Instant, Incident)> = VecDeque::new();
            loop {
                let due = held.front().map(|(t, _)| *t);
                let change = tokio::select! {
                    change = watch.changes.recv() => change,
                    () = async { tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)).await }, if due.is_some() => {
                        if let Some((_, incident)) = held.pop_front() {
                            if tx.send(Observed::Incident(incident)).await.is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                };
                let Some(mut change) = change else { return };
                if matches!(change, StackChange::EngineDown { .. }) {
                    held.clear();
                }
                let found = tracker.observe(&change, Instant::now());
                tracker.annotate(&mut change);
                if tx.send(Observed::Change(change)).await.is_err() {
                    return;
                }
                for mut incident in found {
                    if incident.kind == IncidentKind::StoppedOutside {
                        held.push_back((tokio::time::Instant::now() + OUTSIDE_HOLD, incident));
                        continue;
                    }
                    // Back before its stop was told (`docker restart`): nothing to tell.
                    let same = |i: &Incident| i.service == incident.service && i.container == incident.container;
                    if incident.is_recovery() && held.iter().any(|(_, i)| same(i)) {
                        held.retain(|(_, i)| !same(i));
                        continue;
                    }
                    engine.describe(&project, &mut incident).await;
                    if tx.send(Observed::Incident(incident)).await.is_err() {
                        return;
                    }
                }
            }
        });
        IncidentWatch { events: rx, task }
    }

    /// Adds what the engine knows to an incident: an unhealthy service's last health check output.
    pub async fn describe(&self, project: &deck_compose::Project, incident: &mut Incident) {
        if let IncidentKind::Unhealthy { output } = &mut incident.kind {
            let container = incident
                .container
                .clone()
                .unwrap_or_else(|| project.container_name(&incident.service));
            *output = self
                .container_health_log(&container)
                .await
                .ok()
                .and_then(|log| log.last().map(|run| run.output.clone()));
        }
    }
}

/// Raises a desktop notification for an incident (freedesktop notifications over D-Bus).
/// With `on_open`, the notification offers "Open", and clicking it calls `on_open`.
pub async fn notify_desktop(
    stack: &str,
    incident: &Incident,
    on_open: Option<Box<dyn FnOnce() + Send>>,
) -> Result<(), String> {
    let (title, body) = incident.text(stack);
    let (title, body) = (
        deck_error::redact::text(&title).into_owned(),
        deck_error::redact::text(&body).into_owned(),
    );
    let urgency = if incident.is_recovery() {
        notify_rust::Urgency::Normal
    } else {
        notify_rust::Urgency::Critical
    };
    let service = incident.service.clone();
    // A notification that offers "Open" is waited on by a thread of its own until it is
    // clicked or closed; a few at a time: past those, notifications only inform.
    static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    const MAX_WAITING: usize = 4;
    let on_open = on_open.filter(|_| {
        WAITING
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| (n < MAX_WAITING).then_some(n + 1),
            )
            .is_ok()
    });
    tokio::task::spawn_blocking(move || {
        let mut n = notify_rust::Notification::new();
        n.appname("Sirius Deck")
            .summary(&title)
            .body(&body)
            .urgency(urgency)
            .hint(notify_rust::Hint::Custom("x-sirius-deck-service".into(), service));
        if on_open.is_some() {
            n.action("default", "Open");
        }
        let release = || WAITING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        let handle = match n.show() {
            Ok(h) => h,
            Err(e) => {
                if on_open.is_some() {
                    release();
                }
                return Err(e.to_string());
            }
        };
        if let Some(open) = on_open {
            // Waits until the notification is clicked or closed, off the async runtime.
            std::thread::spawn(move || {
                handle.wait_for_action(|action| {
                    if action == "default" {
                        open();
                    }
                });
                release();
            });
        }
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(s: &str) -> T {
        serde_json::from_value(serde_json::Value::String(s.into())).expect("a known value")
    }

    fn status(state: &str, health: Option<&str>, exit: Option<i64>, oom: bool) -> ContainerStatus {
        ContainerStatus {
            name: "c".into(),
            id: "id".into(),
            service: "s".into(),
            number: 1,
            state: parse(state),
            health: health.map(parse),
            image: "i".into(),
            image_id: "sha".into(),
            build_target: None,
            env: None,
            ports: vec![],
            restart_count: 0,
            exit_code: exit,
            oom_killed: oom,
            started_at: None,
            stopped_outside: false,
        }
    }

    fn ev(service: &str, action: &str, s: Option<ContainerStatus>) -> StackChange {
        StackChange::Container {
            service: service.into(),
            container: service.into(),
            id: format!("{service}-id"),
            number: 1,
            action: ContainerAction::parse(action).expect("an action that matters"),
            status: s.map(Box::new),
            time_ns: None,
            exit_code: None,
        }
    }

    fn died(service: &str, code: i64, s: Option<ContainerStatus>) -> StackChange {
        match ev(service, "die", s) {
            StackChange::Container {
                service,
                container,
                id,
                number,
                action,
                status,
                time_ns,
                ..
            } => StackChange::Container {
                service,
                container,
                id,
                number,
                action,
                status,
                time_ns,
                exit_code: Some(code),
            },
            other => other,
        }
    }

    #[test]
    fn the_exit_code_comes_from_the_die_event() {
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        let now = Instant::now();
        // Restarting already: the state carries no exit code, the event does.
        let restarting = status("restarting", None, None, false);
        assert_eq!(
            kinds(t.observe(&died("api", 0, Some(restarting)), now)),
            vec![IncidentKind::Exited { code: Some(0) }]
        );
    }

    #[test]
    fn a_container_that_stopped_while_the_watch_was_away_is_an_incident() {
        let mut t =
            IncidentTracker::new(TrackerConfig::default(), ["migrate".to_string()]).with_ours(Box::new(|_, _| true));
        let now = Instant::now();
        let named = |name: &str, state: &str, exit: Option<i64>| {
            let mut s = status(state, None, exit, false);
            s.name = name.into();
            s.service = name.into();
            s
        };
        let snapshot = |list: Vec<ContainerStatus>| StackChange::Snapshot {
            containers: list.into_iter().map(|c| (c.name.clone(), c)).collect(),
        };
        assert!(t
            .observe(
                &snapshot(vec![
                    named("db", "running", None),
                    named("api", "running", None),
                    named("migrate", "running", None),
                    named("ui", "exited", Some(1)),
                ]),
                now
            )
            .is_empty());
        // The engine went away and came back, having stopped them: no event was seen.
        let down = StackChange::EngineDown {
            reason: "connection refused".into(),
        };
        assert!(t.observe(&down, now).is_empty());
        let out = t.observe(
            &snapshot(vec![
                named("db", "exited", Some(0)),
                named("api", "running", None),
                named("migrate", "exited", Some(0)),
                named("ui", "exited", Some(1)),
            ]),
            now,
        );
        // db's stop is reported, with its exit code; a one-shot that ended well is not; ui had
        // stopped before.
        assert_eq!(
            out.iter()
                .map(|i| (i.service.as_str(), i.kind.clone()))
                .collect::<Vec<_>>(),
            vec![("db", IncidentKind::Exited { code: Some(0) })]
        );
        // A periodic snapshot only catches up with events on their way: it raises nothing,
        // even for a container it shows stopped.
        assert!(t
            .observe(
                &snapshot(vec![named("db", "exited", Some(0)), named("api", "exited", Some(1))]),
                now
            )
            .is_empty());
    }

    #[test]
    fn a_snapshot_of_running_containers_forgets_stops_that_were_asked_for() {
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        let now = Instant::now();
        // The engine shuts down: a kill, then the die, both expected.
        assert!(t.observe(&ev("db", "kill", None), now).is_empty());
        assert!(t.observe(&died("db", 0, None), now).is_empty());
        // It comes back and restarts the container while the watch reconnects: the start is not
        // seen, the snapshot shows it running. Its next crash is an incident.
        let mut containers = BTreeMap::new();
        containers.insert("db".to_string(), status("running", None, None, false));
        assert!(t.observe(&StackChange::Snapshot { containers }, now).is_empty());
        assert_eq!(
            kinds(t.observe(&died("db", 1, Some(status("exited", None, Some(1), false))), now)),
            vec![IncidentKind::Exited { code: Some(1) }]
        );
    }

    fn kinds(out: Vec<Incident>) -> Vec<IncidentKind> {
        out.into_iter().map(|i| i.kind).collect()
    }

    #[test]
    fn one_notification_per_incident_and_one_on_recovery() {
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        let now = Instant::now();
        let unhealthy = || {
            ev(
                "db",
                "health_status: unhealthy",
                Some(status("running", Some("unhealthy"), None, false)),
            )
        };
        assert_eq!(
            kinds(t.observe(&unhealthy(), now)),
            vec![IncidentKind::Unhealthy { output: None }]
        );
        assert!(t.observe(&unhealthy(), now).is_empty(), "the same incident again");
        let healthy = ev(
            "db",
            "health_status: healthy",
            Some(status("running", Some("healthy"), None, false)),
        );
        assert_eq!(kinds(t.observe(&healthy, now)), vec![IncidentKind::Recovered]);
        assert!(t.observe(&healthy, now).is_empty(), "recovered once");
    }

    #[test]
    fn each_replica_has_its_own_incidents_named_by_its_container() {
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        let now = Instant::now();
        let replica = |n: u32, action: &str, health: &str| {
            let name = format!("lab-api-{n}");
            let mut s = status("running", Some(health), None, false);
            (s.name, s.service) = (name.clone(), "api".into());
            StackChange::Container {
                service: "api".into(),
                id: format!("{name}-id"),
                container: name,
                number: n,
                action: ContainerAction::parse(action).expect("an action that matters"),
                status: Some(Box::new(s)),
                time_ns: None,
                exit_code: None,
            }
        };
        assert!(t.observe(&replica(1, "start", "healthy"), now).is_empty());
        let out = t.observe(&replica(2, "health_status: unhealthy", "unhealthy"), now);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].container.as_deref(), Some("lab-api-2"));
        assert_eq!(out[0].text("lab").0, "lab-api-2 is unhealthy (lab)");
        // The other replica failing is another incident, not the same one again.
        let out = t.observe(&replica(1, "health_status: unhealthy", "unhealthy"), now);
        assert_eq!(
            out.iter().map(|i| i.container.as_deref()).collect::<Vec<_>>(),
            vec![Some("lab-api-1")]
        );
        let out = t.observe(&replica(2, "health_status: healthy", "healthy"), now);
        assert_eq!(kinds(out), vec![IncidentKind::Recovered]);
    }

    #[test]
    fn expected_exits_raise_nothing() {
        let mut t =
            IncidentTracker::new(TrackerConfig::default(), ["migrate".to_string()]).with_ours(Box::new(|_, _| true));
        let now = Instant::now();
        assert!(t
            .observe(&ev("migrate", "die", Some(status("exited", None, Some(0), false))), now)
            .is_empty());
        assert!(t.observe(&ev("api", "kill", None), now).is_empty());
        assert!(t
            .observe(&ev("api", "die", Some(status("exited", None, Some(143), false))), now)
            .is_empty());
        // A stop asked for here (marked): a kill, then the die.
        assert!(t.observe(&ev("db", "kill", None), now).is_empty());
        assert!(t
            .observe(&ev("db", "die", Some(status("exited", None, Some(0), false))), now)
            .is_empty());
        assert!(t
            .observe(&ev("db", "start", Some(status("running", None, None, false))), now)
            .is_empty());
        assert_eq!(
            kinds(t.observe(&ev("web", "die", Some(status("exited", None, Some(1), false))), now)),
            vec![IncidentKind::Exited { code: Some(1) }]
        );
    }

    #[test]
    fn a_stop_from_outside_is_one_incident_of_its_own() {
        // Nothing of ours stopped "db": `docker kill` or `docker stop` by another tool.
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|name, _| name != "db"));
        let now = Instant::now();
        assert!(t.observe(&ev("db", "kill", None), now).is_empty());
        assert_eq!(
            kinds(t.observe(&ev("db", "die", Some(status("exited", None, Some(137), false))), now)),
            vec![IncidentKind::StoppedOutside]
        );
        // The live state says so until it starts again.
        let mut later = ev("db", "stop", Some(status("exited", None, Some(137), false)));
        t.annotate(&mut later);
        assert!(matches!(&later, StackChange::Container { status: Some(s), .. } if s.stopped_outside));
        // `docker stop` reports a second kill (SIGKILL after the timeout) and a stop: nothing more.
        assert!(t.observe(&ev("db", "kill", None), now).is_empty());
        assert!(t.observe(&ev("db", "stop", None), now).is_empty());
        assert_eq!(
            kinds(t.observe(&ev("db", "start", Some(status("running", None, None, false))), now)),
            vec![IncidentKind::Recovered]
        );
        let mut later = ev("db", "start", Some(status("running", None, None, false)));
        t.annotate(&mut later);
        assert!(matches!(&later, StackChange::Container { status: Some(s), .. } if !s.stopped_outside));
        // Ours: nothing.
        assert!(t.observe(&ev("api", "kill", None), now).is_empty());
        assert!(t
            .observe(&ev("api", "die", Some(status("exited", None, Some(143), false))), now)
            .is_empty());
        // Unknown exit code: said as unknown, never as -1.
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        let out = t.observe(&ev("web", "die", Some(status("exited", None, None, false))), now);
        assert_eq!(kinds(out.clone()), vec![IncidentKind::Exited { code: None }]);
        assert_eq!(out[0].text("lab").1, "It stopped by itself.");
    }

    #[test]
    fn out_of_memory_is_named_once() {
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        let now = Instant::now();
        assert_eq!(
            kinds(t.observe(&ev("api", "oom", None), now)),
            vec![IncidentKind::OutOfMemory]
        );
        assert!(t
            .observe(&ev("api", "die", Some(status("exited", None, Some(137), true))), now)
            .is_empty());
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        assert_eq!(
            kinds(t.observe(&ev("api", "die", Some(status("exited", None, Some(137), true))), now)),
            vec![IncidentKind::OutOfMemory]
        );
    }

    #[test]
    fn restart_loops_and_flapping_are_summarised() {
        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        let now = Instant::now();
        let die = || ev("api", "die", Some(status("exited", Some("unhealthy"), Some(1), false)));
        let start = || ev("api", "start", Some(status("running", Some("starting"), None, false)));
        let mut all = Vec::new();
        for i in 0..4 {
            let at = now + Duration::from_secs(i);
            all.extend(kinds(t.observe(&die(), at)));
            all.extend(kinds(t.observe(&start(), at)));
        }
        assert_eq!(
            all,
            vec![
                IncidentKind::Exited { code: Some(1) },
                IncidentKind::RestartLoop { restarts: 3 }
            ]
        );

        let mut t = IncidentTracker::new(TrackerConfig::default(), []).with_ours(Box::new(|_, _| true));
        let bad = || {
            ev(
                "db",
                "health_status: unhealthy",
                Some(status("running", Some("unhealthy"), None, false)),
            )
        };
        let good = || {
            ev(
                "db",
                "health_status: healthy",
                Some(status("running", Some("healthy"), None, false)),
            )
        };
        let mut all = Vec::new();
        for i in 0..6 {
            let at = now + Duration::from_secs(10 * i);
            all.extend(kinds(t.observe(&bad(), at)));
            all.extend(kinds(t.observe(&good(), at)));
        }
        assert_eq!(
            all,
            vec![
                IncidentKind::Unhealthy { output: None },
                IncidentKind::Recovered,
                IncidentKind::Unhealthy { output: None },
                IncidentKind::Recovered,
                IncidentKind::Flapping { times: 3 },
            ]
        );
    }
}
