//! An engine that cannot be reached is reported as such by every action that needs one, with
//! its code, so that both front ends say "Docker is not running" (the window's banner, the
//! command line's exit status 3) instead of a generic failure. `DOCKER_HOST` points at a socket
//! nothing listens on, in this test process only.

mod host;

use deck_app::{App, Code, RestoreRequest, Sink};
use host::*;

fn nowhere() -> App {
    let sock = std::env::temp_dir().join("sirius-deck-test-nothing-listens.sock");
    let _ = std::fs::remove_file(&sock);
    std::env::set_var("DOCKER_HOST", format!("unix://{}", sock.display()));
    app(&backups_dir("unreachable"))
}

fn assert_unreachable<T: std::fmt::Debug>(what: &str, r: deck_app::Result<T>) {
    let e = r.expect_err(what);
    assert_eq!(e.code, Code::EngineUnreachable, "{what}: {}", e.message);
    assert!(
        e.message.contains("cannot reach the Docker engine"),
        "{what}: {}",
        e.message
    );
}

#[tokio::test]
async fn every_action_that_needs_the_engine_says_it_cannot_be_reached() {
    let app = nowhere();
    let stack = lab_stack("dev");
    let sink = Sink::none();
    assert_unreachable("up", deck_app::up(&app, &stack, Default::default(), &sink).await);
    assert_unreachable("down", deck_app::down(&app, &stack, false, &sink).await);
    assert_unreachable("ps", deck_app::ps(&app, &stack).await);
    assert_unreachable("backup", deck_app::backup(&app, &stack, &[], &sink).await);
    let request = RestoreRequest {
        id: "latest".into(),
        options: Default::default(),
    };
    assert_unreachable("restore", deck_app::restore(&app, &stack, &request, &sink).await);
    assert_unreachable("verify", deck_app::verify(&app, &stack, "latest", &sink).await);
    assert_unreachable(
        "switch",
        deck_app::switch(&app, &stack, "prod", &Default::default(), &sink).await,
    );
    assert_unreachable(
        "repair",
        deck_app::repair(&app, &stack, "sirius-api", false, &sink).await,
    );
    // What needs no engine still works: the stack's sets are listed from the folder.
    assert!(deck_app::backups(&app, &stack).expect("listed").sets.is_empty());
}
