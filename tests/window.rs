//! The real app binary in a real window under Xvfb, driven through tauri-driver and
//! WebKitWebDriver: shared by the window tests (the lab stack on this engine, a swarm stack).

use crate::webdriver::Session;
use crate::{dbus, xvfb, Proc};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

pub fn app_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let bin = target.join("debug").join("sirius-deck-app");
    assert!(
        bin.is_file(),
        "{} is missing: the test command builds it (cargo build -p sirius-deck-app)",
        bin.display()
    );
    bin
}

pub fn tool(name: &str) -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    for dir in [format!("{home}/.cargo/bin"), "/usr/bin".into(), "/usr/local/bin".into()] {
        let p = Path::new(&dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is not installed: the test command installs it (scripts/test.sh)");
}

/// A screenshot of the whole display at the X level, into `artifacts/<name>.png` (`name` may
/// name a folder: `app/01-planned`).
pub fn screenshot(display: &str, name: &str) {
    let out = root().join("artifacts").join(format!("{name}.png"));
    std::fs::create_dir_all(out.parent().expect("folder")).expect("artifacts dir");
    let ok = Command::new("import")
        .args(["-display", display, "-window", "root"])
        .arg(&out)
        .status()
        .map(|s| s.success());
    assert!(matches!(ok, Ok(true)), "screenshot {name} failed");
}

pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(40));
    }
    start.elapsed()
}

/// What a script returns in the page, as text.
pub fn page(s: &Session, script: &str) -> String {
    s.execute(script)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The app in a window of its own X display and D-Bus session; closed when dropped.
pub struct Window {
    pub session: Session,
    pub display: String,
    /// When the WebDriver session was asked for (the app's launch).
    pub launched: Instant,
    // Dropped in this order: the driver (and the app), then the bus and the display.
    _driver: Proc,
    _bus: Proc,
    _x: Proc,
}

impl Window {
    /// Starts the app with `env` added to its environment (its data and configuration folders,
    /// the stack to open...), `SIRIUS_DECK_LOG=debug`, and the display's variables.
    pub fn open(env: &[(&str, OsString)]) -> Window {
        let app = app_binary();
        let (x, display) = xvfb();
        let (bus, address) = dbus();
        let free_port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .expect("port")
                .local_addr()
                .expect("addr")
                .port()
        };
        let (port, native) = (free_port(), free_port());
        let driver = Proc(
            Command::new(tool("tauri-driver"))
                .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
                .env("DISPLAY", &display)
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
                .env("NO_AT_BRIDGE", "1")
                .env("SIRIUS_DECK_LOG", "debug")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("tauri-driver starts"),
        );
        let server = format!("http://127.0.0.1:{port}");
        wait_until("tauri-driver to listen", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let launched = Instant::now();
        // tauri-driver listens before WebKitWebDriver behind it is ready: retry for a while.
        let mut last = String::new();
        for _ in 0..20 {
            match Session::start(&server, app.to_str().expect("utf8")) {
                Ok(session) => {
                    return Window {
                        session,
                        display,
                        launched,
                        _driver: driver,
                        _bus: bus,
                        _x: x,
                    }
                }
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("no WebDriver session: {last}");
    }

    /// Ends the session (the app quits), then the rest.
    pub fn close(self) {
        self.session.close();
    }
}
