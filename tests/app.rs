//! The real app binary in a real window under Xvfb, driven through tauri-driver and
//! WebKitWebDriver, against the real lab stack: open, Up, every node healthy; idle, the page
//! runs no timer and draws nothing the app did not send; hidden, the app sends it nothing and
//! it catches up when shown; a container stopped from outside shows so within two seconds; restart it from the side panel; back
//! up and restore from the Backups view; switch to prod and back from the toolbar, proven by what
//! the containers report; Down. Screenshots of each step are taken at the X level into
//! artifacts/app/.

use deck_tests::webdriver::Session;
use deck_tests::window::*;
use deck_tests::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// What the page counted of its own work (`ui/src/activity.ts`).
fn activity(s: &Session) -> serde_json::Value {
    s.execute("return window.__deckActivity").expect("the page's activity")
}

/// Every message the page received from the app.
fn total_received(activity: &serde_json::Value) -> u64 {
    activity["received"]
        .as_object()
        .map_or(0, |kinds| kinds.values().filter_map(|v| v.as_u64()).sum())
}

/// Runs xdotool on the test's display; returns what it prints.
fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new(tool("xdotool"))
        .args(args)
        .env("DISPLAY", display)
        .output()
        .expect("xdotool runs");
    assert!(
        out.status.success(),
        "xdotool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// What is wrong with the diagram's geometry now, one line each: a node outside the pane (or the
/// pane outside the window), a node under a side panel, an edge label over a node.
const GEOMETRY: &str = r#"
const box = (e) => e.getBoundingClientRect();
const pane = document.querySelector("[data-testid='diagram']");
if (!pane) return "no diagram";
const p = box(pane);
const out = [];
const fmt = (b) => `${Math.round(b.left)},${Math.round(b.top)} ${Math.round(b.width)}x${Math.round(b.height)}`;
if (p.left < -0.5 || p.top < -0.5 || p.right > innerWidth + 0.5 || p.bottom > innerHeight + 0.5) out.push(`the pane ${fmt(p)} is outside the window ${innerWidth}x${innerHeight}`);
const meets = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
const panels = [...document.querySelectorAll("[data-testid='panel'], .backups")].map(box);
const nodes = [...document.querySelectorAll("[data-testid^='node-']")].map((e) => [e.dataset.testid.slice(5), box(e)]);
if (nodes.length === 0) out.push("no node is drawn");
for (const [name, b] of nodes) {
  if (b.left < p.left - 0.5 || b.top < p.top - 0.5 || b.right > p.right + 0.5 || b.bottom > p.bottom + 0.5) out.push(`${name} ${fmt(b)} is not inside the pane ${fmt(p)}`);
  for (const q of panels) if (meets(b, q)) out.push(`${name} ${fmt(b)} is under a side panel ${fmt(q)}`);
}
for (const l of document.querySelectorAll(".edge-label")) {
  const b = box(l);
  for (const [name, n] of nodes) if (meets(b, n)) out.push(`the label ${l.dataset.testid} ${fmt(b)} covers ${name} ${fmt(n)}`);
}
return out.join("\n");
"#;

/// Waits (a panel's opening resizes the pane) until the diagram's geometry is right after `step`.
fn laid_out(s: &Session, step: &str) {
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        let problems = page(s, GEOMETRY);
        if problems.is_empty() {
            return;
        }
        assert!(
            Instant::now() < end,
            "after {step}, the diagram is not laid out right:\n{problems}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// axe-core (the npm package, from ui/node_modules) in the page: no serious or critical
/// violation of the WCAG rules it checks.
fn accessible(s: &Session, step: &str) {
    let present = s.execute("return typeof window.axe === 'object'").ok() == Some(serde_json::json!(true));
    if !present {
        let path = root().join("ui/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (npm ci in ui/ installs it)", path.display()));
        s.execute(&source).expect("axe-core loads in the page");
    }
    let found = s
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
              .then((r) => done(r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.impact} ${v.id}: ${v.help}\n    ` + v.nodes.slice(0, 4)
                  .map((n) => n.target.join(" ") + " - " + (n.failureSummary || "").replace(/\s+/g, " ")).join("\n    "))
                .join("\n")))
              .catch((e) => done("axe failed: " + e));"#,
        )
        .expect("axe runs");
    let found = found.as_str().unwrap_or("axe returned nothing");
    assert!(found.is_empty(), "accessibility ({step}):\n{found}");
}

/// Chooses a theme in the settings menu.
fn choose_theme(s: &Session, theme: &str) {
    let menu = s.find(".settings-menu summary").expect("settings menu");
    s.click(&menu).expect("open settings");
    let option = s
        .wait_for(
            &format!("[data-testid='theme'] option[value='{theme}']"),
            Duration::from_secs(3),
        )
        .expect("theme option");
    s.click(&option).expect("choose theme");
    s.click(&menu).expect("close settings");
    wait_until(&format!("the {theme} theme"), Duration::from_secs(3), || {
        page(s, "return document.documentElement.dataset.theme") == theme
    });
}

/// Nodes drawn in the crash colour now ("name status", comma-separated).
fn crashed(s: &Session) -> String {
    page(
        s,
        r#"return [...document.querySelectorAll("[data-testid^='node-']")]
            .filter((e) => e.dataset.status === "exited" || e.dataset.status === "failed")
            .map((e) => `${e.dataset.testid.slice(5)} ${e.dataset.status}`).join(", ")"#,
    )
}

/// Clicks the element matching `css`.
fn click(s: &Session, css: &str) {
    let e = s
        .wait_for(css, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    s.click(&e).unwrap_or_else(|e| panic!("click {css}: {e}"));
}

const SERVICES: [&str; 7] = [
    "sirius-postgres",
    "sirius-valkey",
    "sirius-rabbitmq",
    "sirius-migrate",
    "sirius-api",
    "sirius-engine",
    "sirius-ui",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_window_drives_the_lab_stack() {
    let _lock = exclusive().await;
    let engine = engine().await;
    reset(&engine).await;
    let backups = std::env::temp_dir().join("sirius-deck-test-app-backups");
    let _ = std::fs::remove_dir_all(&backups);
    // The window's own data (its store and its debug log) in a folder of this test's.
    let data = std::env::temp_dir().join("sirius-deck-test-app-data");
    let _ = std::fs::remove_dir_all(&data);
    // The user's profiles: a copy of the lab profile, edited while the window shows it; and an
    // "editor" that writes down what it was asked to open.
    let config = std::env::temp_dir().join("sirius-deck-test-app-config");
    let _ = std::fs::remove_dir_all(&config);
    let copy = config.join("sirius-deck/profiles/lab-files");
    std::fs::create_dir_all(copy.parent().expect("parent")).expect("profiles folder");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(lab_dir())
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(cp.success());
    let profile = std::fs::read_to_string(copy.join("profile.toml")).expect("profile");
    std::fs::write(
        copy.join("profile.toml"),
        profile.replace("name = \"sirius-lab\"", "name = \"lab-files\""),
    )
    .expect("profile");
    let editor = config.join("editor.sh");
    let opened = config.join("opened.txt");
    std::fs::write(&editor, format!("#!/bin/sh\necho \"$@\" > {}\n", opened.display())).expect("editor");
    Command::new("chmod").arg("+x").arg(&editor).status().expect("chmod");
    let w = tokio::task::block_in_place(|| {
        Window::open(&[
            ("SIRIUS_DECK_STACK", "sirius-lab".into()),
            ("SIRIUS_DECK_ENV", "dev".into()),
            ("SIRIUS_DECK_BACKUP_DIR", backups.clone().into()),
            ("XDG_DATA_HOME", data.clone().into()),
            ("XDG_CONFIG_HOME", config.clone().into()),
            (
                "SIRIUS_DECK_EDITOR",
                format!("{} {{file}} {{line}}", editor.display()).into(),
            ),
        ])
    });
    let (s, display, launched) = (&w.session, w.display.clone(), w.launched);
    let drawn = tokio::task::block_in_place(|| {
        wait_until("the planned diagram", Duration::from_secs(60), || {
            s.node_status("sirius-ui").as_deref() == Some("planned")
        })
    });
    let first_diagram = launched.elapsed();
    eprintln!("launch (WebDriver session included) to first drawn diagram: {first_diagram:?} ({drawn:?} after the session opened)");
    std::fs::create_dir_all(root().join("artifacts/app")).ok();
    std::fs::write(
        root().join("artifacts/app/metrics.txt"),
        format!("launch_to_first_diagram_ms={}\n", first_diagram.as_millis()),
    )
    .ok();
    tokio::task::block_in_place(|| laid_out(s, "launch"));
    screenshot(&display, "app/01-planned");

    tokio::task::block_in_place(|| {
        let up = s
            .wait_for("[data-testid='up']", Duration::from_secs(5))
            .expect("Up button");
        s.click(&up).expect("click Up");
        // When the core says each service is ready (its progress line) and when its node does.
        let script = format!(
            r#"const log = document.querySelector("[data-testid='progress-log']")?.textContent ?? "";
            return {:?}.map((s) => [new RegExp(`\\s${{s}}\\s+ready`).test(log),
                ["healthy", "completed"].includes(document.querySelector(`[data-testid='node-${{s}}']`)?.dataset.status)]);"#,
            SERVICES
        );
        let start = Instant::now();
        let mut core: [Option<Duration>; 7] = [None; 7];
        let mut node: [Option<Duration>; 7] = [None; 7];
        wait_until("every node ready", Duration::from_secs(300), || {
            let now = start.elapsed();
            if let Ok(serde_json::Value::Array(rows)) = s.execute(&script) {
                for (i, row) in rows.iter().enumerate().take(7) {
                    if row[0] == serde_json::json!(true) && core[i].is_none() {
                        core[i] = Some(now);
                    }
                    if row[1] == serde_json::json!(true) && node[i].is_none() {
                        node[i] = Some(now);
                    }
                }
            }
            node.iter().all(Option::is_some)
        });
        for (i, svc) in SERVICES.iter().enumerate() {
            let (Some(c), Some(n)) = (core[i], node[i]) else {
                panic!("{svc}: the core never said it was ready ({:?})", core[i]);
            };
            eprintln!("{svc}: ready by the core at {c:?}, on its node at {n:?}");
            assert!(
                n <= c + Duration::from_millis(500),
                "{svc} showed ready {:?} after the core said so",
                n - c
            );
        }
    });
    screenshot(&display, "app/02-up-all-healthy");

    // Connectivity on the edges, checked after Up from inside each dependent (what did not
    // connect, again, up to three times): every edge reachable, those into the one-shot
    // migration not checked (nothing listens).
    tokio::task::block_in_place(|| {
        let edges = r#"return [...document.querySelectorAll(".edge-label")].map((e) => `${e.dataset.testid.slice(11)}=${e.dataset.reach ?? "none"}`).join(" ")"#;
        // Into the migration: not checked; every other edge: reachable.
        let as_expected = |e: &str| {
            e.ends_with(if e.contains("-sirius-migrate=") {
                "=unchecked"
            } else {
                "=reachable"
            })
        };
        let mut first = String::new();
        let start = Instant::now();
        let all = loop {
            let all = page(s, edges);
            if first.is_empty() && !all.contains("=none") {
                first = all.clone();
            }
            if all.split(' ').all(as_expected) {
                break all;
            }
            assert!(
                start.elapsed() < Duration::from_secs(45),
                "the edges are not all reachable after 45 s: {all}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        eprintln!("edges after Up, first check: {first}");
        eprintln!("edges after Up, settled: {all}");
        screenshot(&display, "app/03b-edges-reachable");
    });

    // The engine picker: the docker CLI's contexts, each with its version (asked when the menu
    // opens), the one the stack is watched on checked; closed again.
    tokio::task::block_in_place(|| {
        let name = r#"return document.querySelector("[data-testid='engine-picker']")?.textContent ?? "";"#;
        assert_eq!(page(s, name), "default", "watched on the docker CLI's engine");
        click(s, "[data-testid='engine-picker']");
        wait_until("the default engine and its version", Duration::from_secs(10), || {
            let row = r#"const r = document.querySelector("[data-testid='engine-row-default']");
                return r ? `${r.getAttribute("aria-checked")} ${r.textContent}` : "";"#;
            let row = page(s, row);
            row.starts_with("true ") && row.contains("Docker 20.10")
        });
        screenshot(&display, "app/03c-engine-picker");
        click(s, "[data-testid='engine-picker']");
        wait_until("the engine menu closed", Duration::from_secs(5), || {
            s.find("[data-testid='engine-menu']").is_none()
        });
    });

    // Idle: with the stack healthy and nothing changing, the page does no work. Over 10 s no
    // timer or animation-frame callback runs, and the window, the diagram and the nodes are
    // drawn no more often than the stack's state changed (a resource sample redraws only its
    // gauges).
    let (before, after) = tokio::task::block_in_place(|| {
        // Docker's own first health checks (every 30 s here) change the state: after them.
        let waiting = r#"return [...document.querySelectorAll("[data-testid^='node-']")].filter((e) => e.textContent.includes("Docker's check")).map((e) => e.dataset.testid).join(" ")"#;
        let started = Instant::now();
        while !page(s, waiting).is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "Docker's first health checks: still waiting for {}",
                page(s, waiting)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "Docker's own first health checks all in {:?} after the edges settled",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_secs(3)); // the drift check after the state settles
        let before = activity(s);
        std::thread::sleep(Duration::from_secs(10));
        (before, activity(s))
    });
    let count = |a: &serde_json::Value, path: &str| a.pointer(path).and_then(|v| v.as_u64()).unwrap_or(0);
    let received = total_received(&after) - total_received(&before);
    let states = count(&after, "/received/stack-state") - count(&before, "/received/stack-state");
    let timers = count(&after, "/timers") - count(&before, "/timers");
    let renders: Vec<(String, u64)> = ["App", "Diagram", "ServiceCard"]
        .iter()
        .map(|c| {
            let path = format!("/renders/{c}");
            (c.to_string(), count(&after, &path) - count(&before, &path))
        })
        .collect();
    eprintln!("idle for 10 s: {received} message(s) from the app ({states} of the stack's state), {timers} timer callback(s), renders {renders:?}");
    assert_eq!(timers, 0, "no timer or animation frame runs in an idle window");
    for (component, n) in &renders {
        assert!(
            *n <= states,
            "{component} rendered {n} times on {states} state change(s)"
        );
    }

    // Hidden (unmapped, as when minimised): the page knows it, and the app sends it nothing, not
    // even a container stopped from outside; shown again, it has the stack as it is then.
    let window = xdotool(
        &display,
        &["search", "--sync", "--onlyvisible", "--name", "^Sirius Deck$"],
    );
    xdotool(&display, &["windowunmap", "--sync", &window]);
    let received = tokio::task::block_in_place(|| {
        wait_until("the page to turn hidden", Duration::from_secs(5), || {
            page(s, "return document.visibilityState") == "hidden"
        });
        std::thread::sleep(Duration::from_millis(500)); // what was in flight arrives
        total_received(&activity(s))
    });
    docker(&["stop", "-t", "1", "sirius-valkey"]);
    tokio::task::block_in_place(|| {
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(
            total_received(&activity(s)),
            received,
            "the app sent nothing to the hidden window"
        );
        assert_eq!(s.node_status("sirius-valkey").as_deref(), Some("healthy"));
    });
    xdotool(&display, &["windowmap", "--sync", &window]);
    let took = tokio::task::block_in_place(|| {
        wait_until(
            "sirius-valkey to show stopped from outside once shown",
            Duration::from_secs(2),
            || s.node_status("sirius-valkey").as_deref() == Some("outside"),
        )
    });
    eprintln!("shown again: the stop made while hidden was drawn {took:?} later");
    docker(&["start", "sirius-valkey"]);
    tokio::task::block_in_place(|| {
        wait_until("sirius-valkey healthy again", Duration::from_secs(60), || {
            s.node_status("sirius-valkey").as_deref() == Some("healthy")
        })
    });

    // The diagram stays inside the pane, clear of panels, its labels off the nodes, whatever
    // opens or closes; axe-core finds nothing serious in either theme, at either size.
    tokio::task::block_in_place(|| {
        laid_out(s, "Up");
        click(s, "[aria-label='close the progress log']");
        laid_out(s, "closing the progress log");
        click(s, "[data-testid='logs']");
        laid_out(s, "opening the stack's logs");
        click(s, "[data-testid='logs']");
        laid_out(s, "closing the stack's logs");
        accessible(s, "light theme, 1280x820");
        choose_theme(s, "dark");
        accessible(s, "dark theme, 1280x820");
    });
    screenshot(&display, "app/02b-dark-1280");
    xdotool(&display, &["windowsize", "--sync", &window, "1024", "700"]);
    tokio::task::block_in_place(|| {
        wait_until("the window at 1024x700", Duration::from_secs(5), || {
            page(s, "return `${innerWidth}x${innerHeight}`") == "1024x700"
        });
        laid_out(s, "resizing to 1024x700");
        accessible(s, "dark theme, 1024x700");
        let toolbar = page(
            s,
            "return String(document.querySelector('.toolbar').getBoundingClientRect().height)",
        );
        assert!(
            toolbar.parse::<f64>().is_ok_and(|h| h < 60.0),
            "the toolbar is on one line at 1024 px ({toolbar} px high)"
        );
    });
    screenshot(&display, "app/02c-dark-1024");
    tokio::task::block_in_place(|| {
        choose_theme(s, "light");
        accessible(s, "light theme, 1024x700");
    });
    screenshot(&display, "app/02d-light-1024");

    // Stopped from outside: the node changes colour within two seconds, without polling.
    docker(&["stop", "-t", "1", "sirius-valkey"]);
    let took = tokio::task::block_in_place(|| {
        wait_until("sirius-valkey to turn from healthy", Duration::from_secs(2), || {
            s.node_status("sirius-valkey").as_deref() != Some("healthy")
        })
    });
    eprintln!("node changed colour {took:?} after docker stop returned");
    // Stopped by another tool: its own state, not the crash colour.
    tokio::task::block_in_place(|| {
        wait_until(
            "sirius-valkey to show stopped from outside",
            Duration::from_secs(2),
            || s.node_status("sirius-valkey").as_deref() == Some("outside"),
        )
    });
    screenshot(&display, "app/03-valkey-stopped-outside");

    // Restart from the side panel, reached from the keyboard (Enter on the node).
    tokio::task::block_in_place(|| {
        let node = s.find("[data-testid='node-sirius-valkey']").expect("node");
        s.send_keys(&node, "\u{E007}").expect("select with Enter");
        let panel = s
            .wait_for("[data-testid='panel']", Duration::from_secs(5))
            .expect("panel");
        wait_until("the side panel of sirius-valkey", Duration::from_secs(5), || {
            s.text(&panel).contains("sirius-valkey")
        });
        laid_out(s, "selecting a node");
        let restart = s
            .wait_for("[data-testid='action-restart']", Duration::from_secs(5))
            .expect("restart button");
        s.click(&restart).expect("click Restart");
        wait_until("sirius-valkey healthy again", Duration::from_secs(60), || {
            s.node_status("sirius-valkey").as_deref() == Some("healthy")
        });
    });
    screenshot(&display, "app/04-valkey-restarted-from-panel");

    // PostgreSQL disconnected from the stack's network: one check from sirius-api's panel turns
    // its edge into PostgreSQL "no name"; connected again, reachable.
    tokio::task::block_in_place(|| {
        let nets = Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                "sirius-postgres",
            ])
            .output()
            .expect("docker inspect");
        let net = String::from_utf8_lossy(&nets.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let node = s.find("[data-testid='node-sirius-api']").expect("node");
        s.send_keys(&node, "\u{E007}").expect("select with Enter");
        let connection = "[data-testid='connection-sirius-postgres']";
        s.wait_for(connection, Duration::from_secs(5))
            .expect("the connections list");
        docker(&["network", "disconnect", &net, "sirius-postgres"]);
        let checked = Instant::now();
        click(s, "[data-testid='check-connections']");
        wait_until("the edge into PostgreSQL unreachable", Duration::from_secs(15), || {
            s.find(connection).and_then(|c| s.attr(&c, "data-reach")).as_deref() == Some("noName")
        });
        let took = checked.elapsed();
        let label = s
            .find("[data-testid='edge-label-sirius-api-sirius-postgres']")
            .expect("label");
        assert_eq!(s.attr(&label, "data-reach").as_deref(), Some("noName"));
        screenshot(&display, "app/03c-postgres-disconnected");
        docker(&[
            "network",
            "connect",
            "--alias",
            "sirius-postgres",
            &net,
            "sirius-postgres",
        ]);
        click(s, "[data-testid='check-connections']");
        wait_until(
            "the edge into PostgreSQL reachable again",
            Duration::from_secs(15),
            || s.find(connection).and_then(|c| s.attr(&c, "data-reach")).as_deref() == Some("reachable"),
        );
        eprintln!("PostgreSQL disconnected: one check from the panel said so {took:?} after the click");
        click(s, "[data-testid='panel'] [aria-label='close']");
    });

    // Inspect sirius-api: its environment with the database password masked, shown only when
    // asked for, hidden again.
    tokio::task::block_in_place(|| {
        let node = s.find("[data-testid='node-sirius-api']").expect("node");
        s.send_keys(&node, "\u{E007}").expect("select with Enter");
        wait_until("the side panel of sirius-api", Duration::from_secs(5), || {
            s.find("[data-testid='panel'] h2")
                .is_some_and(|h| s.text(&h) == "sirius-api")
        });
        click(s, "[data-testid='inspect-toggle']");
        let row = s
            .wait_for("[data-testid='env-POSTGRES_PASSWORD']", Duration::from_secs(10))
            .expect("the password's row");
        let masked = s.text(&row);
        assert!(
            masked.contains("••••") && !masked.contains("lab-postgres-password"),
            "the password is masked: {masked}"
        );
        let address = page(
            s,
            r#"const t = document.querySelector("[data-testid='inspect-sirius-api']")?.textContent ?? "";
            return (t.match(/sirius-lab: \d+\.\d+\.\d+\.\d+/) ?? [""])[0];"#,
        );
        assert!(
            !address.is_empty(),
            "the inspect view shows the address on the stack's network"
        );
        screenshot(&display, "app/04b-inspect-sirius-api"); // masked: the screenshot shows no secret
        click(s, "[aria-label='Show POSTGRES_PASSWORD']");
        wait_until("the password shown on demand", Duration::from_secs(5), || {
            s.text(&row).contains("lab-postgres-password")
        });
        click(s, "[aria-label='Hide POSTGRES_PASSWORD']");
        let row = s.find("[data-testid='env-POSTGRES_PASSWORD']").expect("row");
        wait_until("the password masked again", Duration::from_secs(5), || {
            !s.text(&row).contains("lab-postgres-password")
        });

        // A shell in sirius-api: typed into through the terminal's own input, answered in its
        // buffer; the pane resized, the TTY with it; closed with its tab, nothing left running.
        click(s, "[data-testid='terminal-open']");
        s.wait_for(
            "[data-testid='terminal-screen-1'] .xterm-helper-textarea",
            Duration::from_secs(20),
        )
        .expect("the terminal");
        let buffer = r#"const t = document.querySelector("[data-testid='terminal-screen-1']")?.term;
            if (!t) return "";
            const b = t.buffer.active;
            return Array.from({ length: b.length }, (_, i) => b.getLine(i)?.translateToString(true) ?? "").join("\n");"#;
        wait_until("the shell's prompt", Duration::from_secs(20), || {
            page(s, buffer).contains('#') || page(s, buffer).contains('$')
        });
        let input = s
            .find("[data-testid='terminal-screen-1'] .xterm-helper-textarea")
            .expect("terminal input");
        s.send_keys(&input, "cat /etc/sirius-lab/build-target\u{E007}")
            .expect("typed");
        let typed = Instant::now();
        while !page(s, buffer).lines().any(|l| l.trim() == "development") {
            assert!(
                typed.elapsed() < Duration::from_secs(10),
                "no build target in the terminal; it shows:\n{}",
                page(s, buffer)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        screenshot(&display, "app/04c-terminal-sirius-api");
        let size = || {
            page(
                s,
                r#"const t = document.querySelector("[data-testid='terminal-screen-1']").term; return `${t.rows} ${t.cols}`;"#,
            )
        };
        let before = size();
        let window = xdotool(
            &display,
            &["search", "--sync", "--onlyvisible", "--name", "^Sirius Deck$"],
        );
        xdotool(&display, &["windowsize", "--sync", &window, "1280", "620"]);
        wait_until("the terminal refitted", Duration::from_secs(5), || size() != before);
        let after = size();
        s.send_keys(&input, "stty size\u{E007}").expect("typed");
        wait_until("the TTY at the terminal's size", Duration::from_secs(10), || {
            page(s, buffer).lines().any(|l| l.trim() == after)
        });
        eprintln!("terminal rows and columns: {before} before the resize, {after} after (the TTY agrees)");
        xdotool(&display, &["windowsize", "--sync", &window, "1280", "820"]);
        click(s, "[data-testid='terminal-close-1']");
        wait_until("the shell ended in sirius-api", Duration::from_secs(10), || {
            exec(
                "sirius-api",
                &[
                    "sh",
                    "-c",
                    "grep -l SIRIUS_DECK_SHELL /proc/[0-9]*/environ 2>/dev/null | wc -l",
                ],
            )
            .trim()
                == "0"
        });
        click(s, "[data-testid='panel'] [aria-label='close']");
    });

    // The stack's logs filtered to sirius-valkey (its chip) and to its start line (the search):
    // only its lines, and one more after `docker restart` (the stream follows the restart).
    tokio::task::block_in_place(|| {
        click(s, "[data-testid='logs']");
        click(s, "[data-testid='log-chip-sirius-valkey']");
        let search = s
            .wait_for("input[aria-label='search logs']", Duration::from_secs(5))
            .expect("search");
        s.send_keys(&search, "Ready to accept connections").expect("typed");
        let count = || {
            page(
                s,
                r#"return document.querySelector("[data-testid='log-count']").textContent"#,
            )
            .split(' ')
            .next()
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
        };
        wait_until("valkey's start lines", Duration::from_secs(10), || count() >= 1);
        let others = page(
            s,
            r#"return [...document.querySelectorAll(".logline .logsvc")].map((e) => e.textContent.trim()).filter((t) => t !== "sirius-valkey").join(",")"#,
        );
        assert!(others.is_empty(), "only sirius-valkey's lines are shown: {others}");
        let before = count();
        docker(&["restart", "-t", "2", "sirius-valkey"]);
        wait_until("a start line after the restart", Duration::from_secs(30), || {
            count() == before + 1
        });
        eprintln!(
            "valkey's start lines in the filtered log: {before} before docker restart, {} after",
            count()
        );
        screenshot(&display, "app/04d-logs-filtered-valkey");
        click(s, "[data-testid='log-all']");
        click(s, "[data-testid='logs']");
        wait_until(
            "sirius-valkey healthy after the restart",
            Duration::from_secs(60),
            || s.node_status("sirius-valkey").as_deref() == Some("healthy"),
        );
    });

    // A profile that follows its files: the copy's dev file edited while the window shows it
    // (a service added: drawn), broken (its error with file:line, Open in editor at that line),
    // fixed (the error gone), each with no click.
    tokio::task::block_in_place(|| {
        click(s, "select[aria-label='stack'] option[value='lab-files']");
        wait_until("the copy's diagram", Duration::from_secs(20), || {
            s.find("[data-testid='node-sirius-ui']").is_some()
                && page(s, "return document.querySelector(\"select[aria-label='stack']\").value") == "lab-files"
        });
        let dev = copy.join("docker-compose.dev.yaml");
        let original = std::fs::read_to_string(&dev).expect("dev file");
        let edited = format!(
            "{original}\n  lab-extra:\n    image: debian:bookworm-slim\n    command: [\"sleep\", \"infinity\"]\n"
        );
        let saved = Instant::now();
        std::fs::write(&dev, edited).expect("edit");
        wait_until("the added service drawn", Duration::from_secs(10), || {
            s.find("[data-testid='node-lab-extra']").is_some()
        });
        let redrawn = saved.elapsed();
        let broken_text = format!("{original}\n  lab-broken: [\n");
        let saved = Instant::now();
        std::fs::write(&dev, &broken_text).expect("break");
        let diag = s
            .wait_for("[data-testid='diagnostic']", Duration::from_secs(10))
            .expect("the error");
        let shown = saved.elapsed();
        let text = s.text(&diag);
        assert!(
            text.contains("docker-compose.dev.yaml:"),
            "the error names file:line: {text}"
        );
        screenshot(&display, "app/04e-profile-file-broken");
        click(s, "[data-testid='open-file']");
        wait_until("the editor asked to open the file", Duration::from_secs(5), || {
            std::fs::read_to_string(&opened).is_ok_and(|o| o.contains("docker-compose.dev.yaml "))
        });
        let asked = std::fs::read_to_string(&opened).unwrap_or_default();
        let line = asked.trim().rsplit(' ').next().unwrap_or_default().to_string();
        assert!(
            text.contains(&format!("docker-compose.dev.yaml:{line}")),
            "opened at the error's line: {asked} for {text}"
        );
        let saved = Instant::now();
        std::fs::write(&dev, &original).expect("fix");
        wait_until("the error cleared", Duration::from_secs(10), || {
            s.find("[data-testid='invalid']").is_none() && s.find("[data-testid='node-sirius-ui']").is_some()
        });
        let cleared = saved.elapsed();
        assert!(s.find("[data-testid='node-lab-extra']").is_none());
        eprintln!("file saved to window: service drawn {redrawn:?}, error shown {shown:?}, cleared {cleared:?}");
        click(s, "select[aria-label='stack'] option[value='sirius-lab']");
        wait_until("the lab stack back, healthy", Duration::from_secs(20), || {
            s.node_status("sirius-ui").as_deref() == Some("healthy")
        });
    });

    // "Add a stack…" on a folder holding a plain compose project (not Sirius): the folder chosen
    // in the system's own dialog (typed into its location bar), its files detected, the stack
    // added and opened, Up: its diagram drawn and its services running; Down.
    let plain = config.join("Plain Project");
    std::fs::create_dir_all(&plain).expect("folder");
    std::fs::write(
        plain.join("compose.yaml"),
        "name: deck-window-added\nservices:\n  web:\n    image: debian:bookworm-slim\n    init: true\n    command: [\"sleep\", \"infinity\"]\n    depends_on: [store]\n  store:\n    image: debian:bookworm-slim\n    init: true\n    command: [\"sleep\", \"infinity\"]\n",
    )
    .expect("compose file");
    tokio::task::block_in_place(|| {
        click(s, "[data-testid='stack-menu']");
        click(s, "[data-testid='add-stack-open']");
        let dialog = xdotool(
            &display,
            &["search", "--sync", "--onlyvisible", "--name", "The folder of the stack"],
        );
        xdotool(&display, &["windowfocus", "--sync", &dialog]);
        xdotool(&display, &["key", "ctrl+l"]);
        std::thread::sleep(Duration::from_millis(300));
        xdotool(&display, &["type", "--delay", "5", plain.to_str().expect("utf8")]);
        // Return takes GTK's completion (the folder with its slash), goes into the folder, then
        // chooses it (Open): one at a time until the dialog has answered.
        for n in 0..4 {
            screenshot(&display, &format!("app/04f{n}-folder-dialog"));
            xdotool(&display, &["key", "Return"]);
            std::thread::sleep(Duration::from_millis(700));
            if s.find("[data-testid='add-stack']").is_some() {
                break;
            }
        }
        let form = s
            .wait_for("[data-testid='add-stack']", Duration::from_secs(10))
            .expect("the Add a stack form");
        assert!(s.text(&form).contains("compose.yaml"), "{}", s.text(&form));
        screenshot(&display, "app/04f-add-a-stack");
        click(s, "[data-testid='add-confirm']");
        wait_until("the added stack open", Duration::from_secs(20), || {
            page(s, "return document.querySelector(\"select[aria-label='stack']\").value") == "plain-project"
                && s.find("[data-testid='node-web']").is_some()
        });
        click(s, "[data-testid='up']");
        wait_until("its services running", Duration::from_secs(60), || {
            ["web", "store"]
                .iter()
                .all(|n| s.node_status(n).as_deref() == Some("running"))
        });
        screenshot(&display, "app/04g-added-stack-up");
        click(s, "[aria-label='close the progress log']");
        click(s, "[data-testid='down']");
        wait_until("its services down", Duration::from_secs(60), || {
            ["web", "store"]
                .iter()
                .all(|n| s.node_status(n).as_deref() == Some("planned"))
        });
        wait_until("Down finished", Duration::from_secs(30), || {
            s.find("[data-testid='up']")
                .is_some_and(|b| s.attr(&b, "disabled").is_none())
        });
        click(s, "select[aria-label='stack'] option[value='sirius-lab']");
        wait_until("the lab stack back, healthy", Duration::from_secs(20), || {
            s.node_status("sirius-ui").as_deref() == Some("healthy")
        });
    });

    // Back up from the Backups view, change the data, restore it from there.
    tokio::task::block_in_place(|| {
        let open = s.find("[data-testid='backups']").expect("Backups button");
        s.click(&open).expect("open Backups");
        laid_out(s, "opening Backups");
        let now = s
            .wait_for("[data-testid='backup-now']", Duration::from_secs(5))
            .expect("Back up now");
        s.click(&now).expect("click Back up now");
        let mut seen = String::new();
        wait_until("the backup", Duration::from_secs(180), || {
            let c = crashed(s);
            if !c.is_empty() {
                seen = c;
            }
            s.find("[data-testid='backup-message']").is_some()
        });
        assert!(seen.is_empty(), "during the backup, nodes in the crash colour: {seen}");
        let message = s.find("[data-testid='backup-message']").expect("backup done");
        assert!(
            s.text(&message).contains("written and verified"),
            "{}",
            s.text(&message)
        );
    });
    screenshot(&display, "app/05-backed-up");
    psql("delete from findings");
    tokio::task::block_in_place(|| {
        let restore = s
            .wait_for("[data-testid^='restore-2']", Duration::from_secs(5))
            .expect("Restore on the set");
        s.click(&restore).expect("click Restore");
        let confirm = s
            .wait_for("[data-testid='restore-confirm']", Duration::from_secs(5))
            .expect("confirmation");
        assert!(s.text(&confirm).contains("database sirius of sirius-postgres"));
        screenshot(&display, "app/06-restore-confirmation");
        let go = s.find("[data-testid='restore-go']").expect("Replace and restore");
        s.click(&go).expect("click Replace and restore");
        wait_until("the restore to finish", Duration::from_secs(300), || {
            s.find("[data-testid='backup-message']")
                .is_some_and(|m| s.text(&m).contains("Restored"))
        });
        let close = s.find("[aria-label='close backups']").expect("close");
        s.click(&close).expect("close Backups");
        laid_out(s, "closing Backups");
    });
    assert_eq!(
        psql("select count(*) from findings"),
        "3",
        "the restore brought the rows back"
    );
    screenshot(&display, "app/07-restored");

    // Switch to prod and back from the toolbar; the containers themselves say what runs.
    for (to, targets) in [
        (
            "prod",
            [
                ("sirius-ui", "production"),
                ("sirius-api", "runner"),
                ("sirius-engine", "runtime"),
            ],
        ),
        (
            "dev",
            [
                ("sirius-ui", "development"),
                ("sirius-api", "development"),
                ("sirius-engine", "development"),
            ],
        ),
    ] {
        tokio::task::block_in_place(|| {
            let switch = s.find("[data-testid='switch']").expect("Switch button");
            assert!(s.text(&switch).contains(to), "{}", s.text(&switch));
            s.click(&switch).expect("click Switch");
            let mut seen = String::new();
            wait_until(&format!("the switch to {to}"), Duration::from_secs(600), || {
                let c = crashed(s);
                if !c.is_empty() {
                    seen = c;
                }
                s.find("[data-testid='notice']")
                    .is_some_and(|m| s.text(&m).contains(&format!("to {to} in")))
                    || s.find("[data-testid='error']").is_some()
            });
            assert!(s.find("[data-testid='error']").is_none(), "the switch to {to} failed");
            assert!(
                seen.is_empty(),
                "during the switch to {to}, nodes in the crash colour: {seen}"
            );
            wait_until("every node ready", Duration::from_secs(60), || {
                SERVICES
                    .iter()
                    .all(|svc| matches!(s.node_status(svc).as_deref(), Some("healthy") | Some("completed")))
            });
            laid_out(s, &format!("the switch to {to}"));
        });
        for (container, target) in targets {
            assert_eq!(exec(container, &["cat", "/etc/sirius-lab/build-target"]).trim(), target);
        }
        assert_eq!(
            psql("select count(*) from findings"),
            "3",
            "data kept across the switch"
        );
        screenshot(&display, &format!("app/08-switched-to-{to}"));
    }

    tokio::task::block_in_place(|| {
        let down = s.find("[data-testid='down']").expect("Down button");
        s.click(&down).expect("click Down");
        wait_until("every node back to planned", Duration::from_secs(120), || {
            SERVICES
                .iter()
                .all(|svc| s.node_status(svc).as_deref() == Some("planned"))
        });
        laid_out(s, "Down");
    });
    screenshot(&display, "app/09-down");
    tokio::task::block_in_place(|| w.close());
    // The debug log of the whole session: private, and without the stack's secrets (the
    // database password of its .env and the API key of its secret file).
    let log = data.join("dev.siriusdeck.app/logs/sirius-deck.log");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(text.contains("DEBUG"), "debug logging was on:\n{text}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).expect("log").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the log is readable by its user only");
    }
    for secret in ["lab-postgres-password", "lab-api-key-not-a-secret"] {
        assert!(
            !text.contains(secret),
            "the window's debug log shows a secret ({secret})"
        );
    }
    let project = lab("dev");
    assert!(
        engine
            .status(&project)
            .await
            .expect("status")
            .iter()
            .all(|st| st.containers.is_empty()),
        "Down removed every container"
    );
}
