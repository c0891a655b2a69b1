//! Crash points: a backup, a restore and an environment switch are killed with SIGKILL at every
//! step boundary in turn (the debug build's `SIRIUS_DECK_KILL_AT`, see `deck_engine::Sink`);
//! then the user does what users do (nothing; `up`; `up` and writes a row and a file; `down`),
//! taken in turn; then the next command runs. At every point: nothing written after the kill is
//! lost, every listed set verifies, no helper container is left, and every service ends as the
//! user last asked. Each operation runs on its own copy of a small stack (tests/fixtures/crash),
//! so the three run side by side.

use deck_tests::*;
use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
        }
    }

    fn command(&self, args: &[&str], kill_at: Option<usize>) -> Output {
        let stack = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/crash");
        let mut c = Command::new(cli());
        c.arg("--stack")
            .arg(stack)
            .args(["-p", &self.project])
            .args(args)
            .env("SIRIUS_DECK_BACKUP_DIR", &self.backups);
        if let Some(k) = kill_at {
            c.env("SIRIUS_DECK_KILL_AT", k.to_string());
        }
        c.output().expect("sirius-deck runs")
    }

    fn run(&self, args: &[&str]) -> String {
        ok(self.command(args, None))
    }

    fn container(&self, service: &str) -> String {
        format!("{}-{service}-1", self.project)
    }

    fn psql(&self, sql: &str) -> String {
        let out = Command::new("docker")
            .args([
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
            .output()
            .expect("docker exec");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn cache_file(&self, name: &str) -> bool {
        Command::new("docker")
            .args(["exec", &self.container("cache"), "test", "-f", &format!("/data/{name}")])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Containers of the stack: name and whether it runs.
    fn containers(&self) -> Vec<(String, bool)> {
        let out = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--filter",
                &format!("label=com.docker.compose.project={}", self.project),
                "--format",
                "{{.Names}} {{.State}}",
            ])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, s)| (n.to_string(), s == "running"))
            .collect()
    }

    fn helpers_left(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}"])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|n| n.starts_with(&format!("sirius-deck-helper-{}_", self.project)))
            .map(str::to_string)
            .collect()
    }

    fn env_of(&self, service: &str) -> String {
        let out = Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{index .Config.Labels \"dev.siriusdeck.env\"}}",
                &self.container(service),
            ])
            .output()
            .expect("docker inspect");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
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

    /// Kills `op` at each crash point in turn until it runs to its end; after each kill, the
    /// user's action, then `next`, then the checks. One line per point.
    fn every_point(&mut self, op: &[&str], next: &[&str], reset: &[&str], report: &mut Vec<String>) -> usize {
        let mut point = 1;
        loop {
            let out = self.command(op, Some(point));
            if out.status.success() {
                return point - 1;
            }
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(
                out.status.signal(),
                Some(9),
                "{op:?} failed before crash point {point} without being killed: {stderr}"
            );
            let at = stderr
                .lines()
                .find_map(|l| l.strip_prefix("sirius-deck: killed at crash point "))
                .and_then(|l| l.split_once(": "))
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
            let action = ACTIONS[(point - 1) % ACTIONS.len()];
            let marker = 10_000 + point;
            match action {
                Action::Nothing => {}
                Action::Up => {
                    self.run(&["up"]);
                }
                Action::WritesRows => {
                    self.run(&["up"]);
                    self.psql(&format!(
                        "insert into kept values ({marker}, 'after crash point {point}')"
                    ));
                    assert!(Command::new("docker")
                        .args([
                            "exec",
                            &self.container("cache"),
                            "touch",
                            &format!("/data/after-{point}")
                        ])
                        .status()
                        .expect("docker exec")
                        .success());
                }
                Action::Down => {
                    self.run(&["down"]);
                }
            }
            let waiting = self.interrupted();
            let next_out = self.command(next, None);
            let next_ok = next_out.status.success();
            let next_err = String::from_utf8_lossy(&next_out.stderr).into_owned();
            if !next_ok {
                // Only a stack the user took down makes the next command refuse, and it says why.
                assert!(
                    matches!(action, Action::Down) && next_err.contains("not running"),
                    "{next:?} after crash point {point} ({action:?}) failed: {next_err}"
                );
            }
            // Every service as the user last asked: down stays down; otherwise everything runs.
            let containers = self.containers();
            let running = containers.iter().filter(|(_, r)| *r).count();
            let stays_down = matches!(action, Action::Down) && !next_ok;
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
                for s in ["cache"] {
                    assert_eq!(self.env_of(s), env, "point {point}: {s} runs {env}");
                }
            }
            if matches!(action, Action::WritesRows) {
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
            report.push(format!(
                "{} killed at {point} ({}); then {action:?}; interrupted {waiting:?}; {}: {}; {running} running; {sets} sets verified; left {left:?}",
                op[0],
                at.trim(),
                next.join(" "),
                if next_ok { "ok" } else { "refused: stack down" }
            ));
            // Back to the starting point for the next crash point.
            for op in left {
                self.run(&["recover", &op, "--discard"]);
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
        println!("{}", report.join("\n"));
    }
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

#[test]
fn a_backup_killed_at_every_step() {
    images();
    let mut c = Crash::new("backup");
    c.start();
    let mut report = Vec::new();
    let points = c.every_point(&["backup", "--json"], &["backup"], &["up"], &mut report);
    assert!(points >= 10, "a backup has its steps: {report:?}");
    c.finish(&report);
}

#[test]
fn a_restore_killed_at_every_step() {
    images();
    let mut c = Crash::new("restore");
    c.start();
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

#[test]
fn a_switch_killed_at_every_step() {
    images();
    let mut c = Crash::new("switch");
    c.after_env = Some("prod");
    c.start();
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
