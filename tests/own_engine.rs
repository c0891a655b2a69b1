//! A Docker engine of a test's own, to be killed: its own data root, socket, network namespace
//! and containerd (the one dockerd starts when the host runs none; with a system containerd,
//! its own namespaces in it), beside the engine the other tests share (which a kill would take
//! from them).
//! The images it runs are copied in from the shared engine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct OwnEngine {
    dir: PathBuf,
    /// Its number, which names its network namespace.
    n: u8,
    child: Child,
    /// Whether the host had the shared engine's bridge when it started.
    had_docker0: bool,
}

impl OwnEngine {
    /// Starts an engine in a fresh folder named after `name`, and copies `images` into it.
    pub fn start(name: &str, n: u8, images: &[&str]) -> OwnEngine {
        let dir = std::env::temp_dir().join(format!("sirius-deck-test-engine-{name}"));
        clean_up(&dir, n);
        let _ = std::fs::remove_file(dir.with_extension("log"));
        std::fs::create_dir_all(&dir).expect("engine folder");
        let made = Command::new("ip")
            .args(["netns", "add", &netns(n)])
            .status()
            .expect("ip netns (the tests run as root)");
        assert!(made.success(), "creating the network namespace {}", netns(n));
        let lo = Command::new("ip")
            .args(["-n", &netns(n), "link", "set", "lo", "up"])
            .status()
            .expect("ip link");
        assert!(lo.success());
        let had_docker0 = Path::new("/sys/class/net/docker0").exists();
        let child = spawn(&dir, n);
        let engine = OwnEngine {
            dir,
            n,
            child,
            had_docker0,
        };
        engine.wait_ready();
        let mut save = Command::new("docker")
            .arg("save")
            .args(images)
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let loaded = engine
            .docker()
            .args(["load", "-q"])
            .stdin(save.stdout.take().expect("stdout"))
            .stdout(Stdio::null())
            .status()
            .expect("docker load");
        assert!(
            save.wait().expect("docker save").success() && loaded.success(),
            "copying {images:?}"
        );
        engine
    }

    /// Its address, as `DOCKER_HOST` takes it.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("sock").display())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `docker` talking to this engine.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host());
        c
    }

    /// After it was killed: reaps it, waits until its containerd has gone with it, and starts it
    /// again on the same data (without live restore, it stops the containers left running).
    pub fn restart(&mut self) {
        let status = self.child.wait().expect("dockerd was killed");
        assert!(!status.success(), "dockerd ended on its own: {status:?}");
        let containerd = self.dir.join("exec/containerd/containerd.pid");
        if let Some(pid) = std::fs::read_to_string(&containerd)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            wait_gone(pid);
        }
        // (A zombie that nobody reaped yet would pass for a containerd still running.)
        let _ = std::fs::remove_file(&containerd);
        let _ = std::fs::remove_file(self.dir.join("pid"));
        self.child = spawn(&self.dir, self.n);
        self.wait_ready();
        // The shared engine's default bridge is still there (a dockerd restarted outside its
        // own network namespace deletes it).
        assert!(
            !self.had_docker0 || Path::new("/sys/class/net/docker0").exists(),
            "restarting the test's engine deleted the shared engine's docker0"
        );
    }

    /// Where its log is kept (it outlives the engine's folder).
    fn log(&self) -> PathBuf {
        self.dir.with_extension("log")
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let up = self
                .docker()
                .args(["version", "--format", "{{.Server.Version}}"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if up {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the test's own dockerd did not start: see {}", self.log().display());
    }
}

impl Drop for OwnEngine {
    fn drop(&mut self) {
        // Stopped as systemd stops it (its containers with it), then its folder removed.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        clean_up(&self.dir, self.n);
    }
}

fn spawn(dir: &Path, n: u8) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.with_extension("log"))
        .expect("dockerd's log");
    // In a network namespace of its own: its bridges, addresses and firewall rules stay out of
    // the shared engine's way (a dockerd that finds a stale default bridge on start deletes the
    // interface docker0, whoever it belongs to).
    let mut dockerd = Command::new("nsenter");
    dockerd
        .arg(format!("--net=/var/run/netns/{}", netns(n)))
        .arg("--")
        .arg("dockerd")
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("pid"))
        .arg("-H")
        .arg(format!("unix://{}", dir.join("sock").display()))
        // Its own namespaces in containerd, should it find a system containerd to share.
        .args(["--containerd-namespace", &netns(n)])
        .args(["--containerd-plugins-namespace", &format!("{}-plugins", netns(n))]);
    // Its containers in the cgroup the test runs in, when the test command gave it one (the
    // crash matrix's lower share of the CPU, scripts/test.sh); by default, beside the shared
    // engine's.
    if let Some(cgroup) = std::env::var_os("SIRIUS_DECK_TEST_CGROUP") {
        dockerd.arg("--cgroup-parent").arg(cgroup);
    }
    dockerd
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("dockerd (the tests run as root)")
}

/// Waits until process `pid` has exited (gone, or a zombie).
fn wait_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if matches!(deck_tests::process_state(pid), None | Some('Z' | 'X')) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("process {pid} did not exit");
}

/// The network namespace of the engine numbered `n`.
fn netns(n: u8) -> String {
    format!("sirius-deck-test-{n}")
}

/// Stops an engine a killed test run left in `dir`, unmounts what it left mounted, and removes
/// the folder and the engine's network namespace.
fn clean_up(dir: &Path, n: u8) {
    if let Some(pid) = std::fs::read_to_string(dir.join("pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    {
        // (Only if that process is still a dockerd: after a reboot the number is someone else's.)
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).starts_with("dockerd") {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            wait_gone(pid);
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let prefix = dir.display().to_string();
    let mut under: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    under.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in under {
        let _ = Command::new("umount").args(["-l", m]).status();
    }
    let _ = std::fs::remove_dir_all(dir);
    let _ = Command::new("ip")
        .args(["netns", "del", &netns(n)])
        .stderr(Stdio::null())
        .status();
}
