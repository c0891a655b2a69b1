//! A compose service as an Engine API container configuration.

use crate::labels;
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, Ipam, IpamConfig, Mount,
    MountTmpfsOptions, MountType, MountVolumeOptions, NetworkingConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use deck_compose::{FileRef, MountType as ComposeMount, Project, Service};
use std::collections::HashMap;
use std::time::Duration;

/// The image a service runs: `image:`, or `<project>-<service>` for a build without one.
pub fn image_ref(project: &Project, name: &str, service: &Service) -> String {
    service
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{name}", project.name))
}

fn nanos(d: Option<Duration>) -> Option<i64> {
    d.map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
}

/// The services whose containers `service` refers to: `network_mode`, `ipc`, `pid`
/// (`service:x`) and `volumes_from`.
pub fn referenced_services(service: &Service) -> Vec<String> {
    let text = |k: &str| service.extra.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let mut out: Vec<String> = [service.network_mode.clone(), text("ipc"), text("pid")]
        .into_iter()
        .flatten()
        .filter_map(|m| m.strip_prefix("service:").map(str::to_string))
        .collect();
    for v in service
        .extra
        .get("volumes_from")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(v) = v.as_str().filter(|v| !v.starts_with("container:")) {
            out.push(v.split(':').next().unwrap_or_default().to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `service` with its references to other services' containers resolved to their ids, as
/// compose resolves them before it hashes and creates (`container:<id>`; `volumes_from` by id).
/// With `keep_mode`, a `volumes_from` mode (`:ro`) is kept, which compose drops: the hash is
/// computed without it (as compose's), the container gets it.
pub fn resolve_references(service: &Service, ids: &HashMap<String, String>, keep_mode: bool) -> Service {
    let mut s = service.clone();
    let resolve = |m: &str| match m.strip_prefix("service:").and_then(|n| ids.get(n)) {
        Some(id) => format!("container:{id}"),
        None => m.to_string(),
    };
    s.network_mode = s.network_mode.as_deref().map(resolve);
    for k in ["ipc", "pid"] {
        if let Some(serde_json::Value::String(m)) = s.extra.get_mut(k) {
            *m = resolve(m);
        }
    }
    if let Some(serde_json::Value::Array(list)) = s.extra.get_mut("volumes_from") {
        for v in list.iter_mut() {
            let Some(text) = v.as_str() else { continue };
            let resolved = match text.strip_prefix("container:") {
                Some(c) => c.to_string(),
                None => {
                    let (svc, mode) = text.split_once(':').map_or((text, None), |(s, m)| (s, Some(m)));
                    let id = ids.get(svc).cloned().unwrap_or_else(|| svc.to_string());
                    match mode {
                        Some(m) if keep_mode => format!("{id}:{m}"),
                        _ => id,
                    }
                }
            };
            *v = serde_json::Value::String(resolved);
        }
    }
    s
}

/// A network's `ipam` (in compose's shape) as the engine's.
pub fn ipam(v: &serde_json::Value) -> Ipam {
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Ipam {
        driver: text(v, "driver"),
        config: v.get("config").and_then(|c| c.as_array()).map(|pools| {
            pools
                .iter()
                .map(|p| IpamConfig {
                    subnet: text(p, "subnet"),
                    ip_range: text(p, "ip_range"),
                    gateway: text(p, "gateway"),
                    auxiliary_addresses: p.get("aux_addresses").and_then(|a| a.as_object()).map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    }),
                })
                .collect()
        }),
        options: None,
    }
}

/// The networks of replica `number` of a service, highest `priority` first (as compose connects
/// them): the first one at creation, the others connected after (API 1.41 takes one at
/// creation). Each as compose sets it: the container's name and its service's as aliases
/// before the written ones, its fixed addresses, driver options and `links`.
pub fn networks(project: &Project, name: &str, number: u32, service: &Service) -> Vec<(String, EndpointSettings)> {
    let links = links(project, service, number);
    let mut list: Vec<(i64, String, EndpointSettings)> = service
        .networks
        .iter()
        .filter_map(|(key, sn)| {
            let net = project.networks.get(key)?;
            let mut settings = EndpointSettings {
                aliases: Some(vec![project.replica_name(name, number), name.to_string()]),
                links: links.clone(),
                ..Default::default()
            };
            let mut priority = 0;
            if let Some(sn) = sn {
                // Written as a mapping: compose sends an (empty) address configuration.
                settings.ipam_config = Some(EndpointIpamConfig::default());
                let aliases = settings.aliases.get_or_insert_with(Vec::new);
                for a in &sn.aliases {
                    if !aliases.contains(a) {
                        aliases.push(a.clone());
                    }
                }
                let link_local: Option<Vec<String>> = sn.extra.get("link_local_ips").and_then(|v| {
                    v.as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                });
                if sn.ipv4_address.is_some() || sn.ipv6_address.is_some() || link_local.is_some() {
                    settings.ipam_config = Some(EndpointIpamConfig {
                        ipv4_address: sn.ipv4_address.clone(),
                        ipv6_address: sn.ipv6_address.clone(),
                        link_local_ips: link_local,
                    });
                }
                settings.driver_opts = sn.extra.get("driver_opts").and_then(|o| o.as_object()).map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
                            )
                        })
                        .collect()
                });
                priority = sn.extra.get("priority").and_then(|p| p.as_i64()).unwrap_or(0);
            }
            Some((priority, net.name.clone(), settings))
        })
        .collect();
    list.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    list.into_iter().map(|(_, name, s)| (name, s)).collect()
}

fn secret_binds(project: &Project, refs: &[FileRef], binds: &mut Vec<String>) -> Result<(), String> {
    for r in refs {
        let Some(obj) = project
            .secrets
            .get(&r.source)
            .or_else(|| project.configs.get(&r.source))
        else {
            return Err(format!("'{}' is not declared", r.source));
        };
        match &obj.file {
            Some(file) => binds.push(format!("{}:{}:ro", file.display(), r.target)),
            None => {
                return Err(format!(
                    "'{}' is not file-backed: Sirius Deck mounts secrets and configs from `file:` only",
                    r.source
                ))
            }
        }
    }
    Ok(())
}

/// The create body for replica `number` (from 1) of a service. `env` is the stack environment
/// (dev, prod) to record on it.
pub fn container_body(
    project: &Project,
    name: &str,
    number: u32,
    service: &Service,
    env: Option<&str>,
) -> Result<ContainerCreateBody, String> {
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    for m in &service.volumes {
        match m.kind {
            ComposeMount::Bind => {
                let src = m.source.clone().unwrap_or_default();
                let mut opts = vec![if m.read_only { "ro" } else { "rw" }.to_string()];
                if let Some(b) = &m.bind {
                    opts.extend(b.selinux.clone());
                    opts.extend(b.propagation.clone());
                }
                binds.push(format!("{src}:{}:{}", m.target, opts.join(",")));
            }
            ComposeMount::Volume => {
                let source = m
                    .source
                    .as_ref()
                    .map(|key| project.volumes.get(key).map_or(key.clone(), |v| v.name.clone()));
                mounts.push(Mount {
                    typ: Some(MountType::VOLUME),
                    source,
                    target: Some(m.target.clone()),
                    read_only: Some(m.read_only),
                    volume_options: m.volume.as_ref().map(|v| MountVolumeOptions {
                        no_copy: Some(v.nocopy),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
            }
            ComposeMount::Tmpfs => mounts.push(Mount {
                typ: Some(MountType::TMPFS),
                target: Some(m.target.clone()),
                tmpfs_options: m.tmpfs.as_ref().map(|t| MountTmpfsOptions {
                    size_bytes: t.size.map(|s| s as i64),
                    mode: t.mode.map(i64::from),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            other => return Err(format!("mounts of type {other:?} are not supported")),
        }
    }
    secret_binds(project, &service.secrets, &mut binds)?;
    secret_binds(project, &service.configs, &mut binds)?;

    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    // `expose` entries go to the engine as written (it reads `9000` as 9000/tcp), as compose
    // sends them.
    let mut exposed: Vec<String> = service.expose.clone();
    for p in &service.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        exposed.push(key.clone());
        let binding = PortBinding {
            host_ip: p.host_ip.clone(),
            host_port: Some(p.published.clone().unwrap_or_default()),
        };
        port_bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(binding);
    }
    exposed.sort();
    exposed.dedup();

    let restart_policy = service.restart.as_deref().map(|r| {
        let (name, count) = match r.split_once(':') {
            Some((n, c)) => (n, c.parse().ok()),
            None => (r, None),
        };
        RestartPolicy {
            name: Some(match name {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: count,
        }
    });

    let reservations = service.deploy.as_ref().and_then(|d| d.resources.reservations.as_ref());
    let nets = networks(project, name, number, service);
    let host_config = HostConfig {
        binds: (!binds.is_empty()).then_some(binds),
        mounts: (!mounts.is_empty()).then_some(mounts),
        port_bindings: Some(port_bindings),
        restart_policy,
        cap_add: (!service.cap_add.is_empty()).then(|| service.cap_add.clone()),
        cap_drop: (!service.cap_drop.is_empty()).then(|| service.cap_drop.clone()),
        privileged: Some(service.privileged),
        readonly_rootfs: Some(service.read_only),
        init: service.init,
        extra_hosts: Some(service.extra_hosts.iter().map(|h| h.replacen('=', ":", 1)).collect()),
        memory: service.memory_limit().map(|m| m as i64),
        memory_reservation: reservations
            .and_then(|r| r.memory)
            .or(service.mem_reservation)
            .map(|m| m as i64),
        nano_cpus: service.cpu_limit().map(|c| (c * 1e9) as i64),
        shm_size: service.shm_size.map(|s| s as i64),
        tmpfs: Some(
            service
                .tmpfs
                .iter()
                .map(|t| match t.split_once(':') {
                    Some((path, opts)) => (path.to_string(), opts.to_string()),
                    None => (t.clone(), String::new()),
                })
                .collect(),
        ),
        network_mode: service
            .network_mode
            .clone()
            .or_else(|| nets.first().map(|(n, _)| n.clone())),
        ..Default::default()
    };

    let healthcheck = service.healthcheck.as_ref().map(|h| HealthConfig {
        test: if h.is_disabled() {
            Some(vec!["NONE".into()])
        } else {
            (!h.test.is_empty()).then(|| h.test.clone())
        },
        interval: nanos(h.interval),
        timeout: nanos(h.timeout),
        retries: h.retries.map(|r| r as i64),
        start_period: nanos(h.start_period),
        start_interval: nanos(h.start_interval),
    });

    let networking_config = nets.into_iter().next().map(|(net, settings)| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(net, settings)])),
    });

    let mut body = ContainerCreateBody {
        image: Some(image_ref(project, name, service)),
        cmd: service.command.clone(),
        entrypoint: service.entrypoint.clone(),
        env: Some(
            service
                .environment
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect(),
        ),
        labels: Some(labels::container_labels(project, name, number, service, env)),
        hostname: service.hostname.clone(),
        user: service.user.clone(),
        working_dir: service.working_dir.clone(),
        tty: Some(service.tty),
        open_stdin: Some(service.stdin_open),
        stop_signal: service.stop_signal.clone(),
        stop_timeout: service.stop_grace_period.map(|d| d.as_secs() as i64),
        exposed_ports: Some(exposed),
        healthcheck,
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    };
    crate::extra::apply(project, service, &mut body);
    Ok(body)
}

/// `links: [svc, svc:alias]` and `external_links` as compose writes them on each network of
/// replica `number`: each container of the linked service under the alias, and under
/// `<service>-<number>` and `<project>-<service>-<number>` (compose numbers them after the
/// linking container, not the linked one).
fn links(project: &Project, service: &Service, number: u32) -> Option<Vec<String>> {
    let list = |key: &str| -> Vec<String> {
        service
            .extra
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for l in list("links") {
        let (svc, alias) = l.split_once(':').unwrap_or((l.as_str(), l.as_str()));
        let replicas = project.services.get(svc).map_or(1, Service::replicas);
        for n in 1..=replicas {
            let cname = project.replica_name(svc, n);
            out.push(format!("{cname}:{alias}"));
            out.push(format!("{cname}:{svc}-{number}"));
            out.push(format!("{cname}:{}-{svc}-{number}", project.name));
        }
    }
    for l in list("external_links") {
        let (c, alias) = l.split_once(':').unwrap_or((l.as_str(), l.as_str()));
        out.push(format!("{c}:{alias}"));
    }
    (!out.is_empty()).then_some(out)
}
