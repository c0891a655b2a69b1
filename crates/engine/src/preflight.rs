//! What would fail, checked before anything is changed: host ports taken, images that cannot
//! be built or found, files that are gone, names held by containers of another stack.

use crate::labels::{PROJECT, SERVICE};
use crate::spec::image_ref;
use crate::{is_not_found, Context, EngineError};
use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;
use deck_compose::{MountType, Project};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub service: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.service {
            Some(s) => write!(f, "{s}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

struct Holder {
    container: String,
    project: Option<String>,
    service: Option<String>,
}

fn published_ports(published: &str) -> Vec<u16> {
    match published.split_once('-') {
        Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
            (Ok(a), Ok(b)) if a <= b => (a..=b).collect(),
            _ => vec![],
        },
        None => published.parse().ok().into_iter().collect(),
    }
}

fn free_on_host(ip: Option<&str>, port: u16, protocol: &str) -> bool {
    let ip = ip.unwrap_or("0.0.0.0");
    match protocol {
        "udp" => std::net::UdpSocket::bind((ip, port)).is_ok(),
        _ => std::net::TcpListener::bind((ip, port)).is_ok(),
    }
}

/// What a remote engine does differently for `services`: their bind mounts (and file secrets
/// and configs, which compose mounts the same way) name paths on the engine's machine, not on
/// this one. Said before anything changes.
pub fn remote_warnings(project: &Project, services: &[String]) -> Vec<Problem> {
    let mut out = Vec::new();
    for name in services {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        for m in svc.volumes.iter().filter(|m| m.kind == MountType::Bind) {
            out.push(Problem {
                service: Some(name.clone()),
                message: format!(
                    "services.{name}.volumes: {} is bound from the remote engine's machine, not from this one (the engine is remote): copy the files there, or use a named volume",
                    m.source.as_deref().unwrap_or("?")
                ),
            });
        }
        for r in svc.secrets.iter().chain(&svc.configs) {
            let obj = project
                .secrets
                .get(&r.source)
                .or_else(|| project.configs.get(&r.source));
            if let Some(file) = obj.and_then(|o| o.file.as_ref()) {
                out.push(Problem {
                    service: Some(name.clone()),
                    message: format!(
                        "services.{name}: {} (secret or config {}) is read on the remote engine's machine, not on this one",
                        file.display(),
                        r.source
                    ),
                });
            }
        }
    }
    out
}

/// Every problem that would make bringing up `services` of `project` fail.
/// With `replacing`, ports held by any container of the same project count as free (they are
/// taken down first, as when switching environments). On a `remote` engine, host ports and
/// files are that machine's: only what the engine itself holds is checked.
pub async fn check(
    docker: &Docker,
    project: &Project,
    services: &[String],
    replacing: bool,
    remote: bool,
) -> Result<Vec<Problem>, EngineError> {
    let mut problems = Vec::new();
    let mut problem = |service: &str, message: String| {
        problems.push(Problem {
            service: Some(service.to_string()),
            message,
        })
    };

    let running = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .context(|| "listing containers".into())?;
    let mut port_holders: HashMap<(u16, String), Holder> = HashMap::new();
    let mut names: HashMap<String, Holder> = HashMap::new();
    for c in running {
        let labels = c.labels.unwrap_or_default();
        let holder = || Holder {
            container: c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            project: labels.get(PROJECT).cloned(),
            service: labels.get(SERVICE).cloned(),
        };
        for p in c.ports.iter().flatten() {
            if let Some(public) = p.public_port {
                let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
                port_holders.insert((public, proto), holder());
            }
        }
        for n in c.names.iter().flatten() {
            names.insert(n.trim_start_matches('/').to_string(), holder());
        }
    }

    let built: BTreeSet<String> = project
        .services
        .iter()
        .filter(|(_, s)| s.build.is_some())
        .map(|(n, s)| image_ref(project, n, s))
        .collect();

    for name in services {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        let ours = |h: &Holder| {
            h.project.as_deref() == Some(project.name.as_str())
                && (replacing || h.service.as_deref() == Some(name.as_str()))
        };
        for p in &svc.ports {
            for port in p.published.as_deref().map(published_ports).unwrap_or_default() {
                match port_holders.get(&(port, p.protocol.clone())) {
                    Some(h) if ours(h) => {}
                    Some(h) => problem(
                        name,
                        format!(
                            "host port {port}/{} is already published by container {}{}: stop it, or move this port (e.g. in .env)",
                            p.protocol,
                            h.container,
                            h.project.as_ref().map(|p| format!(" of stack {p}")).unwrap_or_default()
                        ),
                    ),
                    None if !remote && !free_on_host(p.host_ip.as_deref(), port, &p.protocol) => problem(
                        name,
                        format!("host port {port}/{} is in use by another program on this machine: free it, or move this port (e.g. in .env)", p.protocol),
                    ),
                    None => {}
                }
            }
        }
        for (key, why) in crate::extra::unsupported(svc) {
            problem(name, format!("services.{name}.{key}: {why}"));
        }
        if let Some(b) = &svc.build {
            for (key, why) in crate::extra::unsupported_build(b) {
                problem(name, format!("services.{name}.{key}: {why}"));
            }
        }
        for number in 1..=svc.replicas() {
            let cname = project.replica_name(name, number);
            if let Some(h) = names.get(&cname).filter(|h| !ours(h)) {
                problem(
                    name,
                    format!(
                        "a container named {cname} already exists and is not this stack's {name}{}: remove it (`docker rm -f {cname}`) or rename this one",
                        h.project.as_ref().map(|p| format!(" (it belongs to stack {p})")).unwrap_or_default()
                    ),
                );
            }
        }
        let image = image_ref(project, name, svc);
        match &svc.build {
            Some(b) if !b.context.contains("://") => {
                let ctx = Path::new(&b.context);
                let dockerfile = ctx.join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
                if !ctx.is_dir() {
                    problem(name, format!("the build context {} does not exist", ctx.display()));
                } else if b.dockerfile_inline.is_none() && !dockerfile.is_file() {
                    problem(name, format!("{} does not exist", dockerfile.display()));
                }
            }
            Some(_) => {}
            None if built.contains(&image) => {}
            None => match docker.inspect_image(&image).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => problem(
                    name,
                    format!("image {image} is not on this machine and nothing here builds it: pull it (`docker pull {image}`) or add a build section"),
                ),
                Err(e) => return Err(EngineError::Docker { context: format!("inspecting image {image}"), source: e }),
            },
        }
        for r in svc.secrets.iter().chain(&svc.configs) {
            let obj = project
                .secrets
                .get(&r.source)
                .or_else(|| project.configs.get(&r.source));
            if let Some(file) = obj.and_then(|o| o.file.as_ref()).filter(|_| !remote) {
                if !file.is_file() {
                    problem(name, format!("{} (secret {}) does not exist", file.display(), r.source));
                }
            }
        }
    }
    for (key, net) in &project.networks {
        if net.external && docker.inspect_network(&net.name, None).await.is_err() {
            problems.push(Problem {
                service: None,
                message: format!(
                    "external network {} (networks.{key}) does not exist: create it with `docker network create {}`",
                    net.name, net.name
                ),
            });
        }
    }
    for (key, vol) in &project.volumes {
        if vol.external && docker.inspect_volume(&vol.name).await.is_err() {
            problems.push(Problem {
                service: None,
                message: format!(
                    "external volume {} (volumes.{key}) does not exist: create it with `docker volume create {}`",
                    vol.name, vol.name
                ),
            });
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_port_ranges() {
        assert_eq!(published_ports("80"), vec![80]);
        assert_eq!(published_ports("8000-8002"), vec![8000, 8001, 8002]);
        assert!(published_ports("x").is_empty());
    }
}
