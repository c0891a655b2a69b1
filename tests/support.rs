//! Shared by the end-to-end tests: the lab stack, a lock so that tests sharing container names
//! run one at a time, and small helpers that ask the running services themselves.

pub mod webdriver;
pub mod window;

use deck_compose::{load, LoadOptions, Project};
use deck_engine::{DownOptions, Engine, Event, Phase, Sink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex, MutexGuard};

static DOCKER: Mutex<()> = Mutex::const_new(());

/// Only one test at a time drives the lab stack (container names are fixed, as in Sirius).
pub async fn exclusive() -> MutexGuard<'static, ()> {
    DOCKER.lock().await
}

pub fn lab_dir() -> PathBuf {
    deck_stack::find("sirius-lab").expect("built-in profile").project_dir
}

/// Options for an environment of the lab stack, plus extra compose files and variables.
pub fn lab_options(env: &str, extra_files: &[PathBuf], vars: &[(&str, &str)]) -> LoadOptions {
    let profile = deck_stack::find("sirius-lab").expect("built-in profile");
    let mut opts = profile.load_options(env, None).expect("lab options");
    opts.files.extend(extra_files.iter().cloned());
    opts.environment
        .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    opts
}

pub fn lab(env: &str) -> Project {
    load(&lab_options(env, &[], &[])).expect("lab stack loads").project
}

/// Collects engine events while an operation runs.
pub fn collector() -> (mpsc::UnboundedSender<Event>, mpsc::UnboundedReceiver<Event>) {
    mpsc::unbounded_channel()
}

pub fn drain(rx: &mut mpsc::UnboundedReceiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

pub fn phases(events: &[Event], service: &str) -> Vec<Phase> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Service { service: s, phase, .. } if s == service => Some(*phase),
            _ => None,
        })
        .collect()
}

pub async fn engine() -> Engine {
    Engine::connect()
        .await
        .expect("a Docker engine (the test command starts dockerd)")
}

/// Takes the lab stack down, volumes included: a known starting point.
pub async fn reset(engine: &Engine) {
    down_all(engine, &lab("dev")).await;
}

/// Takes a project down, volumes included.
pub async fn down_all(engine: &Engine, project: &Project) {
    engine
        .down(
            &project.name,
            Some(project),
            &DownOptions { volumes: true },
            &Sink::none(),
        )
        .await
        .expect("down");
}

/// `docker exec` in a container, returning stdout; panics with stderr on failure.
pub fn exec(container: &str, args: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("exec")
        .arg(container)
        .args(args)
        .output()
        .expect("docker exec runs");
    assert!(
        out.status.success(),
        "docker exec {container} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A query in the lab's PostgreSQL, as its superuser; the value printed, trimmed.
pub fn psql(sql: &str) -> String {
    exec(
        "sirius-postgres",
        &["psql", "-U", "postgres", "-d", "sirius", "-tAc", sql],
    )
    .trim()
    .to_string()
}

/// GETs a URL from inside a container (the service answering for itself), as JSON.
pub fn get_json(container: &str, url: &str) -> serde_json::Value {
    let body = exec(container, &["wget", "-q", "-O", "-", url]);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url} answered {body:?}: {e}"))
}

/// The `sirius-deck` command, built by `cargo test --workspace` next to the test binaries.
pub fn cli() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target/debug");
    let bin = dir.join("sirius-deck");
    assert!(bin.exists(), "{} is built by `cargo test --workspace`", bin.display());
    bin
}

/// Runs `sirius-deck` with its backups (and safety sets) kept in `backups`.
pub fn deck(backups: &Path, args: &[&str]) -> std::process::Output {
    Command::new(cli())
        .args(args)
        .env("SIRIUS_DECK_BACKUP_DIR", backups)
        .output()
        .expect("sirius-deck runs")
}

/// Standard output of a command that must succeed.
pub fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "sirius-deck failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error of a command that must fail.
pub fn failed(out: std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// When a container last started (to prove that something was not touched).
pub fn started_at(container: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.State.StartedAt}}", container])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A child process that is killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    /// Asks first (SIGTERM), so that an X server removes its socket and lock file; kills after
    /// two seconds.
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        for _ in 0..40 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An X server of the test's own, so that a test neither needs nor disturbs a desktop.
pub fn xvfb() -> (Proc, String) {
    for n in 91..400 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x860x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts (the test command installs it)");
        let proc = Proc(child);
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return (proc, display);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("no X display could be started");
}

/// A private D-Bus session bus and its address.
pub fn dbus() -> (Proc, String) {
    let mut child = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("dbus-daemon starts (the test command installs it)");
    let mut out = child.stdout.take().expect("stdout");
    let mut addr = Vec::new();
    let mut byte = [0u8; 1];
    while std::io::Read::read(&mut out, &mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        addr.push(byte[0]);
    }
    (Proc(child), String::from_utf8_lossy(&addr).into_owned())
}

/// The SHA-256 of a file in a container, or `missing`.
pub fn file_sum(container: &str, path: &str) -> String {
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

/// Every long-running service of the lab is running and passes its own health check now
/// (Docker's status can lag behind by one check interval).
pub fn assert_all_healthy() {
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

/// The build target each of ui, api and engine must report in an environment.
pub fn expected(env: &str) -> [(&'static str, &'static str); 3] {
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
pub fn assert_runs(env: &str) {
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

/// A copy of the lab profile whose prod environment gets one more override file, holding
/// `extra` under `services:`.
pub fn lab_copy(name: &str, extra: &str) -> PathBuf {
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

/// Runs `docker` with these arguments; it must succeed.
pub fn docker(args: &[&str]) {
    let s = Command::new("docker").args(args).status().expect("docker");
    assert!(s.success(), "docker {args:?}");
}

/// Known data in the running lab stack: 5,000 rows in PostgreSQL's table `kept`, and a 3 MB
/// random file and a key in Valkey's volume.
pub fn seed_lab() {
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

/// Row count and a checksum of every row of the table `kept`, and the findings count.
pub fn rows() -> (String, String, String) {
    (
        psql("select count(*) from kept"),
        psql("select md5(string_agg(id || ':' || v, ',' order by id)) from kept"),
        psql("select count(*) from findings"),
    )
}

/// A tmpfs of `size` (as `mount -o size=` reads it) mounted on `dir` until dropped: a disk that
/// fills up on cue. The tests run as root.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        let _ = Command::new("umount").arg(dir).status();
        std::fs::create_dir_all(dir).expect("mkdir");
        let s = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount");
        assert!(s.success(), "mounting a tmpfs (the test runs as root)");
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The state letter of process `pid` (`R`, `S`, `T` stopped, `Z` zombie...), or `None` once it
/// is gone.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}
