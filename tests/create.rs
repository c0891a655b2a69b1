//! Containers as `docker compose` makes them, on the real engine, against the real Docker
//! Compose 2.26:
//! - `docker compose create` and `sirius-deck create` make the same containers from
//!   `tests/fixtures/create/compose.yaml` (every key that shapes a container), compared field
//!   by field (`CONFIG`, `HOST_CONFIG`, and each network endpoint's aliases, links, addresses);
//!   That includes a service with three replicas (`worker`: `<project>-worker-1..3`, numbered,
//!   aliased and linked as compose does it);
//! - interop both ways: after `sirius-deck up`, `docker compose up -d` recreates nothing; after
//!   `docker compose up -d`, `sirius-deck up` recreates nothing and `ps` proves every service's
//!   configuration (the same configuration hash as compose's); scaled down by one tool, the
//!   other keeps the replicas that stay, and scaled up again, the missing number comes back.
//!
//! Differences that are not differences (each compared after a normalisation):
//! - a container's id in `container:<id>` (`network_mode`, `ipc`, `pid`) and `volumes_from`
//!   refers to that run's container of the same service: written as `<service>`;
//! - `Hostname` of a service without `hostname:`: chosen by the engine at random;
//! - the order of `ExtraHosts`, `Binds` and `Ulimits`: compose writes them from Go maps (any
//!   order): compared sorted;
//! - the configuration hash of a service that refers to another's container: compose hashes
//!   that container's id, different in each run (the interop test compares hashes);
//! - network aliases the engine adds itself (the container's short id): left out.
//!
//! One difference on purpose: compose drops the mode of `volumes_from: [base:ro]` (the volumes
//! become writable); Sirius Deck keeps `:ro`. And the label `com.docker.compose.version` says
//! which tool created the container.

use deck_tests::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROJECT: &str = "deckcreate";

/// The two tests share the project: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// Every container, by `<service>-<number>`.
const CONTAINERS: [&str; 6] = ["base-1", "sidecar-1", "linked-1", "worker-1", "worker-2", "worker-3"];
const SERVICES: [&str; 4] = ["base", "sidecar", "linked", "worker"];

const CONFIG: &[&str] = &[
    "Cmd",
    "Entrypoint",
    "Env",
    "Labels",
    "Hostname",
    "Domainname",
    "User",
    "WorkingDir",
    "Tty",
    "OpenStdin",
    "StopSignal",
    "StopTimeout",
    "ExposedPorts",
    "Healthcheck",
    "Image",
];

const HOST_CONFIG: &[&str] = &[
    "Binds",
    "Mounts",
    "PortBindings",
    "RestartPolicy",
    "CapAdd",
    "CapDrop",
    "Privileged",
    "ReadonlyRootfs",
    "Init",
    "ExtraHosts",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "NanoCpus",
    "CpuShares",
    "CpusetCpus",
    "ShmSize",
    "Tmpfs",
    "NetworkMode",
    "IpcMode",
    "PidMode",
    "LogConfig",
    "Ulimits",
    "Sysctls",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "SecurityOpt",
    "GroupAdd",
    "Devices",
    "DeviceCgroupRules",
    "PidsLimit",
    "OomScoreAdj",
    "VolumesFrom",
    "Links",
    "Runtime",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/create")
}

fn compose_v2() -> PathBuf {
    std::env::var_os("COMPOSE_V2").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(&std::env::var_os("HOME").expect("HOME")).join(".cache/sirius-deck/compose-v2/docker-compose")
    })
}

/// Runs one of the two tools on the fixture; its output, or a panic with its errors.
fn run(tool: &Path, args: &[&str]) -> String {
    run_with(tool, args, "3")
}

/// `run`, with `workers` replicas of `worker`.
fn run_with(tool: &Path, args: &[&str], workers: &str) -> String {
    let out = Command::new(tool)
        .env("WORKERS", workers)
        .args(["-p", PROJECT, "-f"])
        .arg(fixture().join("compose.yaml"))
        .args(args)
        .output()
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{} {args:?} failed:\n{text}", tool.display());
    text
}

fn clean() {
    let _ = Command::new(compose_v2())
        .args(["-p", PROJECT, "-f"])
        .arg(fixture().join("compose.yaml"))
        .args(["down", "--volumes", "--timeout", "1"])
        .output();
}

/// One container (`<service>-<number>`), `Null` when there is none.
fn inspect(container: &str) -> Value {
    let out = Command::new("docker")
        .args(["inspect", &format!("{PROJECT}-{container}")])
        .output()
        .expect("docker inspect");
    serde_json::from_slice::<Value>(&out.stdout).map_or(Value::Null, |v| v[0].clone())
}

/// The id of every container that exists, by `<service>-<number>`.
fn ids() -> BTreeMap<String, String> {
    CONTAINERS
        .iter()
        .filter_map(|c| Some((c.to_string(), inspect(c)["Id"].as_str()?.to_string())))
        .collect()
}

/// The compared fields of every container, normalised as the module says.
fn containers() -> BTreeMap<String, Value> {
    let ids = ids();
    let mut out = BTreeMap::new();
    for s in CONTAINERS {
        let c = inspect(s);
        let mut fields = serde_json::Map::new();
        for k in CONFIG {
            let mut v = c["Config"][k].clone();
            match *k {
                "Env" => sort(&mut v),
                "Labels" => {
                    if let Value::Object(m) = &mut v {
                        m.retain(|k, _| k != "com.docker.compose.version" && !k.starts_with("dev.siriusdeck."));
                        if s == "sidecar-1" {
                            m.remove("com.docker.compose.config-hash");
                        }
                    }
                }
                "Hostname" if s != "base-1" => v = Value::Null,
                _ => {}
            }
            fields.insert(format!("Config.{k}"), v);
        }
        for k in HOST_CONFIG {
            let mut v = c["HostConfig"][k].clone();
            if matches!(*k, "ExtraHosts" | "Binds" | "Ulimits") {
                sort(&mut v);
            }
            fields.insert(format!("HostConfig.{k}"), v);
        }
        for (net, e) in c["NetworkSettings"]["Networks"].as_object().into_iter().flatten() {
            let short = c["Id"]
                .as_str()
                .unwrap_or_default()
                .get(..12)
                .unwrap_or_default()
                .to_string();
            let mut aliases = e["Aliases"].clone();
            if let Value::Array(a) = &mut aliases {
                a.retain(|x| x.as_str() != Some(short.as_str()));
            }
            fields.insert(format!("Network.{net}.Aliases"), aliases);
            fields.insert(format!("Network.{net}.Links"), e["Links"].clone());
            fields.insert(format!("Network.{net}.IPAMConfig"), e["IPAMConfig"].clone());
        }
        let mut v = Value::Object(fields);
        for (container, id) in &ids {
            replace(&mut v, id, &format!("<{}>", container.trim_end_matches("-1")));
        }
        out.insert(s.to_string(), v);
    }
    out
}

fn sort(v: &mut Value) {
    if let Value::Array(a) = v {
        a.sort_by_key(|x| x.to_string());
    }
}

fn replace(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(a) => a.iter_mut().for_each(|x| replace(x, from, to)),
        Value::Object(m) => m.values_mut().for_each(|x| replace(x, from, to)),
        _ => {}
    }
}

#[test]
fn sirius_deck_creates_the_containers_docker_compose_creates() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let compose = compose_v2();
    assert!(
        compose.exists(),
        "{} is fetched by ./scripts/test.sh",
        compose.display()
    );
    let deck = cli();
    clean();

    run(&compose, &["create"]);
    let theirs = containers();
    clean();
    run(&deck, &["create"]);
    let ours = containers();
    clean();

    let mut differences = Vec::new();
    for s in CONTAINERS {
        let (a, b) = (&ours[s], &theirs[s]);
        for (k, theirs) in b.as_object().into_iter().flatten() {
            let mine = a.get(k).unwrap_or(&Value::Null);
            if mine == theirs {
                continue;
            }
            // On purpose: compose drops `:ro` from `volumes_from`.
            if s == "sidecar-1" && k == "HostConfig.VolumesFrom" && mine == &serde_json::json!(["<base>:ro"]) {
                continue;
            }
            differences.push(format!("{s} {k}: ours {mine} compose {theirs}"));
        }
        for k in a.as_object().into_iter().flatten().map(|(k, _)| k) {
            if b.get(k).is_none() {
                differences.push(format!("{s} {k}: only ours"));
            }
        }
    }
    let compared = ours
        .values()
        .map(|v| v.as_object().map_or(0, |m| m.len()))
        .sum::<usize>();
    println!("{compared} fields compared over {} containers", CONTAINERS.len());
    assert!(differences.is_empty(), "containers differ:\n{}", differences.join("\n"));
}

#[test]
fn each_tool_sees_the_others_containers_as_up_to_date() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let compose = compose_v2();
    let deck = cli();
    clean();

    // Sirius Deck first, then docker compose up -d: nothing recreated.
    run(&deck, &["up"]);
    let before = ids();
    let out = run(&compose, &["up", "-d"]);
    assert!(!out.contains("Recreate"), "compose recreated containers:\n{out}");
    assert_eq!(ids(), before, "compose recreated containers:\n{out}");
    clean();

    // docker compose first, then Sirius Deck: nothing recreated, every service proven.
    run(&compose, &["up", "-d"]);
    let before = ids();
    let out = run(&deck, &["up", "--json"]);
    for s in SERVICES {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("\"service\":\"{s}\"")) && l.contains("\"unchanged\"")),
            "{s} not unchanged:\n{out}"
        );
    }
    assert_eq!(ids(), before, "sirius-deck recreated containers:\n{out}");
    let ps: Value = serde_json::from_str(&run(&deck, &["ps", "--json"])).expect("ps JSON");
    for row in ps.as_array().expect("rows") {
        let config = row["drift"]["findings"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["check"] == "config"))
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(config["ok"], Value::Bool(true), "not proven: {row}");
    }

    // Scaled down by Sirius Deck: the highest number goes, the others stay; docker compose
    // then agrees; scaled up again, the missing number comes back.
    let out = run_with(&deck, &["up", "--json"], "2");
    let after = ids();
    assert!(!after.contains_key("worker-3"), "worker-3 kept:\n{out}");
    assert_eq!(
        after.get("worker-1"),
        before.get("worker-1"),
        "worker-1 recreated:\n{out}"
    );
    assert_eq!(
        after.get("worker-2"),
        before.get("worker-2"),
        "worker-2 recreated:\n{out}"
    );
    let out = run_with(&compose, &["up", "-d"], "2");
    assert_eq!(ids(), after, "compose changed the scaled-down stack:\n{out}");
    let out = run(&deck, &["up", "--json"]);
    let again = ids();
    assert!(again.contains_key("worker-3"), "worker-3 not created again:\n{out}");
    assert_eq!(
        again.get("worker-1"),
        after.get("worker-1"),
        "worker-1 recreated:\n{out}"
    );
    let labels = &inspect("worker-3")["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.container-number"], "3", "{labels}");
    clean();
}
