//! A switch whose checks fail changes nothing, through `sirius-deck switch` as a user runs it:
//! the errors, and the exit statuses they map to. Switching itself is tested through the
//! application API (`crates/app/tests/switch.rs`).

use deck_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn backups_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sirius-deck-test-switch-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn start_dev(backups: &Path) {
    ok(deck(backups, &["--env", "dev", "down", "--volumes"]));
    ok(deck(backups, &["--env", "dev", "up"]));
}

#[tokio::test]
async fn a_failed_preflight_changes_nothing() {
    let _lock = exclusive().await;
    let backups = backups_dir("preflight");
    start_dev(&backups);
    let before: Vec<String> = ["sirius-postgres", "sirius-api", "sirius-ui"]
        .iter()
        .map(|c| started_at(c))
        .collect();
    let unchanged = || {
        let now: Vec<String> = ["sirius-postgres", "sirius-api", "sirius-ui"]
            .iter()
            .map(|c| started_at(c))
            .collect();
        assert_eq!(now, before, "nothing was restarted");
        assert_runs("dev");
    };

    // A variable that prod requires is missing: the error names the file and line.
    let profile = lab_copy(
        "preflight",
        "\n  sirius-api:\n    environment:\n      - PROD_ONLY=${PROD_ONLY_SECRET:?set PROD_ONLY_SECRET in .env}\n    ports:\n      - \"38123:9001\"\n",
    );
    let stack = profile.display().to_string();
    let out = deck(&backups, &["--stack", &stack, "switch", "prod"]);
    assert_eq!(out.status.code(), Some(1), "invalid input");
    let err = failed(out);
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(
        err.contains("prod-extra.yaml:") && err.contains("PROD_ONLY_SECRET"),
        "{err}"
    );
    unchanged();

    // With the variable set, a host port that prod needs is taken by another program.
    let _held = std::net::TcpListener::bind("0.0.0.0:38123").expect("hold the port");
    let out = Command::new(cli())
        .args(["--stack", &stack, "switch", "prod"])
        .env("SIRIUS_DECK_BACKUP_DIR", &backups)
        .env("PROD_ONLY_SECRET", "x")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4), "refused before anything changed");
    let err = failed(out);
    assert!(err.contains("nothing was changed") && err.contains("38123"), "{err}");
    unchanged();
    let sets = ok(deck(&backups, &["backups", "--json"]));
    assert!(!sets.contains("\"safety\""), "no backup was taken either: {sets}");
}
