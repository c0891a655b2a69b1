//! Backup and restore through the application API, as the window and the command line call it,
//! on the real lab stack: a round trip of rows and files, a damaged set refused before anything
//! changes, a restore failing midway rolled back, and an engine that cannot be reached named
//! as such.

mod host;

use deck_app::{Code, Event, Op, RestoreRequest, Sink, Verified};
use deck_backup::RestoreOptions;
use deck_tests::*;
use host::*;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn restore_request(id: &str, only: &[&str]) -> RestoreRequest {
    RestoreRequest {
        id: id.to_string(),
        options: RestoreOptions {
            only: only.iter().map(|s| s.to_string()).collect(),
            safety: true,
        },
    }
}

#[tokio::test]
async fn round_trip_brings_back_rows_and_files_with_every_service_healthy() {
    let _lock = exclusive().await;
    let backups = backups_dir("roundtrip");
    let app = app(&backups);
    fresh_lab(&app, "dev").await;
    seed_lab();
    let stack = lab_stack("dev");
    let before = rows();
    assert_eq!(before.0, "5000");
    assert_eq!(before.2, "3");
    let blob = file_sum("sirius-valkey", "/data/blob.bin");

    let (set, events) = with_events(async |sink| deck_app::backup(&app, &stack, &[], sink).await).await;
    let set = set.expect("a backup set");
    assert!(events.iter().any(|e| matches!(e, Event::Done { op: Op::Backup, .. })));
    let mut items: Vec<&str> = set.items.iter().map(|i| i.id.as_str()).collect();
    items.sort();
    assert_eq!(
        items,
        [
            "db:sirius-postgres",
            "volume:postgres_data",
            "volume:rabbitmq_data",
            "volume:valkey_data"
        ]
    );
    let listed = deck_app::backups(&app, &stack).expect("list");
    assert_eq!(listed.sets.len(), 1);
    assert_eq!(listed.sets[0].verified, Verified::WhenWritten);
    // The manifest says where the data came from.
    let set_dir = backups.join("sirius-lab").join(&set.id);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(set_dir.join("manifest.json")).expect("manifest")).expect("json");
    assert_eq!(manifest["env"], "dev");
    assert!(manifest["engine_version"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(manifest["images"]["sirius-api"]["id"]
        .as_str()
        .is_some_and(|v| v.starts_with("sha256:")));
    // Readable by the user only.
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

    // A client of the database from outside the stack, left connected: the restore
    // disconnects it instead of failing to drop the database.
    let mut held = Proc(
        std::process::Command::new("docker")
            .args(["exec", "-e", "PGAPPNAME=held-through-restore", "sirius-postgres"])
            .args(["psql", "-U", "postgres", "-d", "sirius", "-c", "select pg_sleep(600)"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("a held psql session"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while psql("select count(*) from pg_stat_activity where application_name = 'held-through-restore'") != "1" {
        assert!(std::time::Instant::now() < deadline, "the psql session did not connect");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    let restored = deck_app::restore(&app, &stack, &restore_request(&set.id, &[]), &Sink::none())
        .await
        .expect("restored, with a client connected to the database");
    assert!(restored.safety.is_some(), "a safety set was taken first");
    assert!(
        held.0.try_wait().expect("psql's state").is_some(),
        "the outside client was disconnected"
    );
    assert_eq!(rows(), before);
    assert_eq!(file_sum("sirius-valkey", "/data/blob.bin"), blob);
    assert_eq!(file_sum("sirius-valkey", "/data/other.txt"), "missing");
    assert_eq!(
        get_json("sirius-api", "http://127.0.0.1:9001/health")["findings"],
        3,
        "the API sees the restored rows"
    );
    assert_all_healthy();
    let after = deck_app::backups(&app, &stack).expect("list").sets;
    assert_eq!(after.len(), 2, "the set and the safety set taken before restoring");
    assert!(after.iter().any(|s| s.kind == deck_backup::Kind::Safety));

    // One item alone: the volume comes back, the database is left as it is now.
    psql("insert into kept values (10001, 'after')");
    exec("sirius-valkey", &["rm", "/data/blob.bin"]);
    deck_app::restore(
        &app,
        &stack,
        &restore_request(&set.id, &["volume:valkey_data"]),
        &Sink::none(),
    )
    .await
    .expect("restored one item");
    assert_eq!(file_sum("sirius-valkey", "/data/blob.bin"), blob);
    assert_eq!(psql("select v from kept where id = 10001"), "after");
    assert_all_healthy();

    let verified = deck_app::verify(&app, &stack, &set.id, &Sink::none())
        .await
        .expect("verifies");
    assert_eq!(verified.verified, Verified::Ok);
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
    let backups = backups_dir("faults");
    let app = app(&backups);
    fresh_lab(&app, "dev").await;
    seed_lab();
    let stack = lab_stack("dev");
    let set = deck_app::backup(&app, &stack, &[], &Sink::none()).await.expect("a set");
    let set_dir = backups.join("sirius-lab").join(&set.id);

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
    let err = deck_app::restore(
        &app,
        &stack,
        &restore_request("2000-01-01T00-00-00Z", &[]),
        &Sink::none(),
    )
    .await
    .expect_err("refused");
    assert_eq!(err.code, Code::Refused, "{}", err.message);
    assert!(
        err.message.contains("nothing was changed") && err.message.contains("checksum differs"),
        "{}",
        err.message
    );
    assert_eq!(rows(), current);
    assert_eq!(started_at("sirius-postgres"), pg_started, "nothing was stopped");
    let verify = deck_app::verify(&app, &stack, "2000-01-01T00-00-00Z", &Sink::none()).await;
    assert_eq!(verify.expect_err("damaged").code, Code::Failed);
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
    let (result, events) = with_events(async |sink| {
        deck_app::restore(&app, &stack, &restore_request("2000-01-02T00-00-00Z", &[]), sink).await
    })
    .await;
    let err = result.expect_err("the restore fails");
    assert_eq!(err.code, Code::RolledBack, "{}", err.message);
    assert!(err.message.contains("was undone"), "{}", err.message);
    assert!(
        events.iter().any(|e| matches!(e, Event::Plan { op: Op::Rollback, .. })),
        "the rollback ran"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ItemDone { op: Op::Restore, item, .. } if item == "volume:valkey_data")),
        "volumes were replaced before the failure"
    );
    assert_eq!(rows(), current, "the data from before the restore");
    assert_eq!(file_sum("sirius-valkey", "/data/later.txt"), later);
    assert_all_healthy();
    deck_app::verify(&app, &stack, &set.id, &Sink::none())
        .await
        .expect("the good set verifies");
}
