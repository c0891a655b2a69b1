//! The Sirius Deck desktop shell: each command a one-line adapter over the application API
//! (`deck-app`), declared once in `commands.rs`; the live state of the open stack pushed to
//! the window by one background task (`live.rs`).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[macro_use]
mod bridge;
mod commands;
mod live;
mod terminals;

use live::{Shell, SETTINGS};
use std::sync::Mutex;
use tauri::Manager;
use tauri_plugin_store::StoreExt;

/// The window's log: readable by its owner only, and bounded. When it reaches `MAX_LOG`
/// bytes it becomes `sirius-deck.log.1` (replacing the one before) and a new one starts.
struct BoundedLog {
    path: std::path::PathBuf,
    file: std::fs::File,
    written: u64,
}

const MAX_LOG: u64 = 5 << 20;

impl BoundedLog {
    fn open(path: std::path::PathBuf) -> std::io::Result<Self> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        // A log from before this rule may be world-readable.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        let written = file.metadata()?.len();
        Ok(BoundedLog { path, file, written })
    }
}

impl std::io::Write for BoundedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() as u64 > MAX_LOG {
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            std::fs::rename(&self.path, &old)?;
            *self = BoundedLog::open(self.path.clone())?;
        }
        // Whole lines come here (one per event): what a stack holds secret is masked in them.
        let line = String::from_utf8_lossy(buf);
        let masked = deck_error::redact::text(&line);
        self.file.write_all(masked.as_bytes())?;
        self.written += masked.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn init_logging(app: &tauri::App) {
    let Ok(dir) = app.path().app_log_dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let Ok(log) = BoundedLog::open(dir.join("sirius-deck.log")) else {
        return;
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("SIRIUS_DECK_LOG").unwrap_or_else(|_| "info".into());
    // Below info, the Engine API client logs request and response bodies (the environment of a
    // container, passwords included): never written, whatever level is asked for.
    for quiet in ["bollard=info", "hyper=info", "hyper_util=info", "h2=info"] {
        if let Ok(d) = quiet.parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(log))
        .try_init();
}

fn main() {
    std::sync::LazyLock::force(&live::STARTED);
    // The diagram changes a few pixels at a time (a node's colour, a gauge). Painted in
    // software, WebKit draws only what changed; composited through OpenGL it redraws the whole
    // window each frame, and without a GPU (a VM, Xvfb) that GL is software too: an update cost
    // about three times the CPU in bench/idle.sh. Set it to 0 to composite anyway.
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    // The page's JavaScript is a few renders between long idle spells: the interpreter runs it
    // about as fast as the JIT tiers warm up (a warm launch: 0.85-1.06 s without them against
    // 0.86-1.96 s with), and the page process keeps none of their compiled code and profiles
    // (its PSS 127 -> 113 MiB, measured alone under Xvfb). Set JSC_useJIT=1 to JIT anyway.
    if std::env::var_os("JSC_useJIT").is_none() {
        std::env::set_var("JSC_useJIT", "0");
    }
    // WebKit's memory pressure monitor: a thread of this process reads the system's free memory,
    // and the page process reads the whole of its /proc/self/smaps every 30 s, to free caches
    // past thresholds (a third of 3 GB, or of the RAM when less, at the lowest) that this page
    // (about 110 MiB) never nears. Those reads were 86% of the idle page process's CPU (perf),
    // and cost more the more mappings it has (1765 after a layout in the ELK worker, 1155 for
    // an empty page). Set it to 0 to keep the monitor (WebKit takes any value as "disable").
    match std::env::var_os("WEBKIT_DISABLE_MEMORY_PRESSURE_MONITOR") {
        None => std::env::set_var("WEBKIT_DISABLE_MEMORY_PRESSURE_MONITOR", "1"),
        Some(v) if v == "0" => std::env::remove_var("WEBKIT_DISABLE_MEMORY_PRESSURE_MONITOR"),
        Some(_) => {}
    }
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .manage(Shell::default())
        .setup(|app| {
            init_logging(app);
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "Sirius Deck started");
            // Restore the window size of the last session.
            if let (Some(window), Ok(store)) = (app.get_webview_window("main"), app.store(SETTINGS)) {
                if let Some(size) = store.get("windowSize") {
                    let w = size.get("width").and_then(|v| v.as_f64());
                    let h = size.get("height").and_then(|v| v.as_f64());
                    if let (Some(w), Some(h)) = (w, h) {
                        let _ = window.set_size(tauri::LogicalSize::new(w, h));
                    }
                }
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { .. } = event {
                if let (Ok(size), Ok(scale), Ok(store)) =
                    (window.inner_size(), window.scale_factor(), window.store(SETTINGS))
                {
                    let size = size.to_logical::<f64>(scale);
                    store.set(
                        "windowSize",
                        serde_json::json!({ "width": size.width, "height": size.height }),
                    );
                    let _ = store.save();
                }
            }
        })
        .invoke_handler(commands::handler())
        .build(tauri::generate_context!());
    match app {
        // Shells still open end with the app: the engine would keep them running.
        Ok(app) => app.run(|handle, event| {
            if let tauri::RunEvent::Exit = event {
                let shell = handle.state::<Shell>();
                tauri::async_runtime::block_on(shell.terminals.close_all());
            }
        }),
        Err(e) => {
            eprintln!("sirius-deck-app: cannot start: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    /// The command list the UI is typed against, and the capability that lets the window call
    /// exactly these commands, both generated from `commands.rs` (the test command fails when
    /// the committed copies are stale).
    #[test]
    fn command_bindings_and_capability_are_generated() {
        let ts = crate::commands::typescript();
        std::fs::write(root().join("ui/src/bindings/commands.ts"), ts).expect("write commands.ts");
        let mut permissions = vec![
            "core:event:allow-listen".to_string(),
            "core:event:allow-unlisten".to_string(),
        ];
        permissions.extend(
            crate::commands::COMMAND_NAMES
                .iter()
                .map(|c| format!("allow-{}", c.replace('_', "-"))),
        );
        let capability = serde_json::json!({
            "$schema": "../gen/schemas/desktop-schema.json",
            "identifier": "default",
            "description": "What the main window may do: its own commands (generated from src/commands.rs by cargo test), and listening to its own events.",
            "windows": ["main"],
            "permissions": permissions,
        });
        let text = serde_json::to_string_pretty(&capability).expect("json") + "\n";
        std::fs::write(root().join("src-tauri/capabilities/default.json"), text).expect("write capability");
    }

    #[test]
    fn command_arguments_are_named_as_javascript_sends_them() {
        assert_eq!(crate::bridge::camel("on_event"), "onEvent");
        assert_eq!(crate::bridge::camel("stack"), "stack");
    }

    #[test]
    fn the_log_is_private_and_bounded() {
        use crate::{BoundedLog, MAX_LOG};
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("deck-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("sirius-deck.log");
        std::fs::write(&path, "from before\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut log = BoundedLog::open(path.clone()).expect("opens");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        let line = vec![b'x'; 1 << 20];
        for _ in 0..12 {
            log.write_all(&line).expect("write");
        }
        let rotated = dir.join("sirius-deck.log.1");
        assert!(std::fs::metadata(&path).expect("meta").len() <= MAX_LOG);
        assert!(std::fs::metadata(&rotated).expect("meta").len() <= MAX_LOG);
        assert_eq!(mode(&rotated), 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
