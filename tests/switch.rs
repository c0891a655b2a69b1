//! Switching the lab stack between dev and prod through `sirius-deck switch`, proven by what
//! each container reports about itself; the stale-cache trap detected and repaired; a prod that
//! cannot come up rolled back; a failed preflight that changes nothing.

use deck_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The build target each of ui, api and engine must report in an environment.
fn expected(env: &str) -> [(&'static str, &'static str); 3] {
    match env {
        "prod" => [
            ("sirius-ui", "production"),
            ("sirius-api", "runner"),
            ("sirius-engine", "runtime"),
        ],
        _ => [
            ("sirius-ui", "development"),
            ("sirius-api", "development"),
            ("sirius-engine", "development"),
        ],
    }
}

/// What the containers themselves say: the target baked into their image, and the one their
/// health endpoint reports.
fn assert_runs(env: &str) {
    for (container, target) in expected(env) {
        let file = exec(container, &["cat", "/etc/sirius-lab/build-target"]);
        assert_eq!(file.trim(), target, "{container} in {env}");
    }
    assert_eq!(
        get_json("sirius-api", "http://127.0.0.1:9001/health")["target"],
        expected(env)[1].1
    );
    assert_eq!(
        get_json("sirius-ui", "http://127.0.0.1:3000/api/health")["target"],
        expected(env)[0].1
    );
}

/// `ps --json` says every service with a container runs what `env` asks for (of the built-in
/// lab profile, or of the one at `stack`).
fn assert_no_drift(backups: &Path, env: &str, stack: Option<&str>) {
    let mut args = vec!["--env", env, "ps", "--json"];
    if let Some(s) = stack {
        args.extend(["--stack", s]);
    }
    let rows: serde_json::Value = serde_json::from_str(&ok(deck(backups, &args))).expect("ps --json");
    for r in rows.as_array().expect("rows") {
        let verdict = r["drift"]["verdict"].as_str().unwrap_or("");
        assert!(
            verdict == "match" || verdict == "absent",
            "{}: {}",
            r["service"],
            r["drift"]
        );
    }
}

fn backups_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sirius-deck-test-switch-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn start_dev(backups: &Path) {
    ok(deck(backups, &["--env", "dev", "down", "--volumes"]));
    ok(deck(backups, &["--env", "dev", "up"]));
    psql("create table before_switch (v text)");
    psql("insert into before_switch values ('kept across switches')");
}

#[tokio::test]
async fn dev_to_prod_to_dev_runs_the_right_targets_and_keeps_data() {
    let _lock = exclusive().await;
    let backups = backups_dir("roundtrip");
    start_dev(&backups);
    assert_runs("dev");

    let out = ok(deck(&backups, &["switch", "prod"]));
    assert_runs("prod");
    assert_eq!(psql("select v from before_switch"), "kept across switches");
    assert_no_drift(&backups, "prod", None);
    assert!(out.contains("runs what the environment asks for"), "{out}");
    // Into prod, the data was backed up first.
    let sets = ok(deck(&backups, &["backups", "--json"]));
    assert!(sets.contains("\"safety\""), "{sets}");
    // Without --env, commands follow the environment that runs.
    let ps = ok(deck(&backups, &["ps"]));
    assert!(ps.contains(":prod") && !ps.contains("NO:"), "{ps}");

    ok(deck(&backups, &["switch", "dev"]));
    assert_runs("dev");
    assert_eq!(psql("select v from before_switch"), "kept across switches");
    assert_no_drift(&backups, "dev", None);
}

fn docker(args: &[&str]) {
    let s = Command::new("docker").args(args).status().expect("docker");
    assert!(s.success(), "docker {args:?}");
}

fn drift_of(backups: &Path, env: &str, service: &str) -> serde_json::Value {
    let rows: serde_json::Value =
        serde_json::from_str(&ok(deck(backups, &["--env", env, "ps", "--json"]))).expect("ps --json");
    rows.as_array()
        .expect("rows")
        .iter()
        .find(|r| r["service"] == service)
        .map(|r| r["drift"].clone())
        .expect("service row")
}

#[tokio::test]
async fn the_stale_cache_trap_is_detected_and_repaired() {
    let _lock = exclusive().await;
    let backups = backups_dir("trap");
    start_dev(&backups);

    // The trap: the prod tag points at an image built from the development target, and a
    // plain `up` in prod reuses it.
    docker(&["tag", "sirius-lab/sirius-ui:dev", "sirius-lab/sirius-ui:prod"]);
    ok(deck(&backups, &["--env", "prod", "up"]));
    assert_eq!(
        exec("sirius-ui", &["cat", "/etc/sirius-lab/build-target"]).trim(),
        "development"
    );
    let d = drift_of(&backups, "prod", "sirius-ui");
    assert_eq!(d["verdict"], "drift", "{d}");
    assert_eq!(d["fix"], "rebuild");
    assert!(d.to_string().contains("built from target development"), "{d}");

    // The offered fix: rebuild without cache, recreate.
    ok(deck(&backups, &["--env", "prod", "repair", "sirius-ui"]));
    assert_runs("prod");
    assert_eq!(drift_of(&backups, "prod", "sirius-ui")["verdict"], "match");

    // A switch into prod does not fall into it either: an unproven prod image is rebuilt.
    ok(deck(&backups, &["switch", "dev", "--no-backup"]));
    docker(&["tag", "sirius-lab/sirius-ui:dev", "sirius-lab/sirius-ui:prod"]);
    let out = ok(deck(&backups, &["switch", "prod", "--no-backup", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().expect("summary line")).expect("summary");
    assert_eq!(
        summary["rebuilt_no_cache"],
        serde_json::json!(["sirius-ui"]),
        "{summary}"
    );
    assert_runs("prod");
    assert_no_drift(&backups, "prod", None);
}

/// A copy of the lab profile whose prod environment gets one more override file, holding
/// `extra` under `services:`.
fn lab_copy(name: &str, extra: &str) -> PathBuf {
    let src = lab_dir();
    let dest = std::env::temp_dir().join(format!("sirius-deck-test-profile-{name}"));
    let _ = std::fs::remove_dir_all(&dest);
    let status = Command::new("cp").arg("-a").arg(&src).arg(&dest).status().expect("cp");
    assert!(status.success());
    std::fs::write(dest.join("prod-extra.yaml"), format!("services:{extra}")).expect("write");
    let profile = dest.join("profile.toml");
    let text = std::fs::read_to_string(&profile).expect("profile");
    let prod = "files = [\"docker-compose.yaml\", \"docker-compose.prod.yaml\"]";
    assert!(text.contains(prod));
    let text = text.replace(
        prod,
        "files = [\"docker-compose.yaml\", \"docker-compose.prod.yaml\", \"prod-extra.yaml\"]",
    );
    std::fs::write(&profile, text).expect("write");
    dest
}

#[tokio::test]
async fn a_prod_that_cannot_come_up_is_rolled_back_to_dev() {
    let _lock = exclusive().await;
    let backups = backups_dir("rollback");
    start_dev(&backups);
    let profile = lab_copy(
        "broken-health",
        "\n  sirius-engine:\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n      timeout: 1s\n      retries: 2\n",
    );
    let stack = profile.display().to_string();
    let err = failed(deck(&backups, &["--stack", &stack, "switch", "prod", "--no-backup"]));
    assert!(err.contains("rolled back to dev"), "{err}");
    assert!(
        err.contains("sirius-engine"),
        "the failure report names the service: {err}"
    );
    assert_runs("dev");
    assert_no_drift(&backups, "dev", Some(&stack));
    assert_eq!(psql("select v from before_switch"), "kept across switches");
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
    let err = failed(deck(&backups, &["--stack", &stack, "switch", "prod"]));
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
    let err = failed(out);
    assert!(err.contains("nothing was changed") && err.contains("38123"), "{err}");
    unchanged();
    let sets = ok(deck(&backups, &["backups", "--json"]));
    assert!(!sets.contains("\"safety\""), "no backup was taken either: {sets}");
}

#[tokio::test]
async fn a_stack_started_by_docker_compose_is_checked_as_far_as_its_labels_allow() {
    let _lock = exclusive().await;
    let backups = backups_dir("compose");
    ok(deck(&backups, &["--env", "dev", "down", "--volumes"]));
    ok(deck(&backups, &["--env", "prod", "build"]));
    // Debian's docker-compose (1.29) rejects the top-level `name:`: a copy without it, with -p.
    let lab = lab_dir();
    let base = std::env::temp_dir().join("sirius-deck-test-compose-base.yaml");
    let text = std::fs::read_to_string(lab.join("docker-compose.yaml")).expect("base file");
    std::fs::write(&base, text.replace("\nname: sirius-lab\n", "\n")).expect("write");
    let up = Command::new("docker-compose")
        .args(["-p", "sirius-lab", "--project-directory"])
        .arg(&lab)
        .arg("-f")
        .arg(&base)
        .arg("-f")
        .arg(lab.join("docker-compose.prod.yaml"))
        .args(["up", "-d"])
        .output()
        .expect("docker-compose runs (the test command installs it)");
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));

    let rows: serde_json::Value =
        serde_json::from_str(&ok(deck(&backups, &["--env", "prod", "ps", "--json"]))).expect("ps --json");
    for r in rows.as_array().expect("rows") {
        let d = &r["drift"];
        assert_eq!(d["verdict"], "unproven", "{}: {d}", r["service"]);
        let config = d["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["check"] == "config")
            .expect("a config finding");
        assert!(config["ok"].is_null(), "{config}");
        assert!(
            config["message"].as_str().unwrap_or("").contains("docker compose"),
            "{config}"
        );
        // What the labels allow is still proven: the image its tag points to.
        let image = d["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["check"] == "image")
            .expect("an image finding");
        assert_eq!(image["ok"], true, "{}: {image}", r["service"]);
    }
    ok(deck(&backups, &["--env", "prod", "down"]));
}
