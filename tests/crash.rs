//! Crash points: a backup, a restore and an environment switch are killed with SIGKILL at every
//! step boundary in turn (the debug build's `SIRIUS_DECK_KILL_AT`, see `deck_engine::Sink`);
//! then the user does what users do (nothing; `up`; `up` and writes a row and a file; `down`),
//! taken in turn; then the next command runs. At every point: nothing written after the kill is
//! lost, every listed set verifies, no helper container is left, and every service ends as the
//! user last asked. Each operation runs on its own copy of a small stack (tests/fixtures/crash),
//! so they run side by side.
//!
//! The same matrix with the Docker engine killed instead of the command (`SIRIUS_DECK_KILL_PID`),
//! for `up` too: each on a dockerd of the test's own (`own_engine.rs`), started again after each
//! kill. And `watch` across an engine kill; a full disk at each stage of a backup and of a
//! restore's safety set; a restore and its roll-back failing on a volume they had emptied
//! (nothing starts on it); a canary secret through every command.

mod own_engine;

use deck_tests::*;
use own_engine::OwnEngine;
use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
enum Action {
    Nothing,
    Up,
    WritesRows,
    Down,
}

const ACTIONS: [Action; 4] = [Action::Nothing, Action::Up, Action::WritesRows, Action::Down];

struct Crash {
    project: String,
    backups: PathBuf,
    verified: BTreeSet<String>,
    /// The environment every service runs after the next command (a switch's target).
    after_env: Option<&'static str>,
    /// The test's own engine, when the crash point kills the engine instead of the command.
    engine: Option<OwnEngine>,
}

impl Crash {
    fn new(op: &str) -> Crash {
        let backups = std::env::temp_dir().join(format!("sirius-deck-test-crash-{op}"));
        let _ = std::fs::remove_dir_all(&backups);
        Crash {
            project: format!("deck-crash-{op}"),
            backups,
            verified: BTreeSet::new(),
            after_env: None,
            engine: None,
        }
    }

    /// `docker`, talking to the engine the stack runs on.
    fn docker(&self) -> Command {
        match &self.engine {
            Some(e) => e.docker(),
            None => Command::new("docker"),
        }
    }

    /// Output of a `docker` command that must succeed.
    fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker().args(args).output().expect("docker runs");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `sirius-deck` over the stack, on its engine.
    fn deck(&self, args: &[&str]) -> Command {
        let stack = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/crash");
        let mut c = Command::new(cli());
        c.arg("--stack")
            .arg(stack)
            .args(["-p", &self.project])
            .args(args)
            .env("SIRIUS_DECK_BACKUP_DIR", &self.backups);
        if let Some(e) = &self.engine {
            c.env("DOCKER_HOST", e.host());
            c.env("SIRIUS_DECK_KILL_PID", e.pid().to_string());
        }
        c
    }

    fn command(&self, args: &[&str], kill_at: Option<usize>) -> Output {
        let mut c = self.deck(args);
        if let Some(k) = kill_at {
            c.env("SIRIUS_DECK_KILL_AT", k.to_string());
        }
        within(c, Duration::from_secs(300))
    }

    fn run(&self, args: &[&str]) -> String {
        ok(self.command(args, None))
    }

    fn container(&self, service: &str) -> String {
        format!("{}-{service}-1", self.project)
    }

    fn psql(&self, sql: &str) -> String {
        self.docker_ok(&[
            "exec",
            &self.container("db"),
            "psql",
            "-U",
            "postgres",
            "-d",
            "crash",
            "-tAc",
            sql,
        ])
    }

    fn cache_file(&self, name: &str) -> bool {
        self.docker()
            .args(["exec", &self.container("cache"), "test", "-f", &format!("/data/{name}")])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Containers of the stack: name and whether it runs.
    fn containers(&self) -> Vec<(String, bool)> {
        self.docker_ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--format",
            "{{.Names}} {{.State}}",
        ])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, s)| (n.to_string(), s == "running"))
        .collect()
    }

    fn helpers_left(&self) -> Vec<String> {
        self.docker_ok(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .filter(|n| n.starts_with(&format!("sirius-deck-helper-{}_", self.project)))
            .map(str::to_string)
            .collect()
    }

    fn env_of(&self, service: &str) -> String {
        self.docker_ok(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"dev.siriusdeck.env\"}}",
            &self.container(service),
        ])
    }

    /// Every listed set reads back as written.
    fn sets_verify(&mut self) -> usize {
        let v: serde_json::Value = serde_json::from_str(&self.run(&["backups", "--json"])).expect("backups --json");
        let sets = v["sets"].as_array().cloned().unwrap_or_default();
        for s in &sets {
            let id = s["id"].as_str().expect("id").to_string();
            if self.verified.insert(id.clone()) {
                self.run(&["verify", &id]);
            }
        }
        sets.len()
    }

    fn interrupted(&self) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&self.run(&["recover", "--json"])).expect("recover --json");
        v.as_array()
            .into_iter()
            .flatten()
            .map(|i| i["op"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Whether an interrupted restore left data half written.
    fn half_written(&self) -> bool {
        self.run(&["recover", "--json"]).contains("is half written")
    }

    /// Kills `op` at each crash point in turn until it runs to its end; after each kill, the
    /// user's action, then `next`, then the checks. One line per point.
    fn every_point(&mut self, op: &[&str], next: &[&str], reset: &[&str], report: &mut Vec<String>) -> usize {
        let mut point = 1;
        loop {
            let out = self.command(op, Some(point));
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let killed = if self.engine.is_some() {
                "sirius-deck: killed process "
            } else {
                "sirius-deck: killed at crash point "
            };
            let Some(line) = stderr.lines().find_map(|l| l.strip_prefix(killed)) else {
                assert!(
                    out.status.success(),
                    "{op:?} failed before crash point {point}: {stderr}"
                );
                return point - 1;
            };
            let at = line
                .split_once(": ")
                .and_then(|(_, e)| serde_json::from_str::<serde_json::Value>(e).ok())
                .map(|e| {
                    let field = |k: &str| e[k].as_str().map(|v| format!(" {v}")).unwrap_or_default();
                    format!(
                        "{}{}{}{}{}",
                        field("event"),
                        field("op"),
                        field("service"),
                        field("phase"),
                        field("item")
                    )
                })
                .unwrap_or_default();
            // What the command said when it ended (the engine gone under it: which request failed,
            // and that the connection to the engine was lost).
            let mut said = String::new();
            if let Some(engine) = &mut self.engine {
                if !out.status.success() {
                    let error: Vec<&str> = stderr
                        .lines()
                        .filter(|l| !l.trim().is_empty() && !l.starts_with(killed))
                        .map(str::trim)
                        .collect();
                    said = error.join(" ");
                    assert!(
                        said.contains("the connection to the Docker engine was lost")
                            || said.contains("cannot reach the Docker engine"),
                        "point {point}: {op:?} does not say the engine went away: {stderr}"
                    );
                }
                engine.restart();
            } else {
                assert_eq!(out.status.signal(), Some(9), "{op:?} at crash point {point}: {stderr}");
                // A step that failed before the kill (a restore rolling back): in the report.
                said = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter(|e| e["event"] == "step")
                    .filter_map(|e| e["message"].as_str().map(str::to_string))
                    .filter(|m| m.contains("failed"))
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            let action = ACTIONS[(point - 1) % ACTIONS.len()];
            let marker = 10_000 + point;
            // Where the kill left data half written (a restore that failed, killed while it
            // rolled back), nothing that uses it starts: `up` says why and what to choose.
            let up_refused = matches!(action, Action::Up | Action::WritesRows) && {
                let out = self.command(&["up"], None);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    out.status.success() || (err.contains("is half written") && self.half_written()),
                    "point {point}: up failed: {err}"
                );
                !out.status.success()
            };
            match action {
                Action::WritesRows if !up_refused => {
                    self.psql(&format!(
                        "insert into kept values ({marker}, 'after crash point {point}')"
                    ));
                    self.docker_ok(&[
                        "exec",
                        &self.container("cache"),
                        "touch",
                        &format!("/data/after-{point}"),
                    ]);
                }
                Action::Down => {
                    self.run(&["down"]);
                }
                _ => {}
            }
            let waiting = self.interrupted();
            if said.contains("undoing it failed too") {
                // Half replaced with no undo: listed until the user chooses.
                assert!(
                    waiting.iter().any(|o| o == "restore"),
                    "point {point}: the failed restore is not listed: {waiting:?}"
                );
            }
            let next_out = self.command(next, None);
            let next_ok = next_out.status.success();
            let next_err = String::from_utf8_lossy(&next_out.stderr).into_owned();
            // A stack is down after the user's `down`, and after the engine came back: without
            // live restore, it stops every container it finds running. It runs again when the
            // user starts it; the next command does not start it behind the user's back.
            let left_down =
                matches!(action, Action::Down) || (self.engine.is_some() && matches!(action, Action::Nothing));
            if !next_ok {
                // Only a stack that is down makes the next command refuse, and it says why.
                assert!(
                    left_down && next_err.contains("not running"),
                    "{next:?} after crash point {point} ({action:?}) failed: {next_err}"
                );
            }
            // Every service as the user last asked: down stays down; otherwise everything runs.
            let containers = self.containers();
            let running = containers.iter().filter(|(_, r)| *r).count();
            let stays_down = left_down && !next_ok;
            if stays_down {
                assert_eq!(running, 0, "point {point}: the stack was taken down: {containers:?}");
            } else {
                assert_eq!(
                    (running, containers.len()),
                    (2, 2),
                    "point {point} ({action:?}): every service runs: {containers:?}\n{next_err}"
                );
            }
            if let (Some(env), false) = (self.after_env, stays_down) {
                // (The database is the same in both environments: it keeps running, with the
                // label of the environment that created it.)
                assert_eq!(self.env_of("cache"), env, "point {point}: cache runs {env}");
            }
            if matches!(action, Action::WritesRows) && !up_refused {
                assert_eq!(
                    self.psql(&format!("select v from kept where id = {marker}")),
                    format!("after crash point {point}"),
                    "point {point}: the row written after the kill is kept"
                );
                assert!(
                    self.cache_file(&format!("after-{point}")),
                    "point {point}: the file is kept"
                );
            }
            let sets = self.sets_verify();
            assert_eq!(self.helpers_left(), Vec::<String>::new(), "point {point}: helpers");
            let left = self.interrupted();
            if said.contains("undoing it failed too") {
                // Never finished behind the user's back: it waits for the user's choice.
                assert!(
                    left.iter().any(|o| o == "restore"),
                    "point {point}: the failed restore was settled without the user: {left:?}"
                );
            }
            if matches!(action, Action::Nothing) && next_ok {
                // Nothing changed since the kill: the next command finished or undid it all.
                assert_eq!(left, Vec::<String>::new(), "point {point}: settled on its own");
            }
            note(report, format!(
                "{} {} at {point} ({}){}; then {action:?}{}; interrupted {waiting:?}; {}: {}; {running} running; {sets} sets verified; left {left:?}",
                op[0],
                if self.engine.is_some() { "lost its engine" } else { "killed" },
                at.trim(),
                if said.is_empty() { String::new() } else { format!(", said \"{said}\"") },
                if up_refused { " (up refused: half written)" } else { "" },
                next.join(" "),
                if next_ok { "ok" } else { "refused: stack down" }
            ));
            // Back to the starting point for the next crash point (data left half written is
            // written again: kept as it is, it would be a new empty database).
            for op in left {
                let how = if op == "restore" && self.half_written() {
                    "--resume"
                } else {
                    "--discard"
                };
                self.run(&["recover", &op, how]);
            }
            self.run(reset);
            point += 1;
        }
    }

    fn start(&mut self) {
        self.run(&["down", "--volumes"]);
        self.run(&["up"]);
        self.psql("create table kept (id int primary key, v text)");
        self.psql("insert into kept select g, md5(g::text) from generate_series(1, 1000) g");
        self.run(&["backup"]);
    }

    fn finish(&self, report: &[String]) {
        self.run(&["down", "--volumes"]);
        let _ = std::fs::remove_dir_all(&self.backups);
        let path = std::env::temp_dir().join(format!("{}-report.txt", self.project));
        std::fs::write(&path, report.join("\n")).expect("report");
        println!("the report is in {}", path.display());
    }
}

/// A line of a test's report, printed as it comes (the lines before a failure show with it).
fn note(report: &mut Vec<String>, line: String) {
    println!("{line}");
    report.push(line);
}

/// The lab images the crash stack runs (built once, shared by the three tests).
fn images() {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let backups = std::env::temp_dir().join("sirius-deck-test-crash-build");
        ok(deck(
            &backups,
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
    });
}

/// A command started with its output read as it comes.
struct Captured {
    child: std::process::Child,
    what: String,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Captured {
    fn spawn(mut c: Command) -> Captured {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command runs");
        let read_all = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = r.read_to_end(&mut b);
                b
            })
        };
        Captured {
            stdout: read_all(Box::new(child.stdout.take().expect("stdout"))),
            stderr: read_all(Box::new(child.stderr.take().expect("stderr"))),
            what: format!("{c:?}"),
            child,
        }
    }

    /// Waits for its end; fails the test if it still runs after `limit` (a command whose engine
    /// went away must end, not hang).
    fn wait(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} still ran after {limit:?}", self.what);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: self.stdout.join().expect("stdout"),
            stderr: self.stderr.join().expect("stderr"),
        }
    }

    /// Waits until it has stopped itself (`SIRIUS_DECK_STOP_AT`); false if it ended first.
    fn wait_stopped(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            if process_state(self.child.id()) == Some('T') {
                return true;
            }
            if self.child.try_wait().expect("wait").is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{} neither stopped nor ended", self.what);
    }

    fn resume(&self) {
        let sent = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status()
            .expect("kill -CONT");
        assert!(sent.success());
    }
}

fn within(c: Command, limit: Duration) -> Output {
    Captured::spawn(c).wait(limit)
}

/// A backup killed at each step in turn (how: `c`'s engine says), with the checks.
fn every_step_of_a_backup(mut c: Crash) {
    let mut report = Vec::new();
    let points = c.every_point(&["backup", "--json"], &["backup"], &["up"], &mut report);
    assert!(points >= 10, "a backup has its steps: {report:?}");
    c.finish(&report);
}

fn every_step_of_a_restore(mut c: Crash) {
    let mut report = Vec::new();
    let points = c.every_point(
        &["restore", "latest", "--yes", "--json"],
        &["backup"],
        &["up"],
        &mut report,
    );
    assert!(points >= 20, "a restore has its steps: {report:?}");
    c.finish(&report);
}

fn every_step_of_a_switch(mut c: Crash) {
    c.after_env = Some("prod");
    let mut report = Vec::new();
    let points = c.every_point(
        &["switch", "prod", "--json"],
        &["switch", "prod"],
        &["-e", "dev", "up", "--remove-orphans"],
        &mut report,
    );
    assert!(points >= 5, "a switch has its steps: {report:?}");
    assert_eq!(c.env_of("cache"), "prod");
    c.finish(&report);
}

/// The crash stack with its data and a first set, on the shared engine.
fn on_shared_engine(op: &str) -> Crash {
    images();
    let mut c = Crash::new(op);
    c.start();
    c
}

#[test]
fn a_backup_killed_at_every_step() {
    every_step_of_a_backup(on_shared_engine("backup"));
}

#[test]
fn a_restore_killed_at_every_step() {
    every_step_of_a_restore(on_shared_engine("restore"));
}

/// A restore whose set turns out unreadable once it has emptied a volume, and whose roll-back
/// cannot read its safety set either: the volume is left half written (here, empty). Nothing
/// that uses it starts until the user chooses (the database would start on it as a new, empty
/// one), and resuming once the set reads again brings every row back.
#[test]
fn nothing_starts_on_a_volume_a_restore_left_half_written() {
    let c = on_shared_engine("half");
    let mut run = c.deck(&["restore", "latest", "--yes"]);
    // Stopped once its safety set is written and the sets are verified, before it stops anything.
    run.env("SIRIUS_DECK_STOP_AT", r#""event":"plan","op":"restore""#);
    let mut run = Captured::spawn(run);
    assert!(run.wait_stopped(), "the restore stopped before it changed anything");
    // Both sets' copies of the database's volume cut short: the set and the safety set.
    let mut cut = Vec::new();
    for set in std::fs::read_dir(c.backups.join(&c.project)).expect("sets").flatten() {
        let file = set.path().join("volume-db_data.tar.zst");
        if let Ok(whole) = std::fs::read(&file) {
            std::fs::write(&file, &whole[..whole.len() / 2]).expect("cut short");
            cut.push((file, whole));
        }
    }
    assert_eq!(cut.len(), 2, "the set and its safety set");
    run.resume();
    let out = run.wait(Duration::from_secs(300));
    let failed = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && failed.contains("undoing it failed too"),
        "{failed}"
    );
    let up = c.command(&["up"], None);
    let refused = String::from_utf8_lossy(&up.stderr);
    assert!(
        !up.status.success()
            && refused.contains("the volume deck-crash-half_db_data, which is half written")
            && refused.contains("recover restore --resume"),
        "up starts nothing on the half-written volume: {refused}"
    );
    assert_eq!(
        c.containers().iter().filter(|(_, running)| *running).count(),
        0,
        "nothing was started"
    );
    assert!(c.half_written(), "recover says what is half written");
    // A restore that leaves it as it is would end the interrupted one's journal, and the hold.
    let partial = c.command(&["restore", "latest", "--only", "volume:cache_data", "--yes"], None);
    let said = String::from_utf8_lossy(&partial.stderr);
    assert!(
        !partial.status.success()
            && said
                .contains("left the volume deck-crash-half_db_data half written, and this restore does not write it"),
        "a restore of the cache alone is refused: {said}"
    );
    assert!(c.half_written(), "still held");
    for (file, whole) in cut {
        std::fs::write(file, whole).expect("the sets read again");
    }
    c.run(&["recover", "restore", "--resume"]);
    assert_eq!(c.psql("select count(*) from kept"), "1000", "every row is back");
    assert_eq!(c.interrupted(), Vec::<String>::new());
    c.run(&["up"]);
    c.finish(&[format!("up refused: {}", refused.trim())]);
}

#[test]
fn a_switch_killed_at_every_step() {
    every_step_of_a_switch(on_shared_engine("switch"));
}

/// A canary secret, a value unique to this run, in each place a secret lives: `.env` (the
/// database password), a file-backed secret, and the environment of the command (interpolated
/// into a service's environment). Every command runs over the stack, errors included, and
/// the service prints its secrets to its log and to its health check's output: the canaries
/// appear in no output and no file of the backup folder.
#[test]
fn a_canary_secret_appears_in_no_output() {
    images();
    let run = std::process::id();
    let canaries = [
        format!("canary-env-file-{run}-q7"),
        format!("canary-secret-file-{run}-x3"),
        format!("canary-environment-{run}-k9"),
    ];
    let dir = std::env::temp_dir().join(format!("sirius-deck-test-canary-{run}"));
    let _ = std::fs::remove_dir_all(&dir);
    let copied = Command::new("cp")
        .arg("-a")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/crash"))
        .arg(&dir)
        .status()
        .expect("cp");
    assert!(copied.success());
    std::fs::write(dir.join(".env"), format!("POSTGRES_PASSWORD={}\n", canaries[0])).expect(".env");
    std::fs::write(dir.join("api_key.txt"), &canaries[1]).expect("secret file");
    std::fs::write(
        dir.join("compose.dev.yaml"),
        r#"services:
  cache:
    environment:
      MODE: dev
      CACHE_TOKEN: ${CACHE_TOKEN:?}
    secrets:
      - api_key
    entrypoint: ["sh", "-c", "echo token $$CACHE_TOKEN key $$(cat /run/secrets/api_key); exec valkey-server --dir /data"]
    healthcheck:
      test: ["CMD-SHELL", "echo checking with $$CACHE_TOKEN; valkey-cli ping"]
      interval: 1s
secrets:
  api_key:
    file: ./api_key.txt
"#,
    )
    .expect("override");
    let backups = dir.join("backups");
    let project = "deck-crash-canary";
    let deck = |args: &[&str]| -> Output {
        Command::new(cli())
            .arg("--stack")
            .arg(&dir)
            .args(["-p", project])
            .args(args)
            .env("SIRIUS_DECK_BACKUP_DIR", &backups)
            .env("CACHE_TOKEN", &canaries[2])
            .output()
            .expect("sirius-deck runs")
    };
    let mut outputs = Vec::new();
    let run_all = |list: &[&[&str]], must_succeed: bool| -> Vec<(String, Output)> {
        let mut outputs = Vec::new();
        for args in list {
            let out = deck(args);
            if must_succeed {
                assert!(
                    out.status.success(),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            } else {
                assert!(!out.status.success(), "{args:?} was to fail");
            }
            outputs.push((args.join(" "), out));
        }
        outputs
    };
    outputs.extend(run_all(&[&["down", "--volumes"], &["up"], &["up", "--json"]], true));
    // The service has printed its secrets, and its health check too.
    wait_for_log(project, &canaries[2]);
    outputs.extend(run_all(
        &[
            &["config"],
            &["config", "--format", "json"],
            &["ps"],
            &["ps", "--json"],
            &["logs"],
            &["logs", "--timestamps", "cache"],
            &["backup"],
            &["backup", "--json"],
            &["backups"],
            &["backups", "--json"],
            &["verify", "latest"],
            &["restore", "latest", "--yes", "--json"],
            &["recover"],
            &["switch", "--dry-run", "prod"],
        ],
        true,
    ));
    outputs.extend(run_all(
        &[
            &["restore", "no-such-set", "--yes"],
            &["up", "no-such-service"],
            &["logs", "no-such-service"],
            &["--env", "no-such-env", "ps"],
        ],
        false,
    ));
    // `watch` while the service's health check fails (it prints the secret as it fails).
    let mut watch = Command::new(cli())
        .arg("--stack")
        .arg(&dir)
        .args(["-p", project, "watch", "--json"])
        .env("CACHE_TOKEN", &canaries[2])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("watch");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let container = format!("{project}-cache-1");
    let _ = Command::new("docker")
        .args(["exec", &container, "sh", "-c", "valkey-cli shutdown nosave"])
        .status();
    std::thread::sleep(std::time::Duration::from_secs(4));
    let _ = watch.kill();
    outputs.push(("watch --json".into(), watch.wait_with_output().expect("watch output")));
    outputs.extend(run_all(&[&["down", "--volumes"]], true));

    let mut seen = Vec::new();
    for (what, out) in &outputs {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            for c in &canaries {
                if text.contains(c.as_str()) {
                    seen.push(format!("{what}: {c}\n{text}"));
                }
            }
        }
    }
    // The backup folder: manifests, journals and checks (the archives are compressed data).
    for entry in walk(&backups) {
        if entry.extension().is_some_and(|e| e == "zst") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap_or_default()).into_owned();
        for c in &canaries {
            if text.contains(c.as_str()) {
                seen.push(format!("{}: {c}", entry.display()));
            }
        }
    }
    assert!(seen.is_empty(), "the canary was shown:\n{}", seen.join("\n\n"));
    assert!(
        outputs
            .iter()
            .any(|(w, o)| w == "logs" && String::from_utf8_lossy(&o.stdout).contains("token ********")),
        "the service's log line is there, masked"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn wait_for_log(project: &str, needle: &str) {
    let container = format!("{project}-cache-1");
    for _ in 0..50 {
        let out = Command::new("docker")
            .args(["logs", &container])
            .output()
            .expect("docker logs");
        if String::from_utf8_lossy(&out.stdout).contains(needle) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{container} never printed its secret");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Pages a file of `bytes` takes on a tmpfs.
fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(4096)
}

/// The backup folder fills up at each stage of a backup and of a restore's safety set: a tmpfs
/// sized to end inside each file in turn (the database dump, each volume's archive, the
/// manifest). Every time: the command fails saying the disk is full, no set is listed but whole
/// ones, nothing is left incomplete or stopped, and a restore has changed no data.
#[test]
fn a_full_disk_at_each_stage() {
    let mut c = on_shared_engine("disk");
    // Files big enough that the disk can be made to fill up inside each: a larger table, and
    // 2 MB of random data in the other volume.
    c.psql("insert into kept select g, md5(g::text) || md5((g * 7)::text) from generate_series(1001, 120000) g");
    c.docker_ok(&[
        "exec",
        &c.container("cache"),
        "sh",
        "-c",
        "head -c 2000000 /dev/urandom > /data/blob.bin",
    ]);
    c.run(&["backup"]);
    // The files of a set in the order a backup writes them, and their sizes.
    let v: serde_json::Value = serde_json::from_str(&c.run(&["backups", "--json"])).expect("json");
    let set_id = v["sets"][0]["id"].as_str().expect("a set").to_string();
    let set_dir = c.backups.join(&c.project).join(&set_id);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(set_dir.join("manifest.json")).expect("manifest")).expect("json");
    let mut files: Vec<(String, u64)> = manifest["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["file"].as_str().unwrap_or_default().to_string(),
                i["size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let manifest_size = std::fs::metadata(set_dir.join("manifest.json"))
        .expect("manifest")
        .len();
    files.push(("manifest.json".into(), manifest_size));
    let set_pages: u64 = files.iter().map(|(_, s)| pages(*s)).sum::<u64>() + 1;
    let original = c.backups.clone();
    let disk = std::env::temp_dir().join("sirius-deck-test-crash-disk-full");
    let mut report = Vec::new();
    for restore in [false, true] {
        let mut before = 1; // the journal of the set being written
        for (file, size) in &files {
            let manifest = file == "manifest.json";
            if pages(*size) < 16 && !manifest {
                // Too small to end inside it reliably (sizes move by a page between runs).
                before += pages(*size);
                continue;
            }
            // Ends halfway through this file. The manifest, written last, is too small for
            // that: the command stops itself at the step before the set is done, the disk is
            // filled up, and it goes on.
            // (Room to spare when it is filled up on cue: a database grows with each restore.)
            let mut limit = if manifest {
                4 * set_pages + 1024
            } else {
                before + pages(*size) / 2
            };
            if restore {
                limit += set_pages; // the set restored is on the same disk
            }
            before += pages(*size);
            let _tmpfs = Tmpfs::mount(&disk, &format!("{}", limit * 4096));
            c.backups = disk.clone();
            if restore {
                let dest = disk.join(&c.project);
                std::fs::create_dir_all(&dest).expect("mkdir");
                assert!(Command::new("cp")
                    .arg("-a")
                    .arg(&set_dir)
                    .arg(&dest)
                    .status()
                    .expect("cp")
                    .success());
            }
            // The last step before the set is done: its services started again (the cache is
            // the last), only the manifest is left to write.
            let stop_at = manifest.then_some(r#""service":"cache","phase":"ready""#);
            let marker = 900_000 + report.len();
            c.psql(&format!("insert into kept values ({marker}, 'before the full disk')"));
            let args: &[&str] = if restore {
                &["restore", &set_id, "--yes"]
            } else {
                &["backup"]
            };
            let out = match stop_at {
                None => c.command(args, None),
                Some(at) => {
                    let mut run = c.deck(args);
                    run.env("SIRIUS_DECK_STOP_AT", at);
                    let mut run = Captured::spawn(run);
                    if !run.wait_stopped() {
                        let what = run.what.clone();
                        let out = run.wait(Duration::from_secs(10));
                        panic!(
                            "{what} ended before its stop at {at}: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                    let _ = Command::new("dd")
                        .arg("if=/dev/zero")
                        .arg(format!("of={}", disk.join("filler").display()))
                        .arg("bs=64k")
                        .stderr(Stdio::null())
                        .status();
                    run.resume();
                    run.wait(Duration::from_secs(300))
                }
            };
            let text = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(!out.status.success(), "{args:?} with {limit} pages: {text}");
            assert!(
                text.contains("No space left on device"),
                "{args:?} with {limit} pages: {text}"
            );
            let running = c.containers().iter().filter(|(_, r)| *r).count();
            assert_eq!(running, 2, "{args:?} with {limit} pages left a service stopped: {text}");
            assert_eq!(
                c.psql(&format!("select v from kept where id = {marker}")),
                "before the full disk",
                "{args:?} with {limit} pages changed the data: {text}"
            );
            // (Verifying would write its result to the full disk: the set copied in is whole.)
            let listed: serde_json::Value =
                serde_json::from_str(&c.run(&["backups", "--json"])).expect("backups --json");
            let sets: Vec<&str> = listed["sets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["id"].as_str())
                .collect();
            assert_eq!(
                sets.len(),
                usize::from(restore),
                "{args:?}: only whole sets are listed: {sets:?}"
            );
            assert_eq!(
                c.interrupted(),
                Vec::<String>::new(),
                "{args:?}: nothing left half done"
            );
            assert_eq!(c.helpers_left(), Vec::<String>::new(), "{args:?}: helpers");
            let filled = match stop_at {
                None => format!("{limit} pages"),
                Some(_) => {
                    assert!(
                        text.contains("manifest.json"),
                        "{args:?}: the manifest was being written: {text}"
                    );
                    let at = text
                        .lines()
                        .find_map(|l| l.strip_prefix("sirius-deck: stopped at crash point "))
                        .expect("it stopped where asked");
                    format!("filled up at crash point {at}")
                }
            };
            note(
                &mut report,
                format!(
                    "{} with the disk full in {file} ({filled}): {}",
                    args[0],
                    text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or_default()
                ),
            );
            c.backups = original.clone();
        }
    }
    c.finish(&report);
}

/// The images the crash stack runs, copied into each engine a test kills.
const IMAGES: [&str; 2] = ["sirius-lab/sirius-postgres:latest", "sirius-lab/sirius-valkey:latest"];

/// The crash stack with its data and a first set, on an engine of the test's own (numbered
/// `n`, one per test).
fn on_own_engine(op: &str, n: u8) -> Crash {
    images();
    let mut c = Crash::new(op);
    c.engine = Some(OwnEngine::start(op, n, &IMAGES));
    c.start();
    c
}

#[test]
fn the_engine_killed_at_every_step_of_up() {
    let mut c = on_own_engine("engine-up", 1);
    c.run(&["down"]);
    let mut report = Vec::new();
    let points = c.every_point(&["up", "--json"], &["up"], &["down"], &mut report);
    assert!(points >= 5, "an up has its steps: {report:?}");
    c.finish(&report);
}

#[test]
fn the_engine_killed_at_every_step_of_a_backup() {
    every_step_of_a_backup(on_own_engine("engine-backup", 2));
}

#[test]
fn the_engine_killed_at_every_step_of_a_restore() {
    every_step_of_a_restore(on_own_engine("engine-restore", 3));
}

#[test]
fn the_engine_killed_at_every_step_of_a_switch() {
    every_step_of_a_switch(on_own_engine("engine-switch", 4));
}

/// `watch` while its engine is killed and comes back: it reports the services the engine
/// stopped on its way back, then each crash after that, with its exit code (0 included).
#[test]
fn watch_reports_every_crash_after_its_engine_restarts() {
    let mut c = on_own_engine("engine-watch", 5);
    /// Ends the watch however the test ends.
    struct Watching(std::process::Child);
    impl Drop for Watching {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut watch = Watching(
        c.deck(&["watch", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch"),
    );
    // It says on stderr when it watches.
    let mut stderr = std::io::BufReader::new(watch.0.stderr.take().expect("stderr"));
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stderr, &mut line).expect("watch's stderr") > 0 && !line.contains("watching")
    {
        line.clear();
    }
    assert!(line.contains("watching"), "watch never started");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = watch.0.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut pending: Vec<serde_json::Value> = Vec::new();
    // Waits for an incident of `service` of this kind and exit code, in any order with the
    // others not waited for yet.
    let mut expect = |service: &str, kind: &str, code: Option<i64>| {
        let matches = |i: &serde_json::Value| {
            i["service"] == service && i["kind"] == kind && (code.is_none() || i["code"].as_i64() == code)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(k) = pending.iter().position(matches) {
                pending.remove(k);
                return;
            }
            let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                panic!(
                    "watch never reported {service} {kind} {code:?}; it said:\n{}",
                    seen.join("\n")
                );
            };
            seen.push(line.clone());
            pending.push(serde_json::from_str(&line).expect("one JSON incident per line"));
        }
    };
    let engine = c.engine.as_mut().expect("own engine");
    let _ = Command::new("kill").args(["-9", &engine.pid().to_string()]).status();
    engine.restart();
    // The engine stopped both services on its way back (gracefully: exit code 0).
    expect("db", "exited", Some(0));
    expect("cache", "exited", Some(0));
    c.run(&["up"]);
    // (Once each is healthy again: until then the incident is open, and a second exit is the
    // same incident.)
    expect("db", "recovered", None);
    expect("cache", "recovered", None);
    // A crash: the database's main process killed from the host (no `docker kill`, so no stop
    // was asked for). Then the cache's server shuts down cleanly, on its own: exit code 0.
    let pid = c.docker_ok(&["inspect", "-f", "{{.State.Pid}}", &c.container("db")]);
    assert!(Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill")
        .success());
    expect("db", "exited", Some(137));
    // (The exec ends with the container: its own status does not matter.)
    let _ = c
        .docker()
        .args(["exec", &c.container("cache"), "valkey-cli", "shutdown", "nosave"])
        .output();
    expect("cache", "exited", Some(0));
    drop(watch);
    c.finish(&seen);
}
