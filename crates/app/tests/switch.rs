//! Switching the lab stack between dev and prod through the application API, proven by what
//! each container reports about itself; the stale-cache trap detected and repaired; a prod that
//! cannot come up rolled back; a stack started by docker-compose checked as far as its labels
//! allow. (A failed preflight, with its exit statuses, is tested through the command line in
//! `tests/switch.rs`.)

mod host;

use deck_app::{App, Code, Sink, Stack, Target};
use deck_engine::{Fix, ServiceDrift, Verdict};
use deck_switch::SwitchOptions;
use deck_tests::*;
use host::*;
use std::process::Command;

/// Every service with a container runs what its environment asks for.
async fn assert_no_drift(app: &App, stack: &Stack) {
    for d in deck_app::drift(app, stack).await.expect("drift") {
        assert!(
            matches!(d.verdict, Verdict::Match | Verdict::Absent),
            "{}: {d:?}",
            d.service
        );
    }
}

async fn drift_of(app: &App, stack: &Stack, service: &str) -> ServiceDrift {
    deck_app::drift(app, stack)
        .await
        .expect("drift")
        .into_iter()
        .find(|d| d.service == service)
        .expect("the service")
}

async fn start_dev(app: &App) {
    fresh_lab(app, "dev").await;
    psql("create table before_switch (v text)");
    psql("insert into before_switch values ('kept across switches')");
}

fn no_backup() -> SwitchOptions {
    SwitchOptions {
        backup: Some(false),
        ..Default::default()
    }
}

#[tokio::test]
async fn dev_to_prod_to_dev_runs_the_right_targets_and_keeps_data() {
    let _lock = exclusive().await;
    let backups = backups_dir("switch-roundtrip");
    let app = app(&backups);
    start_dev(&app).await;
    assert_runs("dev");
    // The data services are the same in dev and prod: they keep running through both switches,
    // with a client connected to PostgreSQL all along.
    let data = ["sirius-postgres", "sirius-rabbitmq", "sirius-valkey"];
    let started: Vec<String> = data.iter().map(|c| started_at(c)).collect();
    let _held = Proc(
        std::process::Command::new("docker")
            .args(["exec", "-e", "PGAPPNAME=held-across-switches", "sirius-postgres"])
            .args(["psql", "-U", "postgres", "-d", "sirius", "-c", "select pg_sleep(600)"])
            .spawn()
            .expect("a held psql session"),
    );
    let held = || psql("select count(*) from pg_stat_activity where application_name = 'held-across-switches'");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while held() != "1" {
        assert!(std::time::Instant::now() < deadline, "the psql session did not connect");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // After each switch: the data is there, the data services were kept running untouched
    // (planned so, and started when dev first started), the held session still connected.
    let kept_running = |summary: &deck_switch::SwitchSummary| {
        assert_eq!(psql("select v from before_switch"), "kept across switches");
        let kept: std::collections::BTreeSet<&str> = summary
            .plan
            .iter()
            .filter(|p| p.change == deck_engine::Change::Kept)
            .map(|p| p.service.as_str())
            .collect();
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), data, "{:?}", summary.plan);
        let now: Vec<String> = data.iter().map(|c| started_at(c)).collect();
        assert_eq!(now, started, "data services kept running");
        assert_eq!(held(), "1", "the psql session is still connected");
    };

    // The core's default: into prod, the data is backed up first.
    let summary = deck_app::switch(
        &app,
        &lab_stack("dev"),
        "prod",
        &SwitchOptions::default(),
        &Sink::none(),
    )
    .await
    .expect("switched to prod");
    assert_eq!((summary.from.as_deref(), summary.to.as_str()), (Some("dev"), "prod"));
    assert!(summary.safety.is_some(), "a safety backup into prod");
    assert!(summary.drifted().is_empty(), "{:?}", summary.drift);
    assert_runs("prod");
    kept_running(&summary);
    assert_no_drift(&app, &lab_stack("prod")).await;
    // Without a named environment, the stack follows the one that runs.
    let running = Target::profile("sirius-lab", None)
        .load_running(&app)
        .await
        .expect("loads");
    assert_eq!(running.env.as_deref(), Some("prod"));

    let summary = deck_app::switch(&app, &running, "dev", &SwitchOptions::default(), &Sink::none())
        .await
        .expect("switched to dev");
    assert!(summary.safety.is_none(), "no backup by default out of prod");
    assert_runs("dev");
    kept_running(&summary);
    assert_no_drift(&app, &lab_stack("dev")).await;
}

#[tokio::test]
async fn the_stale_cache_trap_is_detected_and_repaired() {
    let _lock = exclusive().await;
    let backups = backups_dir("switch-trap");
    let app = app(&backups);
    start_dev(&app).await;

    // The trap: the prod tag points at an image built from the development target, and a
    // plain `up` in prod reuses it.
    docker(&["tag", "sirius-lab/sirius-ui:dev", "sirius-lab/sirius-ui:prod"]);
    let prod = lab_stack("prod");
    deck_app::up(&app, &prod, Default::default(), &Sink::none())
        .await
        .expect("up");
    assert_eq!(
        exec("sirius-ui", &["cat", "/etc/sirius-lab/build-target"]).trim(),
        "development"
    );
    let d = drift_of(&app, &prod, "sirius-ui").await;
    assert_eq!(d.verdict, Verdict::Drift, "{d:?}");
    assert_eq!(d.fix, Some(Fix::Rebuild));
    assert!(d.summary.contains("built from target development"), "{d:?}");

    // The offered fix: rebuild without cache, recreate.
    let repaired = deck_app::repair(&app, &prod, "sirius-ui", false, &Sink::none())
        .await
        .expect("repaired");
    assert!(repaired.rebuilt);
    assert_runs("prod");
    assert_eq!(drift_of(&app, &prod, "sirius-ui").await.verdict, Verdict::Match);

    // A switch into prod does not fall into it either: an unproven prod image is refused when
    // nothing may be built (before anything changes), and rebuilt otherwise.
    deck_app::switch(&app, &prod, "dev", &no_backup(), &Sink::none())
        .await
        .expect("to dev");
    docker(&["tag", "sirius-lab/sirius-ui:dev", "sirius-lab/sirius-ui:prod"]);
    let api_started = started_at("sirius-api");
    let no_build = SwitchOptions {
        no_build: true,
        ..no_backup()
    };
    let err = deck_app::switch(&app, &prod, "prod", &no_build, &Sink::none())
        .await
        .expect_err("refused");
    assert_eq!(err.code, Code::Refused, "{}", err.message);
    assert!(
        err.message
            .contains("sirius-ui: its image cannot be proven to come from the target prod asks for"),
        "{}",
        err.message
    );
    assert_eq!(started_at("sirius-api"), api_started, "nothing was stopped");
    assert_runs("dev");
    let summary = deck_app::switch(&app, &prod, "prod", &no_backup(), &Sink::none())
        .await
        .expect("to prod");
    assert_eq!(summary.rebuilt_no_cache, ["sirius-ui"], "{summary:?}");
    assert_runs("prod");
    assert_no_drift(&app, &prod).await;
}

#[tokio::test]
async fn a_prod_that_cannot_come_up_is_rolled_back_to_dev() {
    let _lock = exclusive().await;
    let backups = backups_dir("switch-rollback");
    let app = app(&backups);
    start_dev(&app).await;
    let copy = lab_copy(
        "broken-health",
        "\n  sirius-engine:\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n      timeout: 1s\n      retries: 2\n",
    );
    let stack = profile(&copy.join("profile.toml"), "dev");
    let err = deck_app::switch(&app, &stack, "prod", &no_backup(), &Sink::none())
        .await
        .expect_err("prod does not come up");
    assert_eq!(err.code, Code::RolledBack, "{}", err.message);
    assert!(err.message.contains("rolled back to dev"), "{}", err.message);
    assert!(
        err.message.contains("sirius-engine"),
        "the failure report names the service: {}",
        err.message
    );
    assert_runs("dev");
    assert_no_drift(&app, &stack).await;
    assert_eq!(psql("select v from before_switch"), "kept across switches");
}

#[tokio::test]
async fn a_stack_started_by_docker_compose_is_checked_as_far_as_its_labels_allow() {
    let _lock = exclusive().await;
    let backups = backups_dir("switch-compose");
    let app = app(&backups);
    let prod = lab_stack("prod");
    deck_app::down(&app, &prod, true, &Sink::none()).await.expect("down");
    deck_app::build(&app, &prod, &[], false, &Sink::none())
        .await
        .expect("built");
    // Debian's docker-compose (1.29) rejects the top-level `name:`: a copy without it, with -p.
    let lab_files = lab_dir();
    let base = std::env::temp_dir().join("sirius-deck-test-compose-base.yaml");
    let text = std::fs::read_to_string(lab_files.join("docker-compose.yaml")).expect("base file");
    std::fs::write(&base, text.replace("\nname: sirius-lab\n", "\n")).expect("write");
    let up = Command::new("docker-compose")
        .args(["-p", "sirius-lab", "--project-directory"])
        .arg(&lab_files)
        .arg("-f")
        .arg(&base)
        .arg("-f")
        .arg(lab_files.join("docker-compose.prod.yaml"))
        .args(["up", "-d"])
        .output()
        .expect("docker-compose runs (the test command installs it)");
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));

    for row in deck_app::ps(&app, &prod).await.expect("ps") {
        let d = row.drift.expect("a verdict");
        assert_eq!(d.verdict, Verdict::Unproven, "{}: {d:?}", row.service);
        let config = d
            .findings
            .iter()
            .find(|f| f.check == "config")
            .expect("a config finding");
        assert_eq!(config.ok, None, "{config:?}");
        assert!(config.message.contains("docker compose"), "{config:?}");
        // What the labels allow is still proven: the image its tag points to.
        let image = d
            .findings
            .iter()
            .find(|f| f.check == "image")
            .expect("an image finding");
        assert_eq!(image.ok, Some(true), "{}: {image:?}", row.service);
    }
    deck_app::down(&app, &prod, false, &Sink::none()).await.expect("down");
}
