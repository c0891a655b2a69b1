//! The `sirius-deck` binary as a user runs it: output, exit codes, masking.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/sirius")
        .canonicalize()
        .expect("fixture")
}

fn deck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sirius-deck"))
        .args(args)
        .env_remove("POSTGRES_PASSWORD")
        .env_remove("SIRIUS_DECK_STACK")
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn config_from_the_sirius_profile_as_json() {
    let dir = fixture();
    let out = deck(&[
        "config",
        "--stack",
        "sirius",
        "--env",
        "prod",
        "--project-dir",
        dir.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["services"]["sirius-api"]["image"],
        "ghcr.io/siriusscan/sirius-api:v1.0.0"
    );
    assert_eq!(
        v["services"]["sirius-api"]["deploy"]["resources"]["limits"]["memory"], "1073741824",
        "sizes as compose prints them"
    );
    assert_eq!(
        v["services"]["sirius-api"]["environment"]["POSTGRES_PASSWORD"],
        "********"
    );
    assert!(!text(&out.stdout).contains("fixture-pg-password"));
}

#[test]
fn config_yaml_with_files_warns_on_stderr_and_can_show_secrets() {
    let dir = fixture();
    let base = dir.join("docker-compose.yaml");
    let dev = dir.join("docker-compose.dev.yaml");
    let out = deck(&[
        "-f",
        base.to_str().expect("utf8"),
        "-f",
        dev.to_str().expect("utf8"),
        "config",
        "--show-secrets",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("name: sirius\n"), "{stdout}");
    assert!(stdout.contains("fixture-pg-password"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("docker-compose.dev.yaml:90: services.sirius-ui.depends_on"),
        "{stderr}"
    );
}

#[test]
fn invalid_input_exits_1_and_lists_every_error() {
    let dir = fixture();
    let env = std::env::temp_dir().join(format!("deck-cli-nopw-{}.env", std::process::id()));
    std::fs::write(&env, "IMAGE_TAG=v1\n").expect("write");
    let out = deck(&[
        "config",
        "--stack",
        "sirius",
        "--env",
        "prod",
        "--project-dir",
        dir.to_str().expect("utf8"),
        "--env-file",
        env.to_str().expect("utf8"),
    ]);
    std::fs::remove_file(&env).ok();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing printed on stdout for invalid input");
    let stderr = text(&out.stderr);
    for needle in [
        "POSTGRES_PASSWORD is required",
        "DATABASE_URL is required",
        "NEXTAUTH_SECRET is required",
        "INITIAL_ADMIN_PASSWORD is required",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from:\n{stderr}");
    }
    assert!(stderr.contains("docker-compose.yaml:53:"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_and_unknown_stacks_exit_1() {
    assert_eq!(deck(&["config", "--no-such-flag"]).status.code(), Some(2));
    assert_eq!(deck(&["nonsense"]).status.code(), Some(2));
    let out = deck(&["config", "--stack", "no-such-stack"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Available: "));
}

#[test]
fn help_names_the_commands() {
    let out = deck(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for c in ["config", "stacks", "--stack", "--env"] {
        assert!(help.contains(c), "{c}");
    }
}

/// Backup, restore and switch (and ps) against an engine that cannot be reached: exit status 3,
/// with what to do, never a generic failure.
#[test]
fn an_unreachable_engine_exits_3_and_says_what_to_do() {
    let backups = std::env::temp_dir().join(format!("deck-cli-unreachable-{}", std::process::id()));
    for args in [
        &["ps"][..],
        &["backup"],
        &["restore", "latest", "--yes"],
        &["switch", "prod"],
        &["up"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sirius-deck"))
            .args(args)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env("SIRIUS_DECK_BACKUP_DIR", &backups)
            .env_remove("SIRIUS_DECK_STACK")
            .output()
            .expect("runs");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot reach the Docker engine at unix:///nonexistent/docker.sock"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("Is dockerd running?"), "{stderr}");
    }
}

#[test]
fn help_lists_the_exit_statuses() {
    let out = deck(&["--help"]);
    let help = text(&out.stdout);
    for line in [
        "1    invalid input",
        "3    the Docker engine cannot be reached",
        "130  cancelled",
    ] {
        assert!(help.contains(line), "{line} missing from:\n{help}");
    }
}

/// `up` and `build` of a service the files do not run: refused before anything changes, with
/// what the files have (needs the engine, which the test command starts).
#[test]
fn up_of_a_service_the_files_do_not_run_is_refused() {
    let dir = std::env::temp_dir().join(format!("deck-cli-unknown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("compose.yaml");
    std::fs::write(
        &file,
        "services:\n  db: {image: no-such-image-deck}\n  tools: {image: no-such-image-deck, profiles: [debug]}\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf8");
    for (cmd, service, needle) in [
        ("up", "no-such", "no service 'no-such' in deck-unknown; it has: db"),
        ("build", "no-such", "no service 'no-such' in deck-unknown; it has: db"),
        (
            "up",
            "tools",
            "service 'tools' is in profile debug, which is not active: add --profile debug",
        ),
    ] {
        let out = deck(&["-f", f, "-p", "deck-unknown", cmd, service]);
        let stderr = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{cmd} {service}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{cmd} {service}: {needle} missing from:\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A secret from `.env` is masked wherever it lands in `config`'s output (a command, a health
/// check, a label), not only in `environment`; an interpolation error does not echo it.
#[test]
fn config_masks_a_secret_wherever_it_is_used() {
    let dir = std::env::temp_dir().join(format!("deck-cli-canary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let canary = "canary-7f3a9c1e55";
    std::fs::write(dir.join(".env"), format!("REDIS_PASSWORD={canary}\n")).expect(".env");
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  cache:\n    image: valkey\n    command: [\"valkey-server\", \"--requirepass\", \"${REDIS_PASSWORD}\"]\n    healthcheck:\n      test: [\"CMD-SHELL\", \"valkey-cli -a ${REDIS_PASSWORD} ping\"]\n    labels:\n      auth: \"pw=${REDIS_PASSWORD}\"\n",
    )
    .expect("compose");
    let f = dir.join("compose.yaml");
    let f = f.to_str().expect("utf8");
    for format in ["yaml", "json"] {
        let out = deck(&["-f", f, "config", "--format", format]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains(canary), "{format}: the secret is printed:\n{all}");
        assert!(all.contains("********"), "{format}: nothing masked:\n{all}");
    }
    let shown = deck(&["-f", f, "config", "--show-secrets"]);
    assert!(text(&shown.stdout).contains(canary), "--show-secrets shows it");
    // A broken template in .env: the error says where, not what the value was.
    std::fs::write(dir.join(".env"), format!("REDIS_PASSWORD=${{{canary}\n")).expect(".env");
    let out = deck(&["-f", f, "config"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!text(&out.stderr).contains(canary), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(".env"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
