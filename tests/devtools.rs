//! The developer's tools on a real engine, on small projects of their own (`deck-devtools`,
//! `deck-added`: containers from the base image), so that they run beside the lab stack's tests:
//! - each dependency edge checked from inside the dependent (reachable, refused, from a helper,
//!   no name);
//! - a shell with a TTY in a container: typed into, answered, resized, ended by closing;
//! - a followed log that keeps following across a restart (no line twice) and picks up a
//!   container created after it began;
//! - a plain compose project added as a stack, started, renamed, removed.

use deck_compose::{load, LoadOptions, Project};
use deck_engine::{EdgeCheck, Engine, LogLine, Reach, Sink, TermSize, UpOptions};
use deck_tests::*;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const COMPOSE: &str = r#"name: deck-devtools
services:
  talker:
    image: debian:bookworm-slim
    init: true
    command: ["sh", "-c", "echo \"talker says hello\"; while sleep 1; do :; done"]
    depends_on: [server, quiet]
  quiet:
    image: debian:bookworm-slim
    init: true
    expose: ["7001"]
    command: ["sleep", "infinity"]
  server:
    image: debian:bookworm-slim
    init: true
    expose: ["7000"]
    command: ["perl", "-MIO::Socket::INET", "-e", "my $$s = IO::Socket::INET->new(LocalPort => 7000, Listen => 5, ReuseAddr => 1) or die $$!; while (my $$c = $$s->accept) { close $$c }"]
  bare:
    # No shell on its PATH: checked from a helper beside it.
    image: debian:bookworm-slim
    init: true
    environment:
      PATH: /nowhere
    entrypoint: ["/bin/sleep", "infinity"]
    depends_on: [server]
"#;

/// How many shells, and sleeps started from one, run in the container.
const SHELLS_LEFT: &str = r"for c in /proc/[0-9]*/cmdline; do tr '\0' ' ' < $c 2>/dev/null; echo; done | grep -cE '^(/bin/)?bash|^sleep 1000' || true";

/// The project, up; its folder stays while the test runs.
async fn project(engine: &Engine) -> Project {
    let dir = std::env::temp_dir().join("sirius-deck-devtools");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("folder");
    std::fs::write(dir.join("compose.yaml"), COMPOSE).expect("compose file");
    let project = load(&LoadOptions::new([dir.join("compose.yaml")]))
        .expect("loads")
        .project;
    down_all(engine, &project).await;
    engine
        .up(&project, &UpOptions::default(), &Sink::none())
        .await
        .expect("up");
    project
}

/// The next line whose text contains `needle`, within `secs` seconds.
async fn line_with(rx: &mut Receiver<LogLine>, needle: &str, secs: u64) -> Option<LogLine> {
    timeout(Duration::from_secs(secs), async {
        while let Some(l) = rx.recv().await {
            if l.line.contains(needle) {
                return Some(l);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// What a shell shows until `needle` (within 15 s; the test fails without it).
async fn shown_until(out: &mut Receiver<String>, needle: &str) -> String {
    let mut seen = String::new();
    let found = timeout(Duration::from_secs(15), async {
        while let Some(t) = out.recv().await {
            seen.push_str(&t);
            if seen.contains(needle) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "the shell showed no {needle:?}: {seen:?}");
    seen
}

#[tokio::test]
async fn shells_and_logs_that_follow_restarts() {
    let engine = engine().await;
    let project = project(&engine).await;

    // Each edge checked from inside the dependent: a listener reachable, a port without one
    // refused; a container without a shell checked from a helper beside it; disconnected from
    // the network, the name no longer resolves.
    let reach = |checks: &[EdgeCheck], from: &str, to: &str| {
        checks
            .iter()
            .find(|c| c.from == from && c.to == to)
            .map(|c| (c.reach.clone(), c.via.clone()))
            .expect("the edge was checked")
    };
    let checks = engine.check_edges(&project, None).await.expect("checks");
    assert_eq!(checks.len(), 3, "{checks:?}");
    let inside = Some("exec".to_string());
    assert_eq!(
        reach(&checks, "talker", "server"),
        (Reach::Reachable { port: 7000 }, inside.clone())
    );
    assert_eq!(
        reach(&checks, "talker", "quiet"),
        (Reach::Refused { port: 7001 }, inside.clone())
    );
    assert_eq!(
        reach(&checks, "bare", "server"),
        (Reach::Reachable { port: 7000 }, Some("helper".to_string()))
    );
    docker(&[
        "network",
        "disconnect",
        "deck-devtools_default",
        "deck-devtools-server-1",
    ]);
    let checks = engine.check_edges(&project, Some("talker")).await.expect("checks");
    assert_eq!(checks.len(), 2);
    assert_eq!(reach(&checks, "talker", "server"), (Reach::NoName, inside));
    let helpers = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", "label=dev.siriusdeck.check"])
        .output()
        .expect("docker ps");
    assert!(helpers.stdout.is_empty(), "no helper container is left");

    // A shell: what is typed runs, its answer comes back, a resize reaches the TTY.
    let size = TermSize { cols: 100, rows: 30 };
    let (term, mut out) = engine
        .open_terminal("deck-devtools-talker-1", size)
        .await
        .expect("shell opens");
    term.write(b"stty size; cat /etc/debian_version; echo done-$((40+2))\n")
        .await
        .expect("typed");
    let seen = shown_until(&mut out, "done-42").await;
    assert!(seen.contains("30 100"), "the TTY has the size asked: {seen:?}");
    let version = std::fs::read_to_string("/etc/debian_version").unwrap_or_default();
    assert!(
        seen.contains("12."),
        "cat ran in the container (bookworm): {seen:?} (host {version})"
    );
    term.resize(TermSize { cols: 80, rows: 24 }).await.expect("resized");
    term.write(b"stty size\n").await.expect("typed");
    shown_until(&mut out, "24 80").await;
    // Closing ends the shell and what runs from it: no bash, no sleep left in the container.
    term.write(b"sleep 1000 & echo bg-$((1+1))\n").await.expect("typed");
    shown_until(&mut out, "bg-2").await;
    term.close().await;
    drop(out);
    let gone = timeout(Duration::from_secs(10), async {
        loop {
            let ps = exec("deck-devtools-talker-1", &["sh", "-c", SHELLS_LEFT]);
            if ps.trim() == "0" {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .unwrap_or(false);
    assert!(gone, "the shell ended when closed");

    // A not-running container has no shell: a clear refusal.
    docker(&["stop", "-t", "1", "deck-devtools-quiet-1"]);
    let refused = engine
        .open_terminal("deck-devtools-quiet-1", size)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(refused.as_deref().is_some_and(|e| e.contains("quiet")), "{refused:?}");

    // Logs of one service, followed across a restart of its container.
    let mut logs = engine
        .logs(&project, &["talker".to_string()], true, None)
        .await
        .expect("logs");
    let first = line_with(&mut logs, "hello", 10).await.expect("the first line");
    assert_eq!(first.service, "talker");
    docker(&["restart", "-t", "1", "deck-devtools-talker-1"]);
    let second = line_with(&mut logs, "hello", 20)
        .await
        .expect("a line after the restart");
    assert!(second.timestamp > first.timestamp, "{first:?} then {second:?}");
    // Nothing is sent twice: no third hello comes.
    assert!(line_with(&mut logs, "hello", 3).await.is_none(), "a line came twice");

    // Recreated (a new container): its lines are followed too.
    docker(&["rm", "-f", "deck-devtools-talker-1"]);
    engine
        .up(&project, &UpOptions::default(), &Sink::none())
        .await
        .expect("up again");
    let third = line_with(&mut logs, "hello", 20)
        .await
        .expect("a line of the new container");
    assert!(third.timestamp > second.timestamp);
    // Another service's lines never come.
    docker(&["start", "deck-devtools-quiet-1"]);
    drop(logs);

    down_all(&engine, &project).await;
}

/// `sirius-deck` with its profiles under `config` (the user's profiles folder of the test).
fn deck_with(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(cli())
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .output()
        .expect("sirius-deck runs")
}

/// A plain compose project (not Sirius) added as a stack from its folder, started by its name,
/// renamed and removed; a folder whose file does not load is refused with file:line and
/// nothing written.
#[tokio::test]
async fn a_plain_compose_project_becomes_a_stack() {
    let root = std::env::temp_dir().join("sirius-deck-added");
    let _ = std::fs::remove_dir_all(&root);
    let config = root.join("config");
    let folder = root.join("My Shop");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(
        folder.join("compose.yaml"),
        "name: deck-added\nservices:\n  web:\n    image: debian:bookworm-slim\n    init: true\n    command: [\"sleep\", \"infinity\"]\n",
    )
    .expect("compose");
    std::fs::write(
        folder.join("compose.dev.yaml"),
        "services:\n  web:\n    environment:\n      MODE: dev\n",
    )
    .expect("dev");
    std::fs::write(folder.join("notes.txt"), "not compose").expect("notes");
    let profile = config.join("sirius-deck/profiles/my-shop/profile.toml");

    // A broken file: refused, with where, and no profile written.
    std::fs::write(folder.join("compose.prod.yaml"), "services:\n  web: [\n").expect("prod");
    let folder_arg = folder.to_str().expect("utf8");
    let err = failed(deck_with(&config, &["stacks", "add", folder_arg]));
    assert!(err.contains("compose.prod.yaml:"), "the error names file:line: {err}");
    assert!(!profile.exists(), "nothing written for a stack that does not load");
    std::fs::remove_file(folder.join("compose.prod.yaml")).expect("rm");

    let said = ok(deck_with(&config, &["stacks", "add", folder_arg]));
    assert!(said.contains("added my-shop (envs: dev)"), "{said}");
    let text = std::fs::read_to_string(&profile).expect("the profile");
    assert!(
        text.contains("files = [\"compose.yaml\", \"compose.dev.yaml\"]"),
        "{text}"
    );
    assert!(failed(deck_with(&config, &["stacks", "add", folder_arg])).contains("exists already"));
    assert!(ok(deck_with(&config, &["stacks"])).contains("my-shop"));

    ok(deck_with(&config, &["--stack", "my-shop", "up"]));
    assert!(started_at("deck-added-web-1").starts_with("20"), "its service runs");
    // While it runs, neither removed nor renamed (its containers would stay without a stack).
    for action in [
        &["stacks", "remove", "my-shop"][..],
        &["stacks", "rename", "my-shop", "shop"],
    ] {
        let refused = failed(deck_with(&config, action));
        assert!(refused.contains("take it down first"), "{refused}");
    }
    ok(deck_with(&config, &["--stack", "my-shop", "down"]));
    ok(deck_with(&config, &["stacks", "rename", "my-shop", "shop"]));
    assert!(!profile.exists());
    assert!(ok(deck_with(&config, &["stacks"])).contains("shop"));
    // A path is not a name: nothing outside the profiles folder is renamed or removed.
    let outside = failed(deck_with(&config, &["stacks", "remove", folder_arg]));
    assert!(outside.contains("cannot name a stack"), "{outside}");
    assert!(failed(deck_with(&config, &["stacks", "remove", "sirius-lab"])).contains("built into"));
    ok(deck_with(&config, &["stacks", "remove", "shop"]));
    assert!(
        !config.join("sirius-deck/profiles/shop").exists(),
        "its folder is gone with it"
    );
    assert!(folder.join("compose.yaml").is_file(), "the compose files stay");
}
