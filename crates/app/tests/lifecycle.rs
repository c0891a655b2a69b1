//! Running the lab stack through the application API, as the front ends call it: the stack
//! list and planned view, up with its progress, ps, the service controls seen by the live watch,
//! health, logs, resource use, and bad input refused before anything changes.

mod host;

use deck_app::{Code, Event, Phase, SettingsChange, Sink, Target};
use deck_engine::{Action, ContainerAction, ContainerState, Observed, StackChange, UpOptions, Verdict};
use deck_stack::Layer;
use deck_tests::exclusive;
use host::*;
use std::time::Duration;

/// Waits for the watch to report `action` on `service`, and returns what it reported before
/// (incidents included).
async fn wait_for(watch: &mut deck_engine::IncidentWatch, service: &str, action: ContainerAction) -> Vec<Observed> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(o) = watch.events.recv().await {
            let hit = matches!(&o, Observed::Change(StackChange::Container { service: s, action: a, .. }) if s == service && *a == action);
            seen.push(o);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{action:?} of {service} was not seen: {seen:?}");
    seen
}

#[tokio::test]
async fn the_lab_stack_runs_through_the_api() {
    let _lock = exclusive().await;
    let app = app(&backups_dir("lifecycle"));

    // The stacks and the planned diagram need no engine.
    let stacks = deck_app::stacks();
    assert!(stacks
        .iter()
        .any(|s| s.name == "sirius-lab" && s.is_default && s.invalid.is_none() && s.envs == ["dev", "prod"]));
    let (view, loaded) = deck_app::view(&Target::profile("sirius-lab", Some("dev"))).expect("a view");
    assert!(!view.invalid && loaded.is_some());
    assert_eq!(view.services.len(), 7);
    let layer = |name: &str| view.services.iter().find(|s| s.name == name).map(|s| s.layer);
    assert_eq!(layer("sirius-ui"), Some(Layer::Frontend));
    assert_eq!(layer("sirius-postgres"), Some(Layer::Data));

    let stack = lab_stack("dev");
    deck_app::down(&app, &stack, true, &Sink::none()).await.expect("down");
    let mut watch = deck_app::watch(&app, &stack).await.expect("a watch");

    // Up: every service ready, reported as it went.
    let (summary, events) =
        with_events(async |sink| deck_app::up(&app, &stack, UpOptions::default(), sink).await).await;
    let summary = summary.expect("up");
    for service in stack.project.services.keys() {
        assert_eq!(summary.services.get(service), Some(&Phase::Ready), "{service}");
    }
    assert!(events.iter().any(
        |e| matches!(e, Event::Service { service, phase: Phase::WaitingHealth, .. } if service == "sirius-postgres")
    ));

    // ps: a container for every service, one sample of use for what runs, and the proof.
    let rows = deck_app::ps(&app, &stack).await.expect("ps");
    assert_eq!(rows.len(), 7);
    for r in &rows {
        let c = r.container.as_ref().expect("a container");
        if r.service == "sirius-migrate" {
            assert_eq!((c.state, c.exit_code), (ContainerState::Exited, Some(0)));
        } else {
            assert_eq!(c.state, ContainerState::Running, "{}", r.service);
            assert!(r.memory_bytes.is_some(), "{}", r.service);
        }
        let verdict = r.drift.as_ref().map(|d| d.verdict);
        assert!(
            verdict.is_some() && verdict != Some(Verdict::Drift),
            "{}: {:?}",
            r.service,
            r.drift
        );
    }

    // Stop and start from the API: the live watch sees both, and a stop someone asked for is
    // not an incident.
    deck_app::control(&app, &stack, "sirius-valkey", Action::Stop)
        .await
        .expect("stopped");
    let seen = wait_for(&mut watch, "sirius-valkey", ContainerAction::Die).await;
    deck_app::control(&app, &stack, "sirius-valkey", Action::Start)
        .await
        .expect("started");
    let seen: Vec<Observed> = seen
        .into_iter()
        .chain(wait_for(&mut watch, "sirius-valkey", ContainerAction::Start).await)
        .collect();
    assert!(
        !seen
            .iter()
            .any(|o| matches!(o, Observed::Incident(i) if i.service == "sirius-valkey")),
        "{seen:?}"
    );

    // The service's own health check, as Docker recorded it (PostgreSQL's runs every 10 s).
    let mut health = Vec::new();
    for _ in 0..30 {
        health = deck_app::health(&app, &stack, "sirius-postgres").await.expect("health");
        if !health.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // Each run with its time and exit code.
    assert!(
        health
            .iter()
            .any(|h| h.exit_code == Some(0) && h.started.as_deref().is_some_and(|t| t.contains('T'))),
        "{health:?}"
    );

    // Logs of one service, not followed: its lines only, and the stream ends.
    let mut lines = deck_app::logs(&app, &stack, &["sirius-api".to_string()], false, Some(50))
        .await
        .expect("logs");
    let mut got = Vec::new();
    while let Some(l) = tokio::time::timeout(Duration::from_secs(20), lines.recv())
        .await
        .expect("the stream ends")
    {
        got.push(l);
    }
    assert!(
        !got.is_empty() && got.iter().all(|l| l.service == "sirius-api"),
        "{got:?}"
    );

    // Resource use streams in for the containers followed, and stops when none is.
    let (mut sampler, mut samples) = deck_app::usage(&app, &stack).await.expect("usage");
    let api: Vec<_> = rows
        .iter()
        .filter_map(|r| r.container.as_ref())
        .filter(|c| c.service == "sirius-api")
        .collect();
    sampler.follow(api, None);
    let sample = tokio::time::timeout(Duration::from_secs(30), samples.recv())
        .await
        .expect("a sample in time")
        .expect("a sample");
    assert!(sample.memory_bytes > 0 && sample.service == "sirius-api", "{sample:?}");
    sampler.follow([], None);
    while samples.try_recv().is_ok() {}
    assert!(
        tokio::time::timeout(Duration::from_secs(3), samples.recv())
            .await
            .is_err(),
        "no sample once nothing is followed"
    );

    // A service that is not in the files is refused before anything changes.
    let before = rows.len();
    let err = deck_app::up(
        &app,
        &stack,
        UpOptions {
            services: vec!["no-such-service".into()],
            ..Default::default()
        },
        &Sink::none(),
    )
    .await
    .expect_err("refused");
    assert_eq!(err.code, Code::Invalid, "{}", err.message);
    assert!(
        err.message.contains("sirius-api"),
        "names the services there are: {}",
        err.message
    );
    let err = deck_app::control(&app, &stack, "no-such-service", Action::Restart)
        .await
        .expect_err("refused");
    assert_eq!(err.code, Code::Invalid);
    assert_eq!(deck_app::ps(&app, &stack).await.expect("ps").len(), before);
}

#[test]
fn backup_settings_are_checked_before_they_are_saved() {
    // This test process's own settings folder.
    let config = backups_dir("settings-config");
    std::env::set_var("XDG_CONFIG_HOME", &config);
    let path = deck_backup::Settings::path();
    assert!(path.starts_with(&config));

    let err = deck_app::save_settings(&SettingsChange {
        keep: Some(0),
        ..Default::default()
    })
    .expect_err("refused");
    assert_eq!(err.code, Code::Invalid, "{}", err.message);
    assert!(err.message.contains("keep"), "{}", err.message);
    assert!(!path.exists(), "nothing was saved");

    let saved = deck_app::save_settings(&SettingsChange {
        keep: Some(4),
        max_age_days: Some(30),
        ..Default::default()
    })
    .expect("saved");
    assert_eq!((saved.keep, saved.max_age_days), (4, Some(30)));
    assert!(path.exists());
    let again = deck_app::settings(&deck_app::App::new()).expect("read back");
    assert_eq!(again, saved);
}
