//! What backups ask of the engine beyond `deck-engine`: commands streamed in and out of a
//! service's own container, and short-lived helper containers that mount one volume so that it
//! can be read and written through the archive API (never started to read; started only to
//! empty the volume before a restore). Helpers use an image the stack already has, so nothing
//! is pulled.

use crate::BackupError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, ListContainersOptions};
use bollard::Docker;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// Where a helper mounts its volume.
pub const MOUNT: &str = "/sirius-deck-volume";
pub const HELPER_LABEL: &str = "dev.siriusdeck.helper";
/// The process that made a helper.
pub const HELPER_PID_LABEL: &str = "dev.siriusdeck.helper.pid";
const STDERR_KEEP: usize = 8 * 1024;

fn docker_err(what: String) -> impl FnOnce(bollard::errors::Error) -> BackupError {
    move |e| BackupError::Failed(format!("{what}: {}", deck_engine::describe(&e)))
}

/// A shell that sets PGPASSWORD from the container's own environment (never from ours), then
/// runs the PostgreSQL tool given in its arguments.
pub fn pg_command(args: &[&str]) -> Vec<String> {
    let script = "if [ -n \"${POSTGRES_PASSWORD_FILE:-}\" ]; then PGPASSWORD=\"$(cat \"$POSTGRES_PASSWORD_FILE\")\"; \
                  else PGPASSWORD=\"${POSTGRES_PASSWORD:-}\"; fi; export PGPASSWORD; exec \"$@\"";
    let mut cmd = vec!["sh".to_string(), "-c".into(), script.into(), "sh".into()];
    cmd.extend(args.iter().map(|a| a.to_string()));
    cmd
}

async fn create_exec(docker: &Docker, container: &str, cmd: Vec<String>, stdin: bool) -> Result<String, BackupError> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd),
                attach_stdin: Some(stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(docker_err(format!("running a command in {container}")))?;
    Ok(created.id)
}

async fn exit_code(docker: &Docker, exec: &str) -> Result<i64, BackupError> {
    let info = docker
        .inspect_exec(exec)
        .await
        .map_err(docker_err("reading a command's exit code".into()))?;
    Ok(info.exit_code.unwrap_or(-1))
}

fn keep_tail(buf: &mut String, more: &[u8]) {
    buf.push_str(&String::from_utf8_lossy(more));
    if buf.len() > STDERR_KEEP {
        let cut = buf.len() - STDERR_KEEP;
        let cut = (cut..buf.len()).find(|i| buf.is_char_boundary(*i)).unwrap_or(buf.len());
        buf.drain(..cut);
    }
}

/// Runs a short command in a container: its exit code, standard output and error.
pub async fn exec_text(
    docker: &Docker,
    container: &str,
    cmd: Vec<String>,
) -> Result<(i64, String, String), BackupError> {
    let id = create_exec(docker, container, cmd, false).await?;
    let mut out = String::new();
    let mut err = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&id, None)
        .await
        .map_err(docker_err(format!("running a command in {container}")))?
    {
        while let Some(chunk) = output.next().await {
            match chunk.map_err(docker_err(format!("reading a command's output in {container}")))? {
                bollard::container::LogOutput::StdOut { message } => keep_tail(&mut out, &message),
                bollard::container::LogOutput::StdErr { message } => keep_tail(&mut err, &message),
                _ => {}
            }
        }
    }
    Ok((exit_code(docker, &id).await?, out, err))
}

/// The standard output of a command as a stream, and a handle that gives its exit code and the
/// end of its standard error once the stream has ended.
pub struct OutStream {
    pub stream: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>,
    exec: String,
    stderr: Arc<Mutex<String>>,
}

impl OutStream {
    pub async fn finish(self, docker: &Docker) -> Result<(), BackupError> {
        drop(self.stream);
        let code = exit_code(docker, &self.exec).await?;
        if code != 0 {
            let err = self.stderr.lock().map(|s| s.trim().to_string()).unwrap_or_default();
            return Err(BackupError::Failed(format!("exited with code {code}: {err}")));
        }
        Ok(())
    }
}

pub async fn exec_out(docker: &Docker, container: &str, cmd: Vec<String>) -> Result<OutStream, BackupError> {
    let exec = create_exec(docker, container, cmd, false).await?;
    let StartExecResults::Attached { output, .. } = docker
        .start_exec(
            &exec,
            Some(StartExecOptions {
                output_capacity: Some(1 << 20),
                ..Default::default()
            }),
        )
        .await
        .map_err(docker_err(format!("running a command in {container}")))?
    else {
        return Err(BackupError::Failed(
            "the engine detached a command it was asked to attach".into(),
        ));
    };
    let stderr = Arc::new(Mutex::new(String::new()));
    let errs = stderr.clone();
    let stream = output.filter_map(move |chunk| {
        let out = match chunk {
            Ok(bollard::container::LogOutput::StdOut { message }) => Some(Ok(message)),
            Ok(bollard::container::LogOutput::StdErr { message }) => {
                if let Ok(mut e) = errs.lock() {
                    keep_tail(&mut e, &message);
                }
                None
            }
            Ok(_) => None,
            Err(e) => Some(Err(format!(
                "reading the command's output: {}",
                deck_engine::describe(&e)
            ))),
        };
        std::future::ready(out)
    });
    Ok(OutStream {
        stream: Box::pin(stream),
        exec,
        stderr,
    })
}

/// Runs a command with `input` as its standard input; fails with the end of its standard error
/// when it exits non-zero.
pub async fn exec_in<S>(docker: &Docker, container: &str, cmd: Vec<String>, mut input: S) -> Result<(), BackupError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    let exec = create_exec(docker, container, cmd, true).await?;
    let StartExecResults::Attached {
        mut output,
        input: mut stdin,
    } = docker
        .start_exec(&exec, None)
        .await
        .map_err(docker_err(format!("running a command in {container}")))?
    else {
        return Err(BackupError::Failed(
            "the engine detached a command it was asked to attach".into(),
        ));
    };
    let reader = tokio::spawn(async move {
        let mut err = String::new();
        while let Some(Ok(chunk)) = output.next().await {
            if let bollard::container::LogOutput::StdErr { message }
            | bollard::container::LogOutput::StdOut { message } = chunk
            {
                keep_tail(&mut err, &message);
            }
        }
        err
    });
    let mut fed: Result<(), BackupError> = Ok(());
    while let Some(chunk) = input.next().await {
        let written = match chunk {
            Ok(bytes) => stdin.write_all(&bytes).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("reading the backup file: {e}")),
        };
        if let Err(e) = written {
            fed = Err(BackupError::Failed(e));
            break;
        }
    }
    let _ = stdin.shutdown().await;
    drop(stdin);
    let err = reader.await.unwrap_or_default();
    let code = exit_code(docker, &exec).await?;
    if code != 0 {
        return Err(BackupError::Failed(format!("exited with code {code}: {}", err.trim())));
    }
    fed
}

/// Creates (does not start) a helper container from `image` with `volume` mounted at MOUNT;
/// started, it empties the volume.
pub async fn create_helper(docker: &Docker, image: &str, volume: &str) -> Result<String, BackupError> {
    // Named after this process too: backups of other stacks may run beside this one.
    let pid = std::process::id();
    let name = format!("sirius-deck-helper-{volume}-{pid}");
    remove_helper(docker, &name).await;
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec![
            "find".into(),
            MOUNT.into(),
            "-mindepth".into(),
            "1".into(),
            "-delete".into(),
        ]),
        cmd: Some(vec![]),
        user: Some("0:0".into()),
        labels: Some(deck_engine::helper_labels([
            (HELPER_LABEL.to_string(), volume.to_string()),
            (HELPER_PID_LABEL.to_string(), pid.to_string()),
        ])),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{volume}:{MOUNT}")]),
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body,
        )
        .await
        .map_err(docker_err(format!("creating a helper container for volume {volume}")))?;
    Ok(name)
}

pub async fn remove_helper(docker: &Docker, name: &str) {
    let _ = docker
        .remove_container(
            name,
            Some(bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
}

/// Removes helpers left by an interrupted run: those whose process is gone (a helper of a
/// backup that runs now, of another stack, is left alone).
pub async fn remove_stale_helpers(docker: &Docker) {
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), vec![HELPER_LABEL.to_string()])])),
            ..Default::default()
        }))
        .await
        .unwrap_or_default();
    for c in list {
        let pid = c.labels.as_ref().and_then(|l| l.get(HELPER_PID_LABEL));
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if let (Some(id), false) = (c.id, alive) {
            remove_helper(docker, &id).await;
        }
    }
}

/// Starts a helper and waits for it: it empties its volume.
pub async fn empty_volume(docker: &Docker, helper: &str, volume: &str) -> Result<(), BackupError> {
    docker
        .start_container(helper, None)
        .await
        .map_err(docker_err(format!("emptying volume {volume}")))?;
    let mut wait = docker.wait_container(helper, None);
    let mut code = 0;
    while let Some(r) = wait.next().await {
        match r {
            Ok(w) => code = w.status_code,
            Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
            Err(e) => {
                return Err(BackupError::Failed(format!(
                    "emptying volume {volume}: {}",
                    deck_engine::describe(&e)
                )))
            }
        }
    }
    if code != 0 {
        return Err(BackupError::Failed(format!(
            "emptying volume {volume}: `find -delete` exited with code {code}"
        )));
    }
    Ok(())
}

/// The image to make a volume's helper from: the first of `images` (its users') that is here.
pub async fn helper_image(docker: &Docker, images: &[String]) -> Option<String> {
    for image in images {
        if docker.inspect_image(image).await.is_ok() {
            return Some(image.clone());
        }
    }
    None
}

pub async fn volume_exists(docker: &Docker, name: &str) -> bool {
    docker.inspect_volume(name).await.is_ok()
}

/// The bytes of files in a volume, for progress: summed from its folder on this machine when
/// it can be read (a local engine, run as root); `None` otherwise.
pub async fn volume_size(docker: &Docker, name: &str) -> Option<u64> {
    let mountpoint = docker.inspect_volume(name).await.ok()?.mountpoint;
    tokio::task::spawn_blocking(move || du(std::path::Path::new(&mountpoint)))
        .await
        .ok()
        .flatten()
}

fn du(path: &std::path::Path) -> Option<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(path).ok()? {
        let e = e.ok()?;
        let meta = e.path().symlink_metadata().ok()?;
        total += if meta.is_dir() { du(&e.path())? } else { meta.len() };
    }
    Some(total)
}
