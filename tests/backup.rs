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
    let (status, seen) = interrupt(backups, &["backup", "--json"], signal, |v| {
        v["event"] == "bytes" && v["item"] == "volume:postgres_data" && v["done"].as_u64() > Some(0)
    });
    assert!(
        seen.iter().any(|l| l.contains("\"stopped\"")),
        "the backup was stopped while services were stopped: {seen:?}"
    );
    status
}

/// Runs a `--json` command and sends `signal` at the first progress event `at` accepts; its
/// exit status and the events seen.
fn interrupt(
    backups: &Path,
    args: &[&str],
    signal: &str,
    at: impl Fn(&serde_json::Value) -> bool,
) -> (std::process::ExitStatus, Vec<String>) {
    let mut child = Command::new(cli())
        .args(args)
        .env("SIRIUS_DECK_BACKUP_DIR", backups)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the command starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json progress");
        seen.push(line);
        if at(&v) {
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill");
            break;
        }
    }
    (child.wait().expect("wait"), seen)
}

/// Whether a container's state says `field` (Running, Paused).
fn state_is(container: &str, field: &str) -> bool {
    let out = Command::new("docker")
        .args(["inspect", "-f", &format!("{{{{.State.{field}}}}}"), container])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

fn running(container: &str) -> bool {
    state_is(container, "Running")
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

    // Killed again, then the stack taken down on purpose: the next run cleans up but does not
    // start the stack the user took down (and this backup, with nothing running, is refused).
    let status = interrupt_backup(&backups, "-KILL");
    assert!(!status.success());
    ok(deck(&backups, &["down"]));
    let out = deck(&backups, &["backup"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("taken down or started since"), "{text}");
    assert!(
        !running("sirius-postgres") && !running("sirius-api"),
        "the stack was started again:\n{text}"
    );
    assert!(partials(&backups).is_empty(), "the incomplete set is removed");
    assert_eq!(sets(&backups).len(), 1);
    ok(deck(&backups, &["up"]));
}

fn exec_ok_after_recovery(backups: &Path) {
    let out = deck(backups, &["backup"]);
    let text = ok(out);
    assert!(text.contains("interrupted backup"), "{text}");
    assert!(partials(backups).is_empty());
    assert_eq!(sets(backups).len(), 1);
    assert_all_healthy();
}

fn paused(container: &str) -> bool {
    state_is(container, "Paused")
}

/// A tmpfs mounted over a folder for as long as it lives.
/// The backup folder fills up while a service is paused for its volume: the service runs again,
/// the error says the disk is full, no set is listed, and once there is room the next backup
/// succeeds.
#[tokio::test]
async fn a_full_disk_while_a_service_is_paused_leaves_it_running() {
    let _lock = exclusive().await;
    let backups = backup_dir("full-disk");
    let _ = Command::new("umount").arg(&backups).status();
    fresh_lab(&backups);
    // The lab with Valkey's volume archived paused (its 3 MB of random data fills the disk).
    let profile = lab_copy("pause", "").join("profile.toml");
    let text = std::fs::read_to_string(&profile).expect("profile");
    std::fs::write(
        &profile,
        text.replace("valkey_data = \"live\"", "valkey_data = \"pause\""),
    )
    .expect("write");
    let stack = profile.to_str().expect("utf8");
    {
        let _disk = Tmpfs::mount(&backups, "1m");
        let out = deck(&backups, &["--stack", stack, "backup"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("No space left on device"), "{text}");
        assert!(!text.contains("again failed"), "{text}");
        assert!(!paused("sirius-valkey"), "Valkey left paused:\n{text}");
        assert!(running("sirius-valkey"));
        assert!(sets(&backups).is_empty());
    }
    // Docker's own health status of a container paused in its start period reads "unhealthy"
    // until its next check passes (one interval, 10 s for Valkey): wait for that, then check.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !state_is("sirius-valkey", "Health.Status | eq \"healthy\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "Valkey did not become healthy again"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_all_healthy();
    ok(deck(&backups, &["--stack", stack, "backup"]));
    assert_eq!(sets(&backups).len(), 1);
    assert!(!paused("sirius-valkey"));
}

/// A restore killed after it stopped the stack; the user brings the stack up and writes a row;
/// the next command finds the interrupted restore and rolls nothing back over that row.
#[tokio::test]
async fn an_interrupted_restore_is_not_rolled_back_over_newer_work() {
    let _lock = exclusive().await;
    let backups = backup_dir("interrupted-restore");
    fresh_lab(&backups);
    ok(deck(&backups, &["backup"]));
    // Killed at the first service the restore itself stops (after its safety set, before any
    // data is replaced).
    let restoring = std::cell::Cell::new(false);
    let (status, seen) = interrupt(&backups, &["restore", "latest", "--yes", "--json"], "-KILL", |v| {
        if v["event"] == "plan" && v["op"] == "restore" {
            restoring.set(true);
        }
        restoring.get() && v["event"] == "service" && v["phase"] == "stopped"
    });
    assert!(!status.success(), "{seen:?}");
    let listing = ok(deck(&backups, &["backups"]));
    assert!(listing.contains("was interrupted"), "{listing}");
    ok(deck(&backups, &["up"]));
    psql("insert into kept values (424242, 'written after the interrupted restore')");
    let text = ok(deck(&backups, &["backup"]));
    assert!(text.contains("nothing is done about it on its own"), "{text}");
    // It waits for the user's choice, listed with what each does; discarding it keeps the row.
    let waiting = ok(deck(&backups, &["recover"]));
    assert!(waiting.contains("recover restore --roll-back"), "{waiting}");
    ok(deck(&backups, &["recover", "--discard"]));
    assert!(ok(deck(&backups, &["recover"])).contains("nothing of sirius-lab was interrupted"));
    assert_eq!(
        psql("select v from kept where id = 424242"),
        "written after the interrupted restore"
    );
    assert_all_healthy();
}
