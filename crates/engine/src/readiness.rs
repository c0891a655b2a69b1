//! Readiness at the speed of the service, not of the health check interval.
//!
//! Docker marks a container healthy only at its first health check interval (30 s for several
//! Sirius services). While waiting, we run the service's own health check command in the
//! container (exec) at short intervals with its timeout, and take the first success as ready;
//! Docker's own health status is read beside it and counts too.

use crate::event::FailureReport;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use deck_compose::Healthcheck;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// How readiness was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Probe,
    Docker,
}

const FIRST_PROBE_GAP: Duration = Duration::from_millis(100);
const MAX_PROBE_GAP: Duration = Duration::from_secs(1);
const KEPT_OUTPUTS: usize = 5;

/// The argv that runs a compose health test, or `None` for `NONE`.
pub fn probe_command(test: &[String]) -> Option<Vec<String>> {
    match test.first().map(String::as_str) {
        Some("CMD") => Some(test[1..].to_vec()),
        Some("CMD-SHELL") => Some(vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")]),
        _ => None,
    }
}

/// The probe, bounded inside the container: a shell runs it in the background and kills it at
/// its timeout. The engine offers no way to end an exec, and a probe that hangs (a request to a
/// service that does not answer) would keep running there after we stopped waiting for it.
pub fn bounded(cmd: &[String], timeout: Duration) -> Vec<String> {
    let secs = timeout.as_secs_f64().ceil().max(1.0) as u64;
    // No process it starts may be left for the container's PID 1 to reap: PostgreSQL's
    // postmaster (PID 1 in its image) takes any child that dies of a signal or exits above 1 for
    // a crashed backend, and restarts the whole server. So every process is waited for by its
    // parent. The shell starts a timer (`sleep`) and the probe (in a subshell that stops the
    // timer when the probe ends), and waits for the timer: no signal has to interrupt a `wait`.
    // A timer that ran out means the probe timed out: it is killed from its leaves up (`k`,
    // through /proc), each process while its parent still waits for it. The shell's own
    // messages go nowhere; the probe's stderr is kept (fd 3).
    let script = format!(
        "exec 3>&2 2>/dev/null; \
         k() {{ local p=$1 s t c; for s in /proc/[0-9]*/stat; do read -r t < \"$s\" || continue; t=${{t##*) }}; set -- $t; \
         if [ \"$2\" = \"$p\" ]; then c=${{s#/proc/}}; k \"${{c%/stat}}\"; fi; done; kill -KILL \"$p\"; }}; \
         sleep {secs} & s=$!; ( \"$@\" 2>&3 3>&-; r=$?; kill $s; exit $r ) & q=$!; \
         wait $s && k $q; wait $q"
    );
    let mut out = vec!["/bin/sh".to_string(), "-c".into(), script, "sh".into()];
    out.extend(cmd.iter().cloned());
    out
}

/// Whether a bounded probe could not start because the image has no `/bin/sh`.
fn no_shell(code: i64, output: &str) -> bool {
    // The runtime's words, not a shell's ("/bin/sh: 1: curl: not found" is the probe's own).
    (code == 126 || code == 127) && output.contains("exec: \"/bin/sh\"")
}

/// Why a probe could not run: the engine refused it (`message`), or could not be reached.
pub struct ExecError {
    pub message: String,
    pub engine_lost: bool,
}

impl From<bollard::errors::Error> for ExecError {
    fn from(e: bollard::errors::Error) -> Self {
        ExecError {
            engine_lost: crate::lost_connection(&e),
            message: crate::describe(&e),
        }
    }
}

/// Runs a command in a container; its exit code and (bounded) output.
pub async fn exec(
    docker: &Docker,
    container: &str,
    cmd: Vec<String>,
    timeout: Duration,
) -> Result<(i64, String), ExecError> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions::<String> {
                cmd: Some(cmd),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let run = async {
        let mut out = String::new();
        if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&created.id, None).await? {
            while let Some(chunk) = output.next().await {
                if let Ok(c) = chunk {
                    if out.len() < 4096 {
                        out.push_str(&c.to_string());
                    }
                }
            }
        }
        Ok::<_, ExecError>(out)
    };
    let started = Instant::now();
    let timed_out = || format!("health check timed out after {}s", timeout.as_secs_f32());
    // A bounded probe ends itself at `timeout`: the grace is for the kill to be seen.
    let out = match tokio::time::timeout(timeout + Duration::from_secs(2), run).await {
        Ok(r) => r?,
        Err(_) => return Ok((-1, timed_out())),
    };
    let code = docker.inspect_exec(&created.id).await?.exit_code.unwrap_or(-1);
    let out = out.trim().to_string();
    // Killed at its timeout (its shell may have gone on to fail on its own, as in `a || exit 1`).
    if code != 0 && started.elapsed() >= timeout {
        let out = if out.is_empty() {
            timed_out()
        } else {
            format!("{}: {out}", timed_out())
        };
        return Ok((-1, out));
    }
    Ok((code, out))
}

/// The last `n` log lines of a container.
pub async fn last_logs(docker: &Docker, container: &str, n: usize) -> Vec<String> {
    let opts = LogsOptions {
        stdout: true,
        stderr: true,
        tail: n.to_string(),
        ..Default::default()
    };
    let mut stream = docker.logs(container, Some(opts));
    let mut lines = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        lines.extend(chunk.to_string().lines().map(str::to_string));
    }
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

pub async fn report(
    docker: &Docker,
    service: &str,
    container: &str,
    reason: String,
    health_output: Vec<String>,
) -> FailureReport {
    FailureReport {
        service: service.to_string(),
        reason,
        health_output,
        logs: last_logs(docker, container, 20).await,
    }
}

/// What one inspect says about a container that is being waited for.
enum Observed {
    Running { docker_health: String },
    Healthy,
    Gone { why: String, docker_log: Vec<String> },
}

async fn observe(docker: &Docker, container: &str) -> Result<Observed, String> {
    let inspect = docker
        .inspect_container(container, None)
        .await
        .map_err(|e| crate::describe(&e))?;
    let state = inspect.state.unwrap_or_default();
    let health = state.health.as_ref().and_then(|h| h.status);
    if matches!(
        state.status,
        Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
    ) {
        let why = if state.oom_killed == Some(true) {
            "was killed for exceeding its memory limit (out of memory)".to_string()
        } else {
            format!("exited with code {}", state.exit_code.unwrap_or(-1))
        };
        let docker_log = state
            .health
            .and_then(|h| h.log)
            .map(|log| {
                log.into_iter()
                    .filter_map(|r| r.output.map(|o| o.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Observed::Gone { why, docker_log });
    }
    if health == Some(HealthStatusEnum::HEALTHY) {
        return Ok(Observed::Healthy);
    }
    Ok(Observed::Running {
        docker_health: health.map(|h| h.to_string()).unwrap_or_default(),
    })
}

/// Waits until the container passes its health check (probe or Docker's own), fails, or the
/// deadline passes. `on_docker_status` hears Docker's own health status as it changes.
pub async fn wait_healthy(
    docker: &Docker,
    service: &str,
    container: &str,
    hc: &Healthcheck,
    deadline: Instant,
    mut on_docker_status: impl FnMut(&str),
) -> Result<Via, FailureReport> {
    let started = Instant::now();
    let cmd = probe_command(&hc.test);
    let mut shell = true;
    let probe_timeout = hc.timeout.unwrap_or(Duration::from_secs(30));
    let mut outputs: Vec<String> = Vec::new();
    let mut gap = FIRST_PROBE_GAP;
    let mut last_status = String::new();
    loop {
        match observe(docker, container).await {
            Ok(Observed::Healthy) => return Ok(Via::Docker),
            Ok(Observed::Gone { why, mut docker_log }) => {
                docker_log.append(&mut outputs);
                return Err(report(docker, service, container, why, last_n(docker_log)).await);
            }
            Ok(Observed::Running { docker_health }) => {
                if docker_health != last_status {
                    on_docker_status(&docker_health);
                    last_status = docker_health;
                }
            }
            Err(e) => {
                return Err(report(
                    docker,
                    service,
                    container,
                    format!("cannot inspect its container: {e}"),
                    outputs,
                )
                .await)
            }
        }
        if let Some(cmd) = &cmd {
            let remaining = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100));
            let timeout = probe_timeout.min(remaining);
            let argv = if shell { bounded(cmd, timeout) } else { cmd.clone() };
            let mut run = exec(docker, container, argv, timeout).await;
            if shell && matches!(&run, Ok((code, out)) if no_shell(*code, out)) {
                // An image without a shell: the probe runs as it is, from now on.
                shell = false;
                run = exec(docker, container, cmd.clone(), timeout).await;
            }
            match run {
                Ok((0, _)) => return Ok(Via::Probe),
                Ok((code, out)) => outputs.push(if out.is_empty() {
                    format!("exit code {code}")
                } else {
                    out
                }),
                // The engine went away: that is the failure, not the health check's output.
                Err(e) if e.engine_lost => {
                    return Err(report(docker, service, container, e.message, outputs).await);
                }
                Err(e) => outputs.push(e.message),
            }
            outputs = last_n(outputs);
        }
        if Instant::now() >= deadline {
            let reason = format!("its health check did not pass within {}s", started.elapsed().as_secs());
            return Err(report(docker, service, container, reason, outputs).await);
        }
        tokio::time::sleep(gap.min(deadline.saturating_duration_since(Instant::now()))).await;
        gap = (gap * 3 / 2).min(MAX_PROBE_GAP);
    }
}

fn last_n(mut v: Vec<String>) -> Vec<String> {
    let skip = v.len().saturating_sub(KEPT_OUTPUTS);
    v.split_off(skip)
}

/// Waits for a one-shot container to exit; success is exit code 0.
pub async fn wait_exit(
    docker: &Docker,
    service: &str,
    container: &str,
    deadline: Instant,
) -> Result<(), FailureReport> {
    let mut stream = docker.wait_container(container, None);
    let wait = tokio::time::timeout_at(deadline.into(), stream.next());
    let reason = match wait.await {
        Ok(Some(Ok(r))) if r.status_code == 0 => return Ok(()),
        Ok(Some(Ok(r))) => format!("exited with code {}", r.status_code),
        Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => {
            format!("exited with code {code}")
        }
        Ok(Some(Err(e))) => format!("waiting for it to finish failed: {}", crate::describe(&e)),
        Ok(None) => "the engine stopped reporting on it".into(),
        Err(_) => "it did not finish in time".into(),
    };
    Err(report(docker, service, container, reason, Vec::new()).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many processes have a /proc/PID/`file` that passes `keep`.
    fn count(file: &str, keep: impl Fn(&[u8]) -> bool) -> usize {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| std::fs::read(e.path().join(file)).is_ok_and(|c| keep(&c)))
            .count()
    }

    /// Processes whose command line is exactly `argv`.
    fn running(argv: &[&str]) -> usize {
        let wanted: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
        count("cmdline", |c| c == wanted)
    }

    /// Live processes of the process group `group` (a zombie has ended: it only waits for its
    /// parent, here PID 1, to reap it).
    fn in_group(group: u32) -> usize {
        count("stat", |stat| {
            // pid (comm) state ppid pgrp ...
            let stat = String::from_utf8_lossy(stat);
            let mut fields = stat
                .rsplit_once(") ")
                .map(|(_, rest)| rest.split(' '))
                .into_iter()
                .flatten();
            let state = fields.next();
            state != Some("Z") && fields.nth(1).and_then(|g| g.parse::<u32>().ok()) == Some(group)
        })
    }

    /// Runs it in a process group of its own: its exit code, how long it took, and how many of
    /// its processes outlived it (orphans, that the container's PID 1 would reap).
    fn run(argv: Vec<String>) -> (Option<i32>, Duration, usize) {
        use std::os::unix::process::CommandExt;
        let started = Instant::now();
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .process_group(0)
            .spawn()
            .expect("/bin/sh runs");
        let group = child.id();
        let status = child.wait().expect("wait");
        let took = started.elapsed();
        // What was killed ends within moments (longer on a loaded machine).
        let end = Instant::now() + Duration::from_secs(3);
        while in_group(group) > 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        (status.code(), took, in_group(group))
    }

    #[test]
    fn a_bounded_probe_ends_at_its_timeout_and_leaves_nothing_behind() {
        // A probe that hangs: killed at its timeout, exit code 137.
        let hang = format!("29.{}", std::process::id());
        let (code, took, left) = run(bounded(&["sleep".into(), hang.clone()], Duration::from_millis(1500)));
        assert_eq!(code, Some(137));
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert_eq!(running(&["sleep", &hang]), 0, "the probe was left running");
        assert_eq!(left, 0, "processes outlived the probe");
        // A shell probe whose command forks (a pipeline, `||`): the whole tree ends.
        let deep = format!("28.{}", std::process::id());
        let probe = format!("sleep {deep} || exit 1");
        let (code, took, left) = run(bounded(&["/bin/sh".into(), "-c".into(), probe], Duration::from_secs(1)));
        assert_ne!(code, Some(0));
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(4),
            "{took:?}"
        );
        assert_eq!(running(&["sleep", &deep]), 0, "the probe's child was left running");
        assert_eq!(left, 0, "processes outlived the probe");
        // A probe that ends first: its own exit code, at once, and nothing outlives it (the
        // watcher and its sleep were waited for).
        for _ in 0..20 {
            let (code, took, left) = run(bounded(
                &["sh".into(), "-c".into(), "exit 3".into()],
                Duration::from_secs(17),
            ));
            assert_eq!(code, Some(3));
            assert!(took < Duration::from_secs(2), "{took:?}");
            assert_eq!(left, 0, "processes outlived the probe");
        }
    }

    #[test]
    fn an_image_without_a_shell_is_told_apart_from_a_failing_probe() {
        let oci = "OCI runtime exec failed: exec failed: unable to start container process: exec: \"/bin/sh\": stat /bin/sh: no such file or directory: unknown";
        assert!(no_shell(126, oci));
        assert!(!no_shell(1, "curl: (7) Failed to connect"));
        assert!(!no_shell(127, "/bin/sh: 1: curl: not found"));
    }
}
