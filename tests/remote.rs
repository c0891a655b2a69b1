//! Remote engines (issue 14): a Docker engine in a container of its own (a "node": Debian's
//! docker.io and openssh-server, started with explicit capabilities since --privileged is
//! refused here), reached over TCP with TLS (certificates made by openssl for the test) and
//! over SSH (a key in an agent of the test's own), as contexts of the docker CLI. The command
//! line runs the same round trip as locally on each: up (the image of one service built by the
//! node from a context sent over the API; its bind mount warned), ps, logs, backup, restore,
//! down; and refuses a wrong certificate and an unreachable host with a clear message.

use deck_tests::window::{page, screenshot, wait_until, Window};
use deck_tests::{cli, deck, failed, ok, Proc};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The cluster's nodes (`scripts/test-cluster.sh`: each node's engine answers at its address on
/// 2376 with TLS, the first one also over SSH).
const NODES: [&str; 3] = ["deck-test-node-1", "deck-test-node-2", "deck-test-node-3"];
const MANAGER: &str = "10.213.77.11";
/// The cluster's registry (scripts/test-cluster.sh), named by the swarm profile's prod.
const REGISTRY: &str = "10.213.77.10:5000";
/// The images the test stack runs, copied from the shared engine to the node.
const IMAGES: [&str; 2] = ["sirius-lab/sirius-postgres:latest", "sirius-lab/sirius-valkey:latest"];
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Runs a command that must succeed; its standard output.
fn run(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An SSH agent of the test's own, holding the client's key.
fn agent(dir: &Path) -> Proc {
    let sock = dir.join("agent.sock");
    let agent = Proc(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent (openssh-client)"),
    );
    for _ in 0..50 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    run(Command::new("ssh-add")
        .arg("-q")
        .arg(dir.join("client/id_ed25519"))
        .env("SSH_AUTH_SOCK", &sock));
    agent
}

/// The three nodes, removed with their data when dropped.
struct Cluster;

impl Cluster {
    fn script(args: &[&str]) {
        run(Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-cluster.sh")).args(args));
    }

    /// Starts the nodes, with their certificates and keys made in `dir`.
    fn start(dir: &Path) -> Cluster {
        Cluster::script(&["up", &dir.display().to_string()]);
        Cluster
    }

    /// Makes them a swarm, the first one its manager.
    fn swarm(&self) {
        Cluster::script(&["swarm"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-cluster.sh"))
            .arg("down")
            .status();
    }
}

struct Remote {
    dir: PathBuf,
    config: PathBuf,
    _agent: Proc,
    cluster: Cluster,
}

impl Remote {
    /// The docker CLI on the node, through a context.
    fn docker(&self, context: &str) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_CONFIG", &self.config)
            .env("SSH_AUTH_SOCK", self.dir.join("agent.sock"))
            .args(["--context", context]);
        c
    }

    /// `sirius-deck` on the test stack, with the test's docker configuration and SSH agent.
    fn deck(&self, context: Option<&str>, args: &[&str]) -> Output {
        self.deck_on("remote", context, args)
    }

    /// `sirius-deck` on the lab stack whose prod environment is on the swarm.
    fn swarm(&self, args: &[&str]) -> Output {
        self.swarm_with(&[], args)
    }

    /// The same, with variables the files are interpolated with.
    fn swarm_with(&self, vars: &[(&str, &str)], args: &[&str]) -> Output {
        let mut c = self.command("swarm", None, args);
        c.envs(vars.iter().copied());
        c.output().expect("sirius-deck")
    }

    fn deck_on(&self, stack: &str, context: Option<&str>, args: &[&str]) -> Output {
        self.command(stack, context, args).output().expect("sirius-deck")
    }

    fn command(&self, stack: &str, context: Option<&str>, args: &[&str]) -> Command {
        let mut c = Command::new(cli());
        c.env("DOCKER_CONFIG", &self.config)
            .env("SSH_AUTH_SOCK", self.dir.join("agent.sock"))
            .env("SIRIUS_DECK_BACKUP_DIR", self.dir.join("backups"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT");
        if let Some(ctx) = context {
            c.args(["--context", ctx]);
        }
        c.arg("--stack")
            .arg(fixtures().join(stack).join("profile.toml"))
            .args(args);
        c
    }

    /// A query in the swarm stack's database, in its task's container on the manager.
    fn swarm_sql(&self, query: &str) -> String {
        let id = run(self.docker("deck-swarm").args([
            "ps",
            "-q",
            "--filter",
            "label=com.docker.swarm.service.name=sirius-lab_sirius-postgres",
        ]));
        let id = id.lines().next().expect("PostgreSQL's task runs on the manager");
        run(self
            .docker("deck-swarm")
            .args(["exec", id, "psql", "-U", "postgres", "-d", "sirius", "-tAc", query]))
        .trim()
        .to_string()
    }

    fn sql(&self, context: &str, query: &str) -> String {
        run(self.docker(context).args([
            "exec",
            "deck-remote-db-1",
            "psql",
            "-U",
            "postgres",
            "-d",
            "remote",
            "-tAc",
            query,
        ]))
        .trim()
        .to_string()
    }
}

fn setup() -> Remote {
    // The images, built on the shared engine (shared with the crash tests' stack).
    ok(deck(
        &std::env::temp_dir().join("sirius-deck-test-remote-build"),
        &[
            "--stack",
            "sirius-lab",
            "-e",
            "prod",
            "build",
            "sirius-postgres",
            "sirius-valkey",
        ],
    ));
    let dir = std::env::temp_dir().join("sirius-deck-test-remote");
    let started = Instant::now();
    let cluster = Cluster::start(&dir);
    eprintln!("three nodes started in {} ms", started.elapsed().as_millis());
    let agent = agent(&dir);
    let config = dir.join("docker-config");
    std::fs::create_dir_all(&config).expect("folder");
    let client = dir.join("client");
    let docker = |args: &[&str]| run(Command::new("docker").env("DOCKER_CONFIG", &config).args(args));
    let tls = format!(
        "host=tcp://{MANAGER}:2376,ca={},cert={},key={}",
        client.join("ca.pem").display(),
        client.join("cert.pem").display(),
        client.join("key.pem").display()
    );
    for (name, what) in [
        ("node-tls", "the test node over TCP and TLS"),
        ("deck-swarm", "the test swarm's manager"),
    ] {
        docker(&["context", "create", name, "--description", what, "--docker", &tls]);
    }
    docker(&[
        "context",
        "create",
        "node-ssh",
        "--description",
        "the test node over SSH",
        "--docker",
        &format!("host=ssh://root@{MANAGER}"),
    ]);
    let remote = Remote {
        dir,
        config,
        _agent: agent,
        cluster,
    };
    let copied = Instant::now();
    let mut save = Command::new("docker")
        .arg("save")
        .args(IMAGES)
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker save");
    let loaded = remote
        .docker("node-tls")
        .args(["load", "-q"])
        .stdin(save.stdout.take().expect("stdout"))
        .stdout(Stdio::null())
        .status()
        .expect("docker load");
    assert!(
        save.wait().expect("save").success() && loaded.success(),
        "copying {IMAGES:?} to the node"
    );
    eprintln!("images copied to the node in {} ms", copied.elapsed().as_millis());
    remote
}

#[test]
fn a_remote_engine_over_tls_and_over_ssh() {
    let r = setup();

    // The engines are the docker CLI's contexts, each asked.
    let listed = ok(r.deck(None, &["engines", "--json"]));
    let engines: Vec<serde_json::Value> = serde_json::from_str(&listed).expect("engines json");
    let names: Vec<&str> = engines.iter().filter_map(|e| e["name"].as_str()).collect();
    let docker_names =
        run(Command::new("docker")
            .env("DOCKER_CONFIG", &r.config)
            .args(["context", "ls", "--format", "{{.Name}}"]));
    let mut theirs: Vec<&str> = docker_names.split_whitespace().filter(|n| *n != "*").collect();
    theirs.sort_by_key(|n| (*n != "default", *n));
    assert_eq!(names, theirs, "sirius-deck engines lists what docker context ls lists");
    for name in ["node-tls", "node-ssh"] {
        let e = engines.iter().find(|e| e["name"] == name).expect("listed");
        assert!(
            e["version"].as_str().is_some_and(|v| v.starts_with("20.10")),
            "{name} answers: {e}"
        );
    }
    assert!(engines.iter().any(|e| e["name"] == "node-tls" && !e["tls"].is_null()));

    // Over TLS: up, with the build context sent to the node and the bind mount warned first.
    let t = Instant::now();
    let up = r.deck(Some("node-tls"), &["up"]);
    let up_ms = t.elapsed().as_millis();
    let said = String::from_utf8_lossy(&up.stderr).into_owned() + &String::from_utf8_lossy(&up.stdout);
    assert!(up.status.success(), "up over TLS: {said}");
    let warned = said
        .find("is bound from the remote engine's machine")
        .expect("the bind mount is warned");
    let built = said.find("built").expect("the node built the cache image");
    assert!(warned < built, "warned before anything changed:\n{said}");
    eprintln!("up over TLS (build on the node included): {up_ms} ms");
    let inside = run(r.docker("node-tls").args([
        "run",
        "--rm",
        "--entrypoint",
        "cat",
        "deck-remote/cache:latest",
        "/etc/deck-remote-build.txt",
    ]));
    assert!(inside.contains("sent over the Engine API"), "{inside}");
    // The containers are the node's, not this machine's.
    let here =
        run(Command::new("docker").args(["ps", "-aq", "--filter", "label=com.docker.compose.project=deck-remote"]));
    assert!(
        here.trim().is_empty(),
        "nothing of the stack on the local engine: {here}"
    );
    let ps = ok(r.deck(Some("node-tls"), &["ps"]));
    for s in ["db", "cache"] {
        let line = ps
            .lines()
            .find(|l| l.split_whitespace().next() == Some(s))
            .unwrap_or_else(|| panic!("{s} in ps:\n{ps}"));
        assert!(line.contains("running"), "{s} runs on the node:\n{ps}");
    }
    let logs = ok(r.deck(Some("node-tls"), &["logs", "db"]));
    assert!(!logs.trim().is_empty(), "the node's logs of db");
    r.sql(
        "node-tls",
        "create table kept (n int); insert into kept values (1), (2)",
    );
    let t = Instant::now();
    ok(r.deck(Some("node-tls"), &["backup"]));
    eprintln!("backup over TLS: {} ms", t.elapsed().as_millis());

    let t = Instant::now();
    ok(r.deck(Some("node-tls"), &["ps"]));
    eprintln!("ps over TLS: {} ms", t.elapsed().as_millis());

    // Over SSH: the same stack, seen and changed through the other transport.
    let t = Instant::now();
    let ps = ok(r.deck(Some("node-ssh"), &["ps"]));
    eprintln!("ps over SSH: {} ms", t.elapsed().as_millis());
    assert!(
        ps.lines().filter(|l| l.contains(" running ")).count() == 2,
        "ps over SSH:\n{ps}"
    );
    let up = ok(r.deck(Some("node-ssh"), &["up"]));
    assert!(
        !up.contains("recreated"),
        "nothing changed, so nothing is recreated over SSH:\n{up}"
    );
    let logs = ok(r.deck(Some("node-ssh"), &["logs", "cache"]));
    assert!(!logs.trim().is_empty(), "the node's logs of cache over SSH");
    r.sql("node-ssh", "insert into kept values (3)");
    let t = Instant::now();
    ok(r.deck(Some("node-ssh"), &["backup"]));
    eprintln!("backup over SSH: {} ms", t.elapsed().as_millis());
    r.sql("node-ssh", "delete from kept");
    let t = Instant::now();
    ok(r.deck(Some("node-ssh"), &["restore", "latest", "--yes"]));
    eprintln!("restore over SSH: {} ms", t.elapsed().as_millis());
    assert_eq!(r.sql("node-ssh", "select count(*) from kept"), "3", "the rows are back");

    // Refused with a clear message, nothing changed.
    let mut c = Command::new(cli());
    let wrong = c
        .env("DOCKER_HOST", format!("tcp://{MANAGER}:2376"))
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", r.dir.join("wrong"))
        .args(["--stack"])
        .arg(fixtures().join("remote/profile.toml"))
        .arg("down")
        .output()
        .expect("sirius-deck");
    assert_eq!(wrong.status.code(), Some(3));
    let text = failed(wrong);
    assert!(
        text.contains("TLS handshake failed") && text.contains("UnknownIssuer"),
        "{text}"
    );
    let mut c = Command::new(cli());
    let plain = c
        .env("DOCKER_HOST", format!("tcp://{MANAGER}:2376"))
        .env_remove("DOCKER_TLS_VERIFY")
        .args(["ps"])
        .output()
        .expect("sirius-deck");
    assert!(failed(plain).contains("the engine speaks TLS"));
    let mut c = Command::new(cli());
    let closed = c
        .env("DOCKER_HOST", format!("ssh://root@{MANAGER}:1"))
        .env("SSH_AUTH_SOCK", r.dir.join("agent.sock"))
        .args(["ps"])
        .output()
        .expect("sirius-deck");
    assert_eq!(closed.status.code(), Some(3));
    let text = failed(closed);
    assert!(
        text.contains(&format!("ssh: connect to host {MANAGER} port 1: Connection refused")),
        "{text}"
    );
    let none = r.deck(Some("nowhere"), &["ps"]);
    assert_eq!(none.status.code(), Some(1));
    let text = failed(none);
    assert!(
        text.contains("no Docker context named nowhere") && text.contains("node-ssh"),
        "{text}"
    );
    assert!(
        r.sql("node-tls", "select count(*) from kept") == "3",
        "the refused commands changed nothing"
    );

    ok(r.deck(Some("node-tls"), &["down", "--volumes"]));
    let left = run(r.docker("node-tls").args(["ps", "-aq"]));
    assert!(left.trim().is_empty(), "down removed the node's containers: {left}");

    swarm(&r);
}

/// The lab stack's prod environment deployed on the three nodes as a swarm stack, seen as
/// `docker stack ps` sees it, and removed.
fn swarm(r: &Remote) {
    r.cluster.swarm();
    let t = Instant::now();
    let up = r.swarm(&["-e", "prod", "up"]);
    let said = String::from_utf8_lossy(&up.stderr).into_owned() + &String::from_utf8_lossy(&up.stdout);
    assert!(up.status.success(), "deploy on the swarm: {said}");
    eprintln!(
        "the lab stack's prod deployed on the swarm (images pushed to the registry): {} ms",
        t.elapsed().as_millis()
    );
    // The images went to the registry the environment names, and the nodes pulled them from
    // it: each task runs the registry's image, pinned to the digest pushed.
    assert!(said.contains(&format!("to {REGISTRY}")), "pushed: {said}");
    assert!(!said.contains("copying"), "nothing loaded on the nodes: {said}");
    for key in [
        "services.sirius-postgres.container_name",
        "services.sirius-api.depends_on",
        "services.sirius-ui.build",
    ] {
        let line = said
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("{key} warned:\n{said}"));
        assert!(line.contains(".yaml:"), "with its file and line: {line}");
    }
    let ps = ok(r.swarm(&["-e", "prod", "ps", "--json"]));
    let ps: serde_json::Value = serde_json::from_str(&ps).expect("ps json");
    let nodes = ps["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3, "{ps}");
    assert!(nodes.iter().all(|n| n["state"] == "ready"), "every node ready: {ps}");
    for t in ps["tasks"].as_array().expect("tasks") {
        let image = t["image"].as_str().unwrap_or_default();
        assert!(
            image.starts_with(&format!("{REGISTRY}/")) && image.contains("@sha256:"),
            "{t}"
        );
    }
    // Each running task with one CPU and memory sample, taken on its node.
    for t in ps["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["state"] == "running")
    {
        assert!(
            t["memory_bytes"].as_u64().unwrap_or(0) > 0 && t["cpu_percent"].is_number(),
            "{t}"
        );
    }
    let running = running_tasks(r);
    for svc in ["sirius-api", "sirius-engine"] {
        let on: std::collections::BTreeSet<&String> = running
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("sirius-lab_{svc}.")))
            .map(|(_, node)| node)
            .collect();
        let count = running
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("sirius-lab_{svc}.")))
            .count();
        assert_eq!(count, 2, "{svc} runs two replicas: {running:?}");
        eprintln!("{svc}: 2 replicas on {on:?}");
    }
    // The API's logs, merged across its two tasks by the manager.
    let logs = ok(r.swarm(&["-e", "prod", "logs", "sirius-api"]));
    let started = logs.lines().filter(|l| l.contains("listening on :9001")).count();
    assert!(started >= 2, "both tasks' lines: {logs}");
    let spread: std::collections::BTreeSet<&String> = running.iter().map(|(_, node)| node).collect();
    assert!(spread.len() >= 2, "the tasks are spread over the nodes: {running:?}");
    // docker stack ps agrees with our view, task by task.
    let theirs = run(r.docker("deck-swarm").args([
        "stack",
        "ps",
        "sirius-lab",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Name}} {{.Node}} {{.CurrentState}}",
    ]));
    let mut theirs: Vec<(String, String)> = theirs
        .lines()
        .filter(|l| l.contains(" Running "))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect();
    let mut ours = running.clone();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "docker stack ps sees what sirius-deck ps sees");

    rolling_update(r);
    backup_and_restore(r);
    switch_to_local_and_back(r);
    let w = window(r);
    node_lost(r, &w, &running_tasks(r));
    w.close();

    let t = Instant::now();
    ok(r.swarm(&["-e", "prod", "down"]));
    eprintln!("the swarm stack removed in {} ms", t.elapsed().as_millis());
    let stacks = run(r.docker("deck-swarm").args(["stack", "ls", "--format", "{{.Name}}"]));
    assert!(!stacks.contains("sirius-lab"), "docker stack ls: {stacks}");
}

/// An update of the API rolls out task by task (parallelism 1): the second new task starts
/// once the first runs. An update whose tasks fail their health check is rolled back by the
/// swarm, and said so with the failing task's error.
fn rolling_update(r: &Remote) {
    let t = Instant::now();
    let up = r.swarm_with(&[("DECK_REVISION", "2")], &["-e", "prod", "up"]);
    let said = String::from_utf8_lossy(&up.stderr).into_owned() + &String::from_utf8_lossy(&up.stdout);
    assert!(up.status.success(), "the update: {said}");
    eprintln!("a rolling update of sirius-api: {} ms", t.elapsed().as_millis());
    // `sirius-api.<slot> (<task>) on <node>: <state>`, in the order they were seen.
    let seen: Vec<(String, String)> = said
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("sirius-api.")?;
            let id = rest.split_once(" (")?.1.split_once(')')?.0.to_string();
            let state = rest.rsplit_once(": ")?.1.split_whitespace().next()?.to_string();
            Some((id, state))
        })
        .collect();
    let mut new: Vec<&String> = Vec::new();
    for (id, state) in &seen {
        if state != "running" && !new.contains(&id) {
            new.push(id);
        }
    }
    assert_eq!(new.len(), 2, "two new tasks of sirius-api: {seen:?}");
    // (The swarm may prepare the second task's container early; it starts it once the first
    // runs, healthy.)
    let first_runs = seen.iter().position(|(id, s)| id == new[0] && s == "running");
    let second_starts = seen
        .iter()
        .position(|(id, s)| id == new[1] && (s == "starting" || s == "running"));
    assert!(
        first_runs.is_some_and(|a| second_starts.is_some_and(|b| a < b)),
        "the second task is started once the first runs: {seen:?}"
    );
    let env = |r: &Remote| {
        run(r.docker("deck-swarm").args([
            "service",
            "inspect",
            "sirius-lab_sirius-api",
            "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
        ]))
    };
    assert!(env(r).contains("DECK_REVISION=2"), "{}", env(r));

    let t = Instant::now();
    let bad = r.swarm_with(
        &[("DECK_REVISION", "3"), ("DECK_API_HEALTH_PORT", "1")],
        &["-e", "prod", "up"],
    );
    eprintln!(
        "a failing update of sirius-api, rolled back: {} ms",
        t.elapsed().as_millis()
    );
    assert_eq!(bad.status.code(), Some(5), "a failed update fails");
    let text = failed(bad);
    assert!(text.contains("rolled back") && text.contains("sirius-api"), "{text}");
    assert!(
        env(r).contains("DECK_REVISION=2"),
        "the swarm rolled back to revision 2: {}",
        env(r)
    );
}

/// A backup of the stack on the swarm: its database dumped on the node that runs PostgreSQL,
/// its volumes read on the nodes they live on (RabbitMQ's, stopped while it is read, on the
/// third node). A restore of it brings back the rows deleted since, and every service runs
/// again.
fn backup_and_restore(r: &Remote) {
    let before = r.swarm_sql("select count(*) from findings");
    assert!(
        before.parse::<u32>().is_ok_and(|n| n > 0),
        "the migration wrote findings: {before}"
    );
    let t = Instant::now();
    ok(r.swarm(&["-e", "prod", "backup"]));
    eprintln!("a backup of the swarm stack: {} ms", t.elapsed().as_millis());
    let sets = ok(r.swarm(&["-e", "prod", "backups", "--json"]));
    let sets: serde_json::Value = serde_json::from_str(&sets).expect("backups json");
    let set = &sets["sets"][0];
    let items: Vec<&str> = set["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    for id in [
        "db:sirius-postgres",
        "volume:postgres_data",
        "volume:valkey_data",
        "volume:rabbitmq_data",
    ] {
        assert!(items.contains(&id), "{id} in the set: {set}");
    }
    let rabbit = |r: &Remote| {
        run(r.docker("deck-swarm").args([
            "service",
            "ps",
            "sirius-lab_sirius-rabbitmq",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
        ]))
    };
    let after_backup = rabbit(r);
    assert!(
        after_backup.starts_with("deck-test-node-3 Running"),
        "RabbitMQ runs again on its node after the backup: {after_backup}"
    );
    r.swarm_sql("delete from findings");
    assert_eq!(r.swarm_sql("select count(*) from findings"), "0");
    let t = Instant::now();
    ok(r.swarm(&["-e", "prod", "restore", "latest", "--yes"]));
    eprintln!("a restore of the swarm stack: {} ms", t.elapsed().as_millis());
    assert_eq!(
        r.swarm_sql("select count(*) from findings"),
        before,
        "the rows deleted since the backup are back"
    );
    let ps = ok(r.swarm(&["-e", "prod", "ps", "--json"]));
    let ps: serde_json::Value = serde_json::from_str(&ps).expect("ps json");
    for (svc, replicas) in [
        ("sirius-api", 2),
        ("sirius-engine", 2),
        ("sirius-rabbitmq", 1),
        ("sirius-postgres", 1),
    ] {
        let running = ps["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .filter(|t| t["service"] == svc && t["state"] == "running" && t["desired"] == "running")
            .count();
        assert_eq!(running, replicas, "{svc} runs again after the restore: {ps}");
    }
}

/// The stack's running tasks, as `sirius-lab_<service>.<slot>` and their node.
fn running_tasks(r: &Remote) -> Vec<(String, String)> {
    let ps = ok(r.swarm(&["-e", "prod", "ps", "--json"]));
    let ps: serde_json::Value = serde_json::from_str(&ps).expect("ps json");
    ps["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["desired"] == "running" && t["state"] == "running")
        .map(|t| {
            (
                format!("sirius-lab_{}.{}", t["service"].as_str().unwrap_or("?"), t["slot"]),
                t["node"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

/// A switch from prod on the swarm to dev on this machine's engine carries the data there (the
/// stack leaves the swarm), and a switch back carries what was written in dev to the swarm;
/// each ends with the proof that every container, or task, runs what its environment asks.
fn switch_to_local_and_back(r: &Remote) {
    // Whatever an earlier test left of the lab stack on this machine goes down (volumes kept).
    ok(r.swarm(&["-e", "dev", "down"]));
    let rows = r.swarm_sql("select count(*) from findings");
    let switch = |to: &str| {
        let t = Instant::now();
        let out = ok(r.swarm(&["switch", to, "--json"]));
        eprintln!("a switch to {to} across engines: {} ms", t.elapsed().as_millis());
        let summary: serde_json::Value =
            serde_json::from_str(out.lines().last().unwrap_or_default()).expect("switch summary");
        for d in summary["drift"].as_array().expect("drift") {
            assert_eq!(d["verdict"], "match", "{to}: {d}");
        }
        assert!(summary["safety"].is_string(), "the data went over in a set: {summary}");
    };
    switch("dev");
    let stacks = run(r.docker("deck-swarm").args(["stack", "ls", "--format", "{{.Name}}"]));
    assert!(!stacks.contains("sirius-lab"), "the stack left the swarm: {stacks}");
    let local = |sql: &str| {
        run(Command::new("docker").args([
            "exec",
            "sirius-postgres",
            "psql",
            "-U",
            "postgres",
            "-d",
            "sirius",
            "-tAc",
            sql,
        ]))
        .trim()
        .to_string()
    };
    assert_eq!(local("select count(*) from findings"), rows, "the rows came to dev");
    local("create table carried (v text); insert into carried values ('written in dev')");

    switch("prod");
    assert_eq!(
        r.swarm_sql("select v from carried"),
        "written in dev",
        "what dev wrote went to the swarm"
    );
    assert_eq!(r.swarm_sql("select count(*) from findings"), rows);
    let here =
        run(Command::new("docker").args(["ps", "-q", "--filter", "label=com.docker.compose.project=sirius-lab"]));
    assert!(
        here.trim().is_empty(),
        "nothing of the stack runs here any more: {here}"
    );
}

/// Each swarm node drawn in the window, as `hostname=state`, in the order drawn.
const DRAWN_NODES: &str = r#"return [...document.querySelectorAll("[data-testid^='swarm-node-']")]
    .map((e) => `${e.dataset.testid.slice(11)}=${e.dataset.state}`).join(" ")"#;

/// Each running task drawn on a swarm node, as `service-slot@node=memory gauge` (`none`: no
/// sample of it has come).
const DRAWN_TASKS: &str = r#"return [...document.querySelectorAll(".swarm-task-running")].map((t) =>
    `${t.dataset.testid.slice(11)}@${t.closest("[data-testid^='swarm-node-']").dataset.testid.slice(11)}=${t.querySelector("[data-testid='gauge-mem']")?.dataset.value ?? "none"}`).join(" ")"#;

/// The swarm stack in the real window: the swarm's three nodes drawn ready over the diagram,
/// every service running (the migration completed), and a CPU and memory gauge on every
/// running task, sampled on the node that runs it.
fn window(r: &Remote) -> Window {
    // The profile as the user's own, its folders absolute.
    let config = r.dir.join("window-config");
    let folder = config.join("sirius-deck/profiles/sirius-swarm");
    std::fs::create_dir_all(&folder).expect("profiles folder");
    let lab = fixtures()
        .join("../../profiles/sirius-lab")
        .canonicalize()
        .expect("the lab stack");
    let profile = std::fs::read_to_string(fixtures().join("swarm/profile.toml")).expect("profile");
    let relative = "project_dir = \"../../../profiles/sirius-lab\"";
    assert!(profile.contains(relative), "{profile}");
    std::fs::write(
        folder.join("profile.toml"),
        profile.replace(relative, &format!("project_dir = {:?}", lab.display().to_string())),
    )
    .expect("profile");
    let w = Window::open(&[
        ("SIRIUS_DECK_STACK", "sirius-swarm".into()),
        ("SIRIUS_DECK_ENV", "prod".into()),
        ("SIRIUS_DECK_BACKUP_DIR", r.dir.join("backups").into()),
        ("XDG_DATA_HOME", r.dir.join("window-data").into()),
        ("XDG_CONFIG_HOME", config.into()),
        ("DOCKER_CONFIG", r.config.clone().into()),
        ("SSH_AUTH_SOCK", r.dir.join("agent.sock").into()),
    ]);
    let s = &w.session;
    let ready = NODES.map(|n| format!("{n}=ready")).join(" ");
    let t = wait_until("the three swarm nodes drawn ready", Duration::from_secs(60), || {
        page(s, DRAWN_NODES) == ready
    });
    eprintln!("the window drew the swarm's nodes {t:?} after its session opened");
    let statuses = r#"return [...document.querySelectorAll("[data-testid^='node-']")]
        .map((e) => `${e.dataset.testid.slice(5)}=${e.dataset.status}`).join(" ")"#;
    let mut drawn = String::new();
    wait_until(
        "every service running (the migration completed)",
        Duration::from_secs(30),
        || {
            drawn = page(s, statuses);
            drawn.split(' ').count() == 7
                && drawn
                    .split(' ')
                    .all(|e| e.ends_with("=running") || e == "sirius-migrate=completed")
        },
    );
    eprintln!("services drawn: {drawn}");
    // Every running task has its gauges, from a sample taken on its own node.
    let running = running_tasks(r).len();
    let mut tasks = String::new();
    let t = wait_until("a sample of every running task", Duration::from_secs(30), || {
        tasks = page(s, DRAWN_TASKS);
        tasks.split(' ').count() == running && !tasks.contains("=none")
    });
    eprintln!("gauges on every running task {t:?} after the services were drawn: {tasks}");
    let sampled_on: std::collections::BTreeSet<&str> = tasks
        .split(' ')
        .filter_map(|t| t.split_once('@')?.1.split_once('=').map(|(n, _)| n))
        .collect();
    assert!(sampled_on.len() >= 2, "tasks sampled on several nodes: {tasks}");
    screenshot(&w.display, "remote/01-swarm-stack");

    // A shell in the API's first task, on its node: its prod build target (runner) answers.
    let click = |css: &str| {
        let e = s
            .wait_for(css, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{e}"));
        s.click(&e).unwrap_or_else(|e| panic!("click {css}: {e}"));
    };
    click("[data-testid='node-sirius-api']");
    click("[data-testid='terminal-open']");
    let screen = "[data-testid='terminal-screen-1'] .xterm-helper-textarea";
    let input = s.wait_for(screen, Duration::from_secs(20)).expect("the terminal");
    let buffer = r#"const t = document.querySelector("[data-testid='terminal-screen-1']")?.term;
        if (!t) return "";
        const b = t.buffer.active;
        return Array.from({ length: b.length }, (_, i) => b.getLine(i)?.translateToString(true) ?? "").join("\n");"#;
    wait_until("the shell's prompt", Duration::from_secs(20), || {
        let b = page(s, buffer);
        b.contains('#') || b.contains('$')
    });
    s.send_keys(&input, "cat /etc/sirius-lab/build-target\u{E007}")
        .expect("typed");
    wait_until(
        "the task's build target in the terminal",
        Duration::from_secs(10),
        || page(s, buffer).lines().any(|l| l.trim() == "runner"),
    );
    screenshot(&w.display, "remote/01b-shell-in-a-task");
    click("[data-testid='terminal-close-1']");
    click("[aria-label='close']");
    w
}

/// A worker killed: its node goes down and its tasks of the API and the engine run again on
/// the others, as `sirius-deck ps` shows and the window draws (the node red, its tasks lost).
fn node_lost(r: &Remote, w: &Window, running: &[(String, String)]) {
    let worker = running
        .iter()
        .filter(|(task, node)| node != NODES[0] && (task.contains("sirius-api.") || task.contains("sirius-engine.")))
        .map(|(_, node)| node.clone())
        .next()
        .expect("a worker runs a task of the API or the engine");
    let t = Instant::now();
    run(Command::new("docker").args(["kill", &worker]));
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let ps = ok(r.swarm(&["-e", "prod", "ps", "--json"]));
        let ps: serde_json::Value = serde_json::from_str(&ps).expect("ps json");
        let down = ps["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .any(|n| n["hostname"] == worker.as_str() && n["state"] == "down");
        let moved = ["sirius-api", "sirius-engine"].iter().all(|svc| {
            ps["tasks"]
                .as_array()
                .expect("tasks")
                .iter()
                .filter(|t| {
                    t["service"] == *svc
                        && t["state"] == "running"
                        && t["desired"] == "running"
                        && t["node"] != worker.as_str()
                })
                .count()
                == 2
        });
        if down && moved {
            eprintln!(
                "{worker} killed: shown down, its tasks running on the other nodes after {} ms",
                t.elapsed().as_millis()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{worker} killed, its tasks not rescheduled: {ps}"
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    // The window: the node red with its tasks lost, their replacements running elsewhere.
    let s = &w.session;
    let lost = format!(
        r#"return [...document.querySelectorAll("[data-testid='swarm-node-{worker}'] .swarm-task")].map((t) => t.dataset.state).join(" ")"#
    );
    let mut drawn = (String::new(), String::new());
    wait_until(
        "the window to draw the node down and its tasks moved",
        Duration::from_secs(30),
        || {
            drawn = (page(s, DRAWN_NODES), page(s, DRAWN_TASKS));
            let elsewhere = |svc: &str| {
                drawn
                    .1
                    .split(' ')
                    .filter(|t| t.starts_with(&format!("{svc}-")) && !t.contains(&format!("@{worker}=")))
                    .count()
            };
            drawn.0.contains(&format!("{worker}=down"))
                && page(s, &lost).split(' ').all(|state| state == "lost")
                && elsewhere("sirius-api") == 2
                && elsewhere("sirius-engine") == 2
        },
    );
    eprintln!(
        "the window after {} ms: {} / {}",
        t.elapsed().as_millis(),
        drawn.0,
        drawn.1
    );
    screenshot(&w.display, "remote/02-node-lost");
}
