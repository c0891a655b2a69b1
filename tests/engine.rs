//! The lab stack on a real Docker engine: up in dev and prod, data kept across down/up,
//! idempotent up, a failing health check, a taken host port.

use deck_compose::load;
use deck_engine::{ContainerState, DownOptions, EngineError, Event, Phase, Sink, UpOptions};
use deck_tests::*;
use std::process::Command;
use std::time::Duration;

fn up_opts(env: &str) -> UpOptions {
    UpOptions {
        env: Some(env.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn dev_and_prod_come_up_healthy_and_keep_data_across_down_and_up() {
    let _lock = exclusive().await;
    let engine = engine().await;
    reset(&engine).await;

    // Dev: every service ready; the API proves it reached PostgreSQL and sees the migrated rows.
    let dev = lab("dev");
    let (tx, mut rx) = collector();
    let summary = engine
        .up(&dev, &up_opts("dev"), &Sink::new(tx))
        .await
        .expect("dev comes up");
    assert_eq!(summary.services.len(), 7);
    assert!(summary.services.values().all(|p| *p == Phase::Ready), "{summary:?}");
    let events = drain(&mut rx);
    let migrate_ready = events
        .iter()
        .position(|e| matches!(e, Event::Service { service, phase: Phase::Ready, .. } if service == "sirius-migrate"));
    let api_created = events.iter().position(|e| matches!(e, Event::Service { service, phase: Phase::Created | Phase::Recreated | Phase::Unchanged, .. } if service == "sirius-api"));
    assert!(
        migrate_ready < api_created,
        "the api waits for the migration to complete"
    );
    let health = get_json("sirius-api", "http://127.0.0.1:9001/health");
    assert_eq!(health["postgres"], "reachable");
    assert_eq!(health["findings"], 3, "{health}");
    assert_eq!(health["target"], "development");
    assert_eq!(
        get_json("sirius-ui", "http://127.0.0.1:3000/api/health")["mode"],
        "next dev"
    );
    // Waiting for readiness ran the health checks in the containers: none of them disturbed a
    // service (PostgreSQL, PID 1 in its container, restarts itself when it reaps a child that
    // died of a signal).
    let postgres_log = Command::new("docker")
        .args(["logs", "sirius-postgres"])
        .output()
        .expect("docker logs");
    let postgres_log = String::from_utf8_lossy(&postgres_log.stderr);
    assert!(
        !postgres_log.contains("terminated by signal"),
        "PostgreSQL restarted while it was waited for:\n{postgres_log}"
    );
    for status in engine.status(&dev).await.expect("status") {
        let c = status.first().cloned().expect("every service has a container");
        if status.service == "sirius-migrate" {
            assert_eq!((c.state, c.exit_code), (ContainerState::Exited, Some(0)));
        } else {
            assert_eq!(c.state, ContainerState::Running, "{}", status.service);
        }
    }

    // A second up recreates nothing.
    let (tx, mut rx) = collector();
    engine
        .up(&dev, &up_opts("dev"), &Sink::new(tx))
        .await
        .expect("second up");
    let events = drain(&mut rx);
    let changed: Vec<&Event> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Service {
                    phase: Phase::Created | Phase::Recreated | Phase::Building,
                    ..
                }
            )
        })
        .collect();
    assert!(changed.is_empty(), "second up changed: {changed:?}");

    // Data written, down (volumes kept), up in prod: the data is still there.
    psql("INSERT INTO findings (host, title, severity) VALUES ('10.0.0.99', 'written by the test', 'critical')");
    engine
        .down(&dev.name, Some(&dev), &DownOptions::default(), &Sink::none())
        .await
        .expect("down");
    assert!(engine
        .status(&dev)
        .await
        .expect("status")
        .iter()
        .all(|s| s.containers.is_empty()));
    assert!(engine
        .project_volumes(&dev.name)
        .await
        .expect("volumes")
        .contains(&"sirius-lab_postgres_data".to_string()));

    let prod = lab("prod");
    let summary = engine
        .up(&prod, &up_opts("prod"), &Sink::none())
        .await
        .expect("prod comes up");
    assert!(summary.services.values().all(|p| *p == Phase::Ready));
    let health = get_json("sirius-api", "http://127.0.0.1:9001/health");
    assert_eq!(
        health["findings"], 4,
        "the row written in dev survived down/up: {health}"
    );
    assert_eq!(health["target"], "runner");
    assert_eq!(
        get_json("sirius-ui", "http://127.0.0.1:3000/api/health")["mode"],
        "next start"
    );
    assert_eq!(
        exec("sirius-engine", &["cat", "/etc/sirius-lab/build-target"]).trim(),
        "runtime"
    );
    let status = engine.status(&prod).await.expect("status");
    let ui = status
        .iter()
        .find(|s| s.service == "sirius-ui")
        .and_then(|s| s.first().cloned())
        .expect("ui");
    assert_eq!(
        (ui.build_target.as_deref(), ui.env.as_deref()),
        (Some("production"), Some("prod"))
    );

    engine
        .down(&prod.name, Some(&prod), &DownOptions::default(), &Sink::none())
        .await
        .expect("down");
}

#[tokio::test]
async fn a_health_check_that_never_passes_fails_at_its_timeout_with_a_report() {
    let _lock = exclusive().await;
    let engine = engine().await;
    reset(&engine).await;
    let dir = std::env::temp_dir().join(format!("deck-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "services:\n  sirius-engine:\n    healthcheck:\n      test: [\"CMD\", \"sh\", \"-c\", \"echo engine is not ready; exec sleep 31\"]\n      interval: 2s\n      timeout: 2s\n      retries: 3\n",
    )
    .expect("write");
    let project = load(&lab_options("prod", &[broken], &[])).expect("loads").project;
    // Its timeout: retries x (interval + timeout) = 12 s, as Docker would count it.
    let started = std::time::Instant::now();
    let err = engine
        .up(&project, &up_opts("prod"), &Sink::none())
        .await
        .expect_err("must fail");
    let waited = started.elapsed();
    let EngineError::Failed(reports) = err else {
        panic!("expected a failure report, got {err}")
    };
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert_eq!(r.service, "sirius-engine");
    assert!(r.reason.contains("did not pass within"), "{}", r.reason);
    assert!(
        r.health_output.iter().any(|o| o.contains("engine is not ready")),
        "{:?}",
        r.health_output
    );
    assert!(
        r.logs.iter().any(|l| l.contains("sirius-engine: starting")),
        "{:?}",
        r.logs
    );
    assert!(
        waited >= Duration::from_secs(12),
        "failed before its timeout: {waited:?}"
    );
    // Each probe hung and was ended at its timeout, in the container: none is left running
    // (Docker's own probe ends at 2 s too; older ones would be probes left behind).
    let top = Command::new("docker")
        .args(["top", "sirius-engine", "-eo", "etimes,args"])
        .output()
        .expect("docker top");
    let left: Vec<String> = String::from_utf8_lossy(&top.stdout)
        .lines()
        .filter(|l| l.contains("sleep 31"))
        .filter(|l| {
            l.split_whitespace()
                .next()
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|t| t > 4)
        })
        .map(str::to_string)
        .collect();
    assert!(left.is_empty(), "probes left running in the container: {left:?}");
    // Everything else came up.
    let status = engine.status(&project).await.expect("status");
    let api = status
        .iter()
        .find(|s| s.service == "sirius-api")
        .and_then(|s| s.first().cloned())
        .expect("api");
    assert_eq!(api.state, ContainerState::Running);
    engine
        .down(&project.name, Some(&project), &DownOptions::default(), &Sink::none())
        .await
        .expect("down");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_taken_host_port_is_refused_before_anything_changes() {
    let _lock = exclusive().await;
    let engine = engine().await;
    reset(&engine).await;
    let holder = std::net::TcpListener::bind("0.0.0.0:0").expect("a free port");
    let port = holder.local_addr().expect("addr").port().to_string();
    let project = load(&lab_options("dev", &[], &[("UI_PORT", &port)]))
        .expect("loads")
        .project;
    // (Its own project's: other tests' containers come and go on the same engine meanwhile.)
    let label = format!("label=com.docker.compose.project={}", project.name);
    let before = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &label])
        .output()
        .expect("docker ps")
        .stdout;
    let nets_before = std::process::Command::new("docker")
        .args(["network", "ls", "-q", "--filter", &label])
        .output()
        .expect("ls")
        .stdout;

    let err = engine
        .up(&project, &up_opts("dev"), &Sink::none())
        .await
        .expect_err("refused");
    let EngineError::Preflight(problems) = err else {
        panic!("expected a preflight refusal, got {err}")
    };
    assert!(
        problems
            .iter()
            .any(|p| p.service.as_deref() == Some("sirius-ui") && p.message.contains(&format!("host port {port}/tcp"))),
        "{problems:?}"
    );
    let after = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &label])
        .output()
        .expect("docker ps")
        .stdout;
    let nets_after = std::process::Command::new("docker")
        .args(["network", "ls", "-q", "--filter", &label])
        .output()
        .expect("ls")
        .stdout;
    assert_eq!(before, after, "no container was created");
    assert_eq!(nets_before, nets_after, "no network was created");
    drop(holder);
}
