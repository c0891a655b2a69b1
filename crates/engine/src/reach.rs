//! Whether a service reaches what it depends on, asked from inside it: for each dependency
//! edge, a TCP connect from the dependent container to the dependency's service name and port.
//! Nothing is assumed in the image beyond a shell: `getent` for the name when there is one, then
//! bash's `/dev/tcp` or `nc`; an image with neither is checked from a helper container that
//! shares the dependent's network namespace (so the same names and networks), made from the
//! dependency's own image.

use crate::{labels, Context, Engine, EngineError};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use deck_compose::Project;
use futures_util::StreamExt;
use serde::Serialize;
use ts_rs::TS;

/// What a connect from the dependent to the dependency found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[ts(export)]
pub enum Reach {
    /// The port answered.
    Reachable { port: u16 },
    /// The name resolves, nothing listens on the port.
    Refused { port: u16 },
    /// The dependency's name does not resolve from the dependent (not on a shared network).
    NoName,
    /// No answer within the time (a firewall, no route).
    Unreachable { port: u16, detail: String },
    /// Not checked, and why (the dependent is not running, no TCP port is known).
    Unchecked { why: String },
}

impl Reach {
    /// Whether the dependent can connect.
    pub fn ok(&self) -> bool {
        matches!(self, Reach::Reachable { .. })
    }
}

/// One dependency edge, checked.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct EdgeCheck {
    /// The dependent service.
    pub from: String,
    /// The service it depends on.
    pub to: String,
    pub reach: Reach,
    /// Where the connect ran: `exec` in the dependent, or `helper` beside it.
    pub via: Option<String>,
}

/// Seconds a connect may take.
const CONNECT_SECS: u32 = 3;

/// The check, as a POSIX shell script taking the host and the port. It prints one word:
/// `ok`, `refused`, `noname`, `notool`, or `unreachable <detail>`.
const SCRIPT: &str = r#"h="$1"; p="$2"
if command -v getent >/dev/null 2>&1 && ! getent hosts "$h" >/dev/null 2>&1; then echo noname; exit 0; fi
t=""; command -v timeout >/dev/null 2>&1 && t="timeout SECS"
if command -v bash >/dev/null 2>&1; then out=$($t bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>&1); rc=$?
elif command -v nc >/dev/null 2>&1; then out=$($t nc -z -w SECS "$h" "$p" 2>&1); rc=$?
else echo notool; exit 0; fi
if [ "$rc" = 0 ]; then echo ok; exit 0; fi
case "$out" in
  *refused*) echo refused ;;
  *"not known"*|*"resolve"*|*"Unknown host"*) echo noname ;;
  *) [ "$rc" = 124 ] && out="no answer in SECS s"; echo "unreachable $out" ;;
esac"#;

fn script() -> String {
    SCRIPT.replace("SECS", &CONNECT_SECS.to_string())
}

/// What the script printed, as a result.
fn parse(out: &str, port: u16) -> Option<Reach> {
    let out = out.trim();
    let (word, rest) = out.split_once(' ').unwrap_or((out, ""));
    Some(match word {
        "ok" => Reach::Reachable { port },
        "refused" => Reach::Refused { port },
        "noname" => Reach::NoName,
        "unreachable" => Reach::Unreachable {
            port,
            detail: rest.lines().last().unwrap_or_default().trim().to_string(),
        },
        _ => return None,
    })
}

/// The TCP port a dependency listens on: its first published or exposed TCP port in the
/// compose file, else the lowest its container exposes (its image's `EXPOSE`).
fn compose_port(project: &Project, service: &str) -> Option<u16> {
    let svc = project.services.get(service)?;
    svc.ports
        .iter()
        .find(|p| p.protocol == "tcp")
        .map(|p| p.target)
        .or_else(|| {
            svc.expose.iter().find_map(|e| {
                let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
                (proto == "tcp").then(|| port.split('-').next()?.parse().ok()).flatten()
            })
        })
}

impl Engine {
    /// Runs a command in a running container; its exit code and output (both streams).
    async fn run_in(&self, container: &str, cmd: Vec<String>) -> Result<(i64, String), EngineError> {
        let what = || format!("running a check in {container}");
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .context(what)?;
        let mut out = String::new();
        if let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&created.id, None).await.context(what)?
        {
            while let Some(Ok(chunk)) = output.next().await {
                out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        }
        let code = self.docker.inspect_exec(&created.id).await.context(what)?.exit_code;
        Ok((code.unwrap_or(-1), out))
    }

    /// Runs the check in a helper container of `image` in `network` (a network mode:
    /// `container:<id>` or a network's name); its output, or none when the image has no shell
    /// either.
    pub(crate) async fn run_beside(
        &self,
        network: &str,
        image: &str,
        cmd: Vec<String>,
    ) -> Result<Option<String>, EngineError> {
        let what = || format!("checking from a helper on {network}");
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: Some(cmd),
            labels: Some(labels::helper([(labels::CHECK.to_string(), network.to_string())])),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(None::<bollard::query_parameters::CreateContainerOptions>, body)
            .await
            .context(what)?;
        let result = async {
            // An image without a shell fails to start (the engine cannot find `sh`).
            let started = self
                .docker
                .start_container(&created.id, None::<bollard::query_parameters::StartContainerOptions>)
                .await;
            if started.is_err() {
                return Ok(None);
            }
            let mut wait = self
                .docker
                .wait_container(&created.id, None::<bollard::query_parameters::WaitContainerOptions>);
            let code = match wait.next().await {
                Some(Ok(w)) => w.status_code,
                // The engine reports a non-zero exit as an error of the wait.
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                Some(Err(e)) => return Err(e).context(what),
                None => -1,
            };
            if code == 126 || code == 127 {
                return Ok(None);
            }
            let opts = bollard::query_parameters::LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            };
            let mut logs = self.docker.logs(&created.id, Some(opts));
            let mut out = String::new();
            while let Some(Ok(chunk)) = logs.next().await {
                out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
            Ok(Some(out))
        }
        .await;
        let _ = crate::remove_container(&self.docker, &created.id).await;
        result
    }

    /// Checks the edge `from` → `to` of `project` from inside `from`'s first running container.
    pub async fn check_edge(&self, project: &Project, from: &str, to: &str) -> Result<EdgeCheck, EngineError> {
        let edge = |reach: Reach, via: Option<&str>| EdgeCheck {
            from: from.to_string(),
            to: to.to_string(),
            reach,
            via: via.map(str::to_string),
        };
        let waits_for = project.services.get(from).and_then(|s| s.depends_on.get(to));
        if waits_for.is_some_and(|d| d.condition == deck_compose::Condition::ServiceCompletedSuccessfully) {
            let why = format!("{to} runs once to completion: nothing listens for {from}");
            return Ok(edge(Reach::Unchecked { why }, None));
        }
        let replicas = self.replicas(&project.name, from).await?;
        let Some(dependent) = replicas.iter().find(|r| r.running).or(replicas.first()) else {
            let why = format!("{from} has no container: start it first");
            return Ok(edge(Reach::Unchecked { why }, None));
        };
        let targets = self.replicas(&project.name, to).await?;
        let port = match compose_port(project, to) {
            Some(p) => Some(p),
            None => match targets.first() {
                Some(t) => self.exposed_port(&t.id).await,
                None => None,
            },
        };
        let Some(port) = port else {
            let why = format!("{to} publishes or exposes no TCP port");
            return Ok(edge(Reach::Unchecked { why }, None));
        };
        let cmd = vec![
            "sh".to_string(),
            "-c".into(),
            script(),
            "sh".into(),
            to.to_string(),
            port.to_string(),
        ];
        // An image without a shell fails the exec itself (or exits 126/127).
        if dependent.running {
            if let Ok((0, out)) = self.run_in(&dependent.id, cmd.clone()).await {
                if let Some(reach) = parse(&out, port) {
                    return Ok(edge(reach, Some("exec")));
                }
            }
        }
        // No shell, no tool to connect with, or not running (a one-shot that has finished):
        // from a helper beside it, in its network namespace or on its network.
        let image = match targets.first() {
            Some(t) => t.image.clone(),
            None => dependent.image.clone(),
        };
        let network = match dependent.running {
            true => format!("container:{}", dependent.id),
            false => match self.first_network(&dependent.id).await {
                Some(n) => n,
                None => {
                    let why = format!("{from} is not running and is on no network");
                    return Ok(edge(Reach::Unchecked { why }, None));
                }
            },
        };
        let helped = self.run_beside(&network, &image, cmd).await?;
        Ok(match helped.as_deref().and_then(|o| parse(o, port)) {
            Some(reach) => edge(reach, Some("helper")),
            None => edge(
                Reach::Unchecked {
                    why: format!("neither {from}'s image nor {to}'s can run the check (a shell with bash or nc)"),
                },
                None,
            ),
        })
    }

    /// The first network a container is on (by name).
    async fn first_network(&self, container: &str) -> Option<String> {
        let c = self.docker.inspect_container(container, None).await.ok()?;
        c.network_settings?.networks?.into_keys().min()
    }

    /// The lowest TCP port a container exposes.
    async fn exposed_port(&self, container: &str) -> Option<u16> {
        let c = self.docker.inspect_container(container, None).await.ok()?;
        c.config?
            .exposed_ports?
            .iter()
            .filter_map(|p| p.strip_suffix("/tcp")?.parse().ok())
            .min()
    }

    /// Checks every dependency edge of `project` (or those out of `service`), in the order of
    /// the file.
    pub async fn check_edges(&self, project: &Project, service: Option<&str>) -> Result<Vec<EdgeCheck>, EngineError> {
        let mut checks = Vec::new();
        for (name, svc) in &project.services {
            if service.is_some_and(|s| s != name) {
                continue;
            }
            for to in svc.depends_on.keys() {
                checks.push(self.check_edge(project, name, to).await?);
            }
        }
        Ok(checks)
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Reach};

    #[test]
    fn what_the_check_prints_is_its_result() {
        assert_eq!(parse("ok\n", 5432), Some(Reach::Reachable { port: 5432 }));
        assert_eq!(parse("refused", 5432), Some(Reach::Refused { port: 5432 }));
        assert_eq!(parse("noname\n", 1), Some(Reach::NoName));
        assert_eq!(
            parse("unreachable no answer in 3 s\n", 80),
            Some(Reach::Unreachable {
                port: 80,
                detail: "no answer in 3 s".into()
            })
        );
        assert_eq!(parse("notool", 80), None);
        assert_eq!(parse("sh: 1: exec: not found", 80), None);
    }
}
