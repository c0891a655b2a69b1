//! An engine over SSH, reached as the docker CLI reaches it: each connection is the system's
//! `ssh` running `docker system dial-stdio` on the engine's machine (so `~/.ssh/config`, the
//! agent, ports and jump hosts work as they do for the user), served to the client on a socket
//! of our own. One SSH master connection is shared by them all (`ControlMaster`), so a request
//! costs a channel, not a login.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

/// The socket that stands for the remote engine, while it lives.
#[derive(Debug)]
pub(crate) struct Tunnel {
    /// Connect here to talk to the remote engine.
    pub socket: PathBuf,
    dir: PathBuf,
    control: Vec<String>,
    task: tokio::task::JoinHandle<()>,
    /// What `ssh` said when a connection failed last.
    last_error: Arc<Mutex<String>>,
}

impl Tunnel {
    /// Why the last connection failed, as ssh said it.
    pub fn last_error(&self) -> Option<String> {
        let e = self.last_error.lock().ok()?.trim().to_string();
        (!e.is_empty()).then_some(e)
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.task.abort();
        // The shared master connection ends with us.
        let _ = std::process::Command::new("ssh")
            .args(&self.control)
            .args(["-O", "exit", "sirius-deck"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `ssh` arguments for an `ssh://[user@]host[:port]` address.
fn destination(host: &str) -> Result<Vec<String>, String> {
    let rest = host.strip_prefix("ssh://").ok_or("not an ssh:// address")?;
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return Err("an ssh:// address takes no path: ssh://[USER@]HOST[:PORT]".into());
    }
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (name, port) = host_port(hostport)?;
    if name.is_empty() {
        return Err("the address names no host: ssh://[USER@]HOST[:PORT]".into());
    }
    let mut args = Vec::new();
    if let Some(u) = user {
        args.extend(["-l".to_string(), u.to_string()]);
    }
    if let Some(p) = port {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    args.extend(["--".to_string(), name.to_string()]);
    Ok(args)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`: the host (without brackets) and the port.
pub(crate) fn host_port(s: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let (h, after) = rest.split_once(']').ok_or_else(|| format!("{s}: a [ without ]"))?;
            (h, after.strip_prefix(':'))
        }
        None => match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (s, None),
        },
    };
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| format!("{p} is not a port")))
        .transpose()?;
    Ok((host, port))
}

/// Opens the socket for `host` (`ssh://…`); connections are made as the client asks.
pub(crate) fn open(host: &str) -> Result<Tunnel, String> {
    static N: AtomicU32 = AtomicU32::new(0);
    let target = destination(host)?;
    // The user's own runtime folder where there is one; a name nobody can guess beforehand.
    let base = std::env::var_os("XDG_RUNTIME_DIR").map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = base.join(format!(
        "sirius-deck-ssh-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let socket = dir.join("docker.sock");
    let control = vec![
        "-o".to_string(),
        format!("ControlPath={}", dir.join("master").display()),
    ];
    let mut args = control.clone();
    // No prompt can be answered here: a key (or the agent) must do, and the host must be
    // known (the user's own policy applies, as with the docker CLI). The shared connection
    // ends a minute after its last use, whatever becomes of this program.
    for o in [
        "ControlMaster=auto",
        "ControlPersist=60s",
        "BatchMode=yes",
        "ConnectTimeout=15",
        "ServerAliveInterval=15",
    ] {
        args.extend(["-o".to_string(), o.to_string()]);
    }
    args.push("-T".into());
    args.extend(target);
    args.extend(["docker", "system", "dial-stdio"].map(String::from));
    let listener = UnixListener::bind(&socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let last_error = Arc::new(Mutex::new(String::new()));
    let last = last_error.clone();
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve(conn, args.clone(), last.clone()));
        }
    });
    Ok(Tunnel {
        socket,
        dir,
        control,
        task,
        last_error,
    })
}

use std::os::unix::fs::DirBuilderExt;

/// One connection: bytes both ways between the client and `docker system dial-stdio`.
async fn serve(conn: tokio::net::UnixStream, args: Vec<String>, last_error: Arc<Mutex<String>>) {
    let spawned = tokio::process::Command::new("ssh")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            if let Ok(mut l) = last_error.lock() {
                *l = format!("cannot run ssh: {e} (install the OpenSSH client)");
            }
            return;
        }
    };
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return;
    };
    let said = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    let (mut from_client, mut to_client) = conn.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_client, &mut stdin).await;
        let _ = stdin.shutdown().await;
    });
    if tokio::io::copy(&mut stdout, &mut to_client).await.is_err() {
        // The client went away: nothing more will be read from ssh.
        let _ = child.start_kill();
    }
    up.abort();
    // What ssh said is kept before the client sees the connection close (it asks for it then).
    let status = child.wait().await;
    if !status.is_ok_and(|s| s.success()) {
        let text = said.await.unwrap_or_default();
        if let Ok(mut l) = last_error.lock() {
            *l = text;
        }
    }
    let _ = to_client.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn addresses() {
        assert_eq!(destination("ssh://host").expect("an address"), ["--", "host"]);
        assert_eq!(
            destination("ssh://root@127.0.0.1:2222").expect("an address"),
            ["-l", "root", "-p", "2222", "--", "127.0.0.1"]
        );
        assert_eq!(
            destination("ssh://me@[::1]:22/").expect("an address"),
            ["-l", "me", "-p", "22", "--", "::1"]
        );
        assert!(destination("ssh://host/var/run").is_err());
        assert!(destination("ssh://me@").is_err());
        assert!(destination("ssh://host:x").is_err());
        assert_eq!(destination("ssh://[::1]").expect("an address"), ["--", "::1"]);
    }
}
