//! Backup and restore on the real lab stack, through the `sirius-deck` command as a user runs
//! it: a round trip of rows and files, a backup killed midway (politely and not), a damaged set
//! refused before anything changes, and a restore failing midway rolled back.

use deck_tests::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Row count and a checksum of every row of the table `kept`, and the findings count.
fn rows() -> (String, String, String) {
    (
        psql("select count(*) from kept"),
        psql("select md5(string_agg(id || ':' || v, ',' order by id)) from kept"),
        psql("select count(*) from findings"),
    )
}

fn file_sum(container: &str, path: &str) -> String {
    let out = Command::new("docker")
        .args([
            "exec",
            container,
            "sh",
            "-c",
            &format!("sha256sum {path} 2>/dev/null || echo missing"),
        ])
        .output()
        .expect("docker exec");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

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

/// Every long-running service of the lab is running and passes its own health check now
/// (Docker's status can lag behind by one check interval).
fn assert_all_healthy() {
    for c in [
        "sirius-postgres",
        "sirius-valkey",
        "sirius-rabbitmq",
        "sirius-api",
        "sirius-engine",
        "sirius-ui",
    ] {
        let out = Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.Health.Status}}|{{json .Config.Healthcheck.Test}}",
                c,
            ])
            .output()
            .expect("docker inspect");
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (state, test) = text.split_once('|').expect("state|test");
        assert!(
            state == "running healthy" || state == "running starting",
            "{c}: {state}"
        );
        let test: Vec<String> = serde_json::from_str(test).expect("health test");
        assert_eq!(test[0], "CMD", "{c}");
        let args: Vec<&str> = test[1..].iter().map(String::as_str).collect();
        exec(c, &args);
    }
}

fn fresh_lab(backups: &Path) {
    let _ = std::fs::remove_dir_all(backups);
    ok(deck(backups, &["down", "--volumes"]));
    ok(deck(backups, &["up"]));
    psql("create table kept (id int primary key, v text)");
    psql("insert into kept select g, md5(g::text) from generate_series(1, 5000) g");
    exec(
        "sirius-valkey",
        &[
            "sh",
            "-c",
            "head -c 3000000 /dev/urandom > /data/blob.bin && valkey-cli set known value >/dev/null",
        ],
    );
}

fn backup_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sirius-deck-test-{name}"))
}

#[tokio::test]
async fn round_trip_brings_back_rows_and_files_with_every_service_healthy() {
    let _lock = exclusive().await;
    let backups = backup_dir("roundtrip");
    fresh_lab(&backups);
    let before = rows();
    assert_eq!(before.0, "5000");
    assert_eq!(before.2, "3");
    let blob = file_sum("sirius-valkey", "/data/blob.bin");

    ok(deck(&backups, &["backup"]));
    let listed = sets(&backups);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let set = &listed[0];
    let id = set["id"].as_str().expect("id").to_string();
    let mut items: Vec<&str> = set["manifest"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or(""))
        .collect();
    items.sort();
    assert_eq!(
        items,
        ["postgres_data", "rabbitmq_data", "sirius-postgres", "valkey_data"]
    );
    assert_eq!(set["manifest"]["env"], "dev");
    assert!(set["manifest"]["engine_version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));
    assert!(set["manifest"]["images"]["sirius-api"]["id"]
        .as_str()
        .is_some_and(|v| v.starts_with("sha256:")));
    // Readable by the user only.
    let set_dir = backups.join("sirius-lab").join(&id);
    assert_eq!(
        std::fs::metadata(&set_dir).expect("set dir").permissions().mode() & 0o777,
        0o700
    );
    for f in std::fs::read_dir(&set_dir).expect("files").flatten() {
        assert_eq!(
            f.metadata().expect("meta").permissions().mode() & 0o777,
            0o600,
            "{:?}",
            f.path()
        );
    }
    assert_all_healthy();

    // Change and delete data.
    psql("delete from kept where id % 2 = 0");
    psql("update kept set v = 'changed' where id < 100");
    psql("insert into kept values (9999, 'new')");
    psql("delete from findings");
    exec(
        "sirius-valkey",
        &["sh", "-c", "rm /data/blob.bin && echo other > /data/other.txt"],
    );
    assert_ne!(rows(), before);

    let out = ok(deck(&backups, &["restore", &id, "--yes"]));
    assert_eq!(rows(), before, "{out}");
    assert_eq!(file_sum("sirius-valkey", "/data/blob.bin"), blob);
    assert_eq!(file_sum("sirius-valkey", "/data/other.txt"), "missing");
    assert_eq!(
        get_json("sirius-api", "http://127.0.0.1:9001/health")["findings"],
        3,
        "the API sees the restored rows"
    );
    assert_all_healthy();
    let after = sets(&backups);
    assert_eq!(after.len(), 2, "the set and the safety set taken before restoring");
    assert!(after.iter().any(|s| s["manifest"]["kind"] == "safety"));

    // One item alone: the volume comes back, the database is left as it is now.
    psql("insert into kept values (10001, 'after')");
    exec("sirius-valkey", &["rm", "/data/blob.bin"]);
    ok(deck(
        &backups,
        &["restore", &id, "--only", "volume:valkey_data", "--yes"],
    ));
    assert_eq!(file_sum("sirius-valkey", "/data/blob.bin"), blob);
    assert_eq!(psql("select v from kept where id = 10001"), "after");
    assert_all_healthy();

    ok(deck(&backups, &["verify", &id]));
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

    // Interrupted (Ctrl-C, SIGTERM): it cleans up and starts what it stopped before exiting.
    let status = interrupt_backup(&backups, "-TERM");
    assert!(!status.success());
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

/// Rewrites a set's manifest after its files were changed on purpose, so that it verifies.
fn reseal(set_dir: &Path, file: &str) {
    let path = set_dir.join(file);
    let bytes = std::fs::read(&path).expect("read");
    let raw = zstd::decode_all(&bytes[..]).expect("decodes");
    let manifest_path = set_dir.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("json");
    for item in m["items"].as_array_mut().expect("items") {
        if item["file"] == file {
            use sha2::Digest;
            let sha: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            item["size"] = bytes.len().into();
            item["sha256"] = sha.into();
            item["raw_size"] = raw.len().into();
        }
    }
    m["id"] = set_dir.file_name().expect("name").to_string_lossy().into_owned().into();
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m).expect("json")).expect("write");
}

fn copy_set(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for f in std::fs::read_dir(from).expect("files").flatten() {
        std::fs::copy(f.path(), to.join(f.file_name())).expect("copy");
    }
}

#[tokio::test]
async fn a_damaged_set_is_refused_and_a_failing_restore_is_rolled_back() {
    let _lock = exclusive().await;
    let backups = backup_dir("faults");
    fresh_lab(&backups);
    ok(deck(&backups, &["backup"]));
    let id = sets(&backups)[0]["id"].as_str().expect("id").to_string();
    let set_dir = backups.join("sirius-lab").join(&id);

    // The data after the backup, which a restore would replace.
    psql("insert into kept values (7777, 'written after the backup')");
    exec("sirius-valkey", &["sh", "-c", "echo later > /data/later.txt"]);
    let current = rows();
    let later = file_sum("sirius-valkey", "/data/later.txt");
    let pg_started = started_at("sirius-postgres");

    // One flipped byte: refused before anything changes.
    let damaged = backups.join("sirius-lab").join("2000-01-01T00-00-00Z");
    copy_set(&set_dir, &damaged);
    reseal(&damaged, "db-sirius-postgres.dump.zst");
    let dump = damaged.join("db-sirius-postgres.dump.zst");
    let mut bytes = std::fs::read(&dump).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&dump, &bytes).expect("write");
    let out = deck(&backups, &["restore", "2000-01-01T00-00-00Z", "--yes"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing was changed") && err.contains("checksum differs"),
        "{err}"
    );
    assert_eq!(rows(), current);
    assert_eq!(started_at("sirius-postgres"), pg_started, "nothing was stopped");
    let verify = deck(&backups, &["verify", "2000-01-01T00-00-00Z"]);
    assert!(!verify.status.success());
    std::fs::remove_dir_all(&damaged).expect("rm");

    // A set that verifies but whose dump breaks off halfway: the volumes are replaced first,
    // then pg_restore fails, and everything is rolled back to the data from before.
    let broken = backups.join("sirius-lab").join("2000-01-02T00-00-00Z");
    copy_set(&set_dir, &broken);
    let dump = broken.join("db-sirius-postgres.dump.zst");
    let raw = zstd::decode_all(&std::fs::read(&dump).expect("read")[..]).expect("decodes");
    let half = zstd::encode_all(&raw[..raw.len() / 2], 3).expect("encodes");
    std::fs::File::create(&dump)
        .and_then(|mut f| f.write_all(&half))
        .expect("write");
    reseal(&broken, "db-sirius-postgres.dump.zst");
    let out = deck(&backups, &["restore", "2000-01-02T00-00-00Z", "--yes", "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was undone"), "{err}");
    let progress = String::from_utf8_lossy(&out.stdout);
    assert!(progress.contains("\"op\":\"rollback\""), "the rollback ran: {progress}");
    assert!(
        progress.contains("\"item\":\"volume:valkey_data\""),
        "volumes were replaced before the failure"
    );
    assert_eq!(rows(), current, "the data from before the restore");
    assert_eq!(file_sum("sirius-valkey", "/data/later.txt"), later);
    assert_all_healthy();
    ok(deck(&backups, &["verify", &id]));
}
