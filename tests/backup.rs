//! A backup interrupted midway, through the `sirius-deck` command as a user runs it and stops
//! it (politely and not), on the real lab stack. The round trip and the faults of restoring are
//! tested through the application API (`crates/app/tests/backup.rs`).

use deck_tests::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn sets(backups: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&ok(deck(backups, &["backups", "--json"]))).expect("backups --json");
    v["sets"].as_array().cloned().unwrap_or_default()
}

fn partials(backups: &Path) -> Vec<String> {
    std::fs::read_dir(backups.join("sirius-lab"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".partial-"))
                .collect()
        })
        .unwrap_or_default()
}

fn fresh_lab(backups: &Path) {
    let _ = std::fs::remove_dir_all(backups);
    ok(deck(backups, &["down", "--volumes"]));
    ok(deck(backups, &["up"]));
    seed_lab();
}

fn backup_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sirius-deck-test-{name}"))
}

/// Runs `backup --json` and sends `signal` once PostgreSQL's volume is being read (its
/// services stopped), then waits for the command to end.
fn interrupt_backup(backups: &Path, signal: &str) -> std::process::ExitStatus {
    let mut child = Command::new(cli())
        .args(["backup", "--json"])
        .env("SIRIUS_DECK_BACKUP_DIR", backups)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("backup starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json progress");
        let reading_pg = v["event"] == "bytes" && v["item"] == "volume:postgres_data" && v["done"].as_u64() > Some(0);
        seen.push(line);
        if reading_pg {
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill");
            break;
        }
    }
    let status = child.wait().expect("wait");
    assert!(
        seen.iter().any(|l| l.contains("\"stopped\"")),
        "the backup was stopped while services were stopped: {seen:?}"
    );
    status
}

fn running(container: &str) -> bool {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", container])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

#[tokio::test]
async fn a_backup_killed_midway_leaves_no_set_and_the_stack_running() {
    let _lock = exclusive().await;
    let backups = backup_dir("killed");
    fresh_lab(&backups);
    // Enough data in PostgreSQL's volume that reading it takes a while.
    exec(
        "sirius-postgres",
        &[
            "sh",
            "-c",
            "head -c 400000000 /dev/urandom > /var/lib/postgresql/data/ballast.bin",
        ],
    );

    // Interrupted (Ctrl-C, SIGTERM): it cleans up and starts what it stopped before exiting,
    // with the exit status of a cancelled command.
    let status = interrupt_backup(&backups, "-TERM");
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(sets(&backups).is_empty(), "no valid set is listed");
    assert!(partials(&backups).is_empty(), "no incomplete folder is left");
    assert_all_healthy();

    // Killed outright: the incomplete folder is never listed as a set, and the next run starts
    // the stopped services again and cleans up before taking its own set.
    let status = interrupt_backup(&backups, "-KILL");
    assert!(!status.success());
    assert!(!running("sirius-postgres"), "killed while PostgreSQL was stopped");
    assert!(sets(&backups).is_empty(), "no valid set is listed");
    assert_eq!(partials(&backups).len(), 1);
    let listing = ok(deck(&backups, &["backups"]));
    assert!(listing.contains("incomplete"), "{listing}");
    exec_ok_after_recovery(&backups);
}

fn exec_ok_after_recovery(backups: &Path) {
    let out = deck(backups, &["backup"]);
    let text = ok(out);
    assert!(text.contains("interrupted backup"), "{text}");
    assert!(partials(backups).is_empty());
    assert_eq!(sets(backups).len(), 1);
    assert_all_healthy();
}
