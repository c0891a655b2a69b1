//! Health notifications with a real notification server (dunst on a private D-Bus session,
//! read back with dbus-monitor), against the real lab stack: one notification when PostgreSQL
//! stops answering, one when it recovers, one for a stop from outside (`docker kill`) and none for
//! a stop asked for here or `down`, and an out-of-memory kill named as such.

use deck_compose::load;
use deck_engine::{
    notify_desktop, Action, DownOptions, Engine, Incident, IncidentKind, Observed, Sink, TrackerConfig, UpOptions,
};
use deck_tests::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Xvfb, a D-Bus session with dunst on it, and dbus-monitor writing every Notify call to a file.
struct Desktop {
    _procs: Vec<Proc>,
    monitor_log: std::path::PathBuf,
}

impl Desktop {
    fn start(dir: &Path) -> Desktop {
        let (x, display) = xvfb();
        let (bus, address) = dbus();
        let mut procs = vec![x, bus];
        // The notify client of this process talks to this session.
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address);
        std::env::set_var("DISPLAY", &display);
        procs.push(Proc(
            Command::new("dunst")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dunst"),
        ));
        let monitor_log = dir.join("dbus-monitor.log");
        let file = std::fs::File::create(&monitor_log).expect("log file");
        procs.push(Proc(
            Command::new("dbus-monitor")
                .args(["--session", "interface='org.freedesktop.Notifications',member='Notify'"])
                .stdout(file)
                .stderr(Stdio::null())
                .spawn()
                .expect("dbus-monitor"),
        ));
        // dunst owns the name once it answers.
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = Command::new("dunstctl")
                .arg("is-paused")
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                break;
            }
            assert!(Instant::now() < end, "dunst did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Desktop {
            _procs: procs,
            monitor_log,
        }
    }

    /// Summaries of every notification the server was asked to show.
    fn summaries(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.monitor_log).unwrap_or_default();
        // Notify(app_name, replaces_id, app_icon, summary, body, ...): the summary is the third string.
        let mut out = Vec::new();
        for call in text.split("method call").skip(1) {
            let strings: Vec<&str> = call
                .lines()
                .filter_map(|l| l.trim().strip_prefix("string \""))
                .collect();
            if let Some(s) = strings.get(2) {
                out.push(s.trim_end_matches('"').to_string());
            }
        }
        out
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Watches `project`, raises a notification per incident, and passes each incident on with the
/// time from the engine's event to the notification call.
fn notifier(
    engine: &Engine,
    project: &deck_compose::Project,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<(Incident, Option<Duration>)>,
    tokio::task::JoinHandle<()>,
) {
    let mut watch = engine.watch_incidents(project, TrackerConfig::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stack = project.name.clone();
    let task = tokio::spawn(async move {
        while let Some(event) = watch.events.recv().await {
            let Observed::Incident(incident) = event else { continue };
            let latency = incident
                .event_time_ns
                .map(|t| Duration::from_nanos((now_ns() - t).max(0) as u64));
            notify_desktop(&stack, &incident, None)
                .await
                .expect("the notification server takes it");
            let _ = tx.send((incident, latency));
        }
    });
    (rx, task)
}

async fn next_incident(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(Incident, Option<Duration>)>,
    within: Duration,
) -> (Incident, Option<Duration>) {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("an incident in time")
        .expect("the watch is running")
}

#[tokio::test(flavor = "multi_thread")]
async fn health_incidents_raise_one_notification_each_and_down_raises_none() {
    let _lock = exclusive().await;
    let engine = engine().await;
    reset(&engine).await;
    let dir = std::env::temp_dir().join(format!("deck-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let desktop = Desktop::start(&dir);
    // Fast health checks, so that Docker calls PostgreSQL unhealthy within seconds (after a
    // start period long enough for a first start, which initialises the cluster).
    let fast = dir.join("fast-health.yaml");
    std::fs::write(
        &fast,
        "services:\n  sirius-postgres:\n    healthcheck:\n      interval: 1s\n      timeout: 1s\n      retries: 2\n      start_period: 60s\n",
    )
    .expect("write");
    let project = load(&lab_options("dev", &[fast], &[])).expect("loads").project;
    engine
        .up(
            &project,
            &UpOptions {
                env: Some("dev".into()),
                ..Default::default()
            },
            &Sink::none(),
        )
        .await
        .expect("up");

    let (mut incidents, task) = notifier(&engine, &project);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // PostgreSQL stops answering (frozen from outside, its health check times out).
    assert!(Command::new("docker")
        .args(["kill", "-s", "SIGSTOP", "sirius-postgres"])
        .status()
        .expect("docker")
        .success());
    let (incident, latency) = next_incident(&mut incidents, Duration::from_secs(30)).await;
    assert_eq!(incident.service, "sirius-postgres");
    assert!(matches!(incident.kind, IncidentKind::Unhealthy { .. }), "{incident:?}");
    let unhealthy_latency = latency;
    assert!(Command::new("docker")
        .args(["kill", "-s", "SIGCONT", "sirius-postgres"])
        .status()
        .expect("docker")
        .success());
    let (incident, latency) = next_incident(&mut incidents, Duration::from_secs(30)).await;
    assert_eq!(
        (incident.service.as_str(), &incident.kind),
        ("sirius-postgres", &IncidentKind::Recovered)
    );
    let recovery_latency = latency;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let summaries = desktop.summaries();
    let about = |text: &str| summaries.iter().filter(|s| s.contains(text)).count();
    assert_eq!(about("sirius-postgres is unhealthy"), 1, "{summaries:?}");
    assert_eq!(about("sirius-postgres recovered"), 1, "{summaries:?}");
    assert_eq!(summaries.len(), 2, "nothing else was raised: {summaries:?}");

    // A stop from outside (`docker kill`) is an incident of its own, raised once; started again,
    // it recovers. A stop asked for here raises nothing.
    docker(&["kill", "sirius-valkey"]);
    let (incident, _) = next_incident(&mut incidents, Duration::from_secs(30)).await;
    assert_eq!(
        (incident.service.as_str(), &incident.kind),
        ("sirius-valkey", &IncidentKind::StoppedOutside)
    );
    docker(&["start", "sirius-valkey"]);
    let (incident, _) = next_incident(&mut incidents, Duration::from_secs(90)).await;
    assert_eq!(
        (incident.service.as_str(), &incident.kind),
        ("sirius-valkey", &IncidentKind::Recovered)
    );
    engine
        .control(&project, "sirius-valkey", Action::Stop)
        .await
        .expect("stop");
    let more = tokio::time::timeout(Duration::from_secs(3), incidents.recv()).await;
    assert!(more.is_err(), "a stop asked for here raised {more:?}");
    let summaries = desktop.summaries();
    let about = |text: &str| summaries.iter().filter(|s| s.contains(text)).count();
    assert_eq!(about("sirius-valkey was stopped from outside"), 1, "{summaries:?}");
    assert_eq!(about("sirius-valkey recovered"), 1, "{summaries:?}");
    assert_eq!(summaries.len(), 4, "nothing else was raised: {summaries:?}");

    // `down` is asked for: it raises nothing.
    engine
        .down(&project.name, Some(&project), &DownOptions::default(), &Sink::none())
        .await
        .expect("down");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(desktop.summaries().len(), 4, "down raised {:?}", desktop.summaries());
    task.abort();

    let metrics = format!(
        "event_to_notification_unhealthy_ms={}\nevent_to_notification_recovered_ms={}\n",
        unhealthy_latency.map_or(-1, |d| d.as_millis() as i64),
        recovery_latency.map_or(-1, |d| d.as_millis() as i64)
    );
    eprintln!("{metrics}");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/notify");
    std::fs::create_dir_all(&artifacts).ok();
    std::fs::write(artifacts.join("metrics.txt"), metrics).ok();

    // A container killed for exceeding its memory limit is reported as such.
    let hog_dir = dir.join("hog");
    std::fs::create_dir_all(&hog_dir).expect("dir");
    std::fs::write(
        hog_dir.join("compose.yaml"),
        "name: deck-oom-test\nservices:\n  memhog:\n    image: sirius-lab/sirius-api:dev\n    command: [\"python3\", \"-c\", \"import time; x = bytearray(400 * 1024 * 1024); time.sleep(60)\"]\n    mem_limit: 64m\n    restart: \"no\"\n",
    )
    .expect("write");
    let hog = load(&deck_compose::LoadOptions::new([hog_dir.join("compose.yaml")]))
        .expect("loads")
        .project;
    let (mut hog_incidents, hog_task) = notifier(&engine, &hog);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = engine.up(&hog, &UpOptions::default(), &Sink::none()).await;
    let (incident, _) = next_incident(&mut hog_incidents, Duration::from_secs(60)).await;
    assert_eq!(
        (incident.service.as_str(), &incident.kind),
        ("memhog", &IncidentKind::OutOfMemory)
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        desktop
            .summaries()
            .iter()
            .any(|s| s == "memhog ran out of memory (deck-oom-test)"),
        "{:?}",
        desktop.summaries()
    );
    hog_task.abort();
    engine
        .down(&hog.name, Some(&hog), &DownOptions::default(), &Sink::none())
        .await
        .expect("down");
    std::fs::remove_dir_all(&dir).ok();
}
