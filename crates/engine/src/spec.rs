//! A compose service as an Engine API container configuration.

use crate::labels;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount, MountTmpfsOptions, MountType,
    MountVolumeOptions, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
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

/// The network a container is created on; the others are connected after creation (API 1.41
/// takes one network at creation).
pub fn networks(project: &Project, service: &Service) -> Vec<(String, EndpointSettings)> {
    service
        .networks
        .iter()
        .filter_map(|(key, sn)| {
            let net = project.networks.get(key)?;
            let mut aliases = vec![];
            if let Some(sn) = sn {
                aliases.extend(sn.aliases.iter().cloned());
            }
            Some((
                net.name.clone(),
                EndpointSettings {
                    aliases: Some(aliases),
                    ..Default::default()
                },
            ))
        })
        .collect()
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

/// The create body for a service's container. `env` is the stack environment (dev, prod) to
/// record on it.
pub fn container_body(
    project: &Project,
    name: &str,
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
    let mut exposed: Vec<String> = service
        .expose
        .iter()
        .map(|e| if e.contains('/') { e.clone() } else { format!("{e}/tcp") })
        .collect();
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
    let host_config = HostConfig {
        binds: Some(binds),
        mounts: Some(mounts),
        port_bindings: Some(port_bindings),
        restart_policy,
        cap_add: Some(service.cap_add.clone()),
        cap_drop: Some(service.cap_drop.clone()),
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
            .or_else(|| networks(project, service).first().map(|(n, _)| n.clone())),
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

    let networking_config = networks(project, service)
        .into_iter()
        .next()
        .map(|(net, settings)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(net, with_name_alias(settings, name))])),
        });

    Ok(ContainerCreateBody {
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
        labels: Some(labels::container_labels(project, name, service, env)),
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
    })
}

/// Every container answers to its service name on the stack's networks.
pub fn with_name_alias(mut settings: EndpointSettings, service: &str) -> EndpointSettings {
    let list = settings.aliases.get_or_insert_with(Vec::new);
    if !list.iter().any(|a| a == service) {
        list.insert(0, service.to_string());
    }
    settings
}
