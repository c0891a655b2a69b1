//! A compose project as a swarm stack, the way `docker stack deploy` converts it: one service
//! per compose service (`<stack>_<service>`), overlay networks, secrets and configs as swarm
//! objects, the `deploy` section as the service's mode, placement, update, rollback and restart
//! policies and resources, and the labels `docker stack` sets (so `docker stack ps` sees our
//! stack and we see theirs). What swarm cannot do is found here, before anything changes.

use crate::preflight::Problem;
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, Limit, Mount, MountType as MountTypeEnum, NetworkAttachmentConfig, ResourceObject,
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets,
    TaskSpecPlacement, TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use deck_compose::{MountType, Project, Service};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The label `docker stack` puts on everything of a stack.
pub const NAMESPACE: &str = "com.docker.stack.namespace";
/// The image a stack's service was deployed with, as written (`docker stack` sets it).
pub const STACK_IMAGE: &str = "com.docker.stack.image";

/// A swarm object's id by its kind and name (`object_key`: secrets and configs, created before
/// the services).
pub type Ids = HashMap<String, String>;

/// The key of a secret (or a config) in `Ids`.
pub fn object_key(secret: bool, name: &str) -> String {
    format!("{}:{name}", if secret { "secret" } else { "config" })
}

/// What a key of the files asks that swarm does otherwise: warned, or refused.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The service it is about (none: a network).
    pub service: Option<String>,
    /// The key's path: under `services.<service>` (e.g. `container_name`), else from the top.
    pub key: String,
    pub message: String,
    pub refused: bool,
}

impl Finding {
    fn segments(&self) -> Vec<&str> {
        match &self.service {
            Some(s) => ["services", s.as_str()]
                .into_iter()
                .chain(self.key.split('.'))
                .collect(),
            None => self.key.split('.').collect(),
        }
    }

    /// The finding with the file and line of its key (the last compose file that writes it).
    pub fn problem(&self, project: &Project) -> Problem {
        let segments = self.segments();
        // A key the files do not write (a default) is named by what holds it.
        let at = deck_compose::yaml::locate_key(&project.config_files, &segments)
            .or_else(|| deck_compose::yaml::locate_key(&project.config_files, &segments[..2]))
            .map(|(f, line)| format!("{}:{line}: ", f.display()))
            .unwrap_or_default();
        Problem {
            service: self.service.clone(),
            message: format!("{at}{}: {}", segments.join("."), self.message),
        }
    }
}

/// The service's swarm name.
pub fn service_name(project: &Project, service: &str) -> String {
    format!("{}_{service}", project.name)
}

/// What `service` asks that a swarm does differently or cannot do. `ipvs`: whether the nodes'
/// kernels have IPVS (a virtual IP and the ingress routing mesh need it).
pub fn findings(project: &Project, ipvs: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for (key, net) in &project.networks {
        let driver = net.driver.as_deref().unwrap_or("overlay");
        if !net.external && driver != "overlay" {
            out.push(Finding {
                service: None,
                key: format!("networks.{key}.driver"),
                message: format!(
                    "a {driver} network lives on one engine; a swarm stack's services reach each other over an overlay network: set `driver: overlay` (in a file of the swarm environment)"
                ),
                refused: true,
            });
        }
    }
    for (name, svc) in &project.services {
        let mut add = |key: &str, refused: bool, message: String| {
            out.push(Finding {
                service: Some(name.clone()),
                key: key.to_string(),
                message,
                refused,
            })
        };
        if svc.build.is_some() {
            add(
                "build",
                false,
                "a swarm does not build: the image is built on this machine, then pushed to the environment's registry (or, with none, copied to each node that lacks it)"
                    .into(),
            );
        }
        if !svc.depends_on.is_empty() {
            add(
                "depends_on",
                false,
                "a swarm starts services in no order: each must wait for what it needs itself (its tasks are restarted until they can run)".into(),
            );
        }
        if svc.container_name.is_some() {
            add(
                "container_name",
                false,
                "a swarm names its tasks' containers itself: this name is not used (the service's name is)".into(),
            );
        }
        if svc.network_mode.is_some() {
            add(
                "network_mode",
                true,
                "a swarm service cannot set its network mode: use networks".into(),
            );
        }
        if svc.privileged {
            add("privileged", true, "a swarm service cannot run privileged".into());
        }
        for m in svc.volumes.iter().filter(|m| m.kind == MountType::Bind) {
            add(
                "volumes",
                false,
                format!(
                    "{} is bound from the node each task runs on, not from this machine",
                    m.source.as_deref().unwrap_or("?")
                ),
            );
        }
        let local_volumes: Vec<&str> = svc
            .volumes
            .iter()
            .filter(|m| m.kind == MountType::Volume)
            .filter_map(|m| m.source.as_deref())
            .filter(|k| {
                project
                    .volumes
                    .get(*k)
                    .is_some_and(|v| !v.external && v.driver.as_deref().unwrap_or("local") == "local")
            })
            .collect();
        if !local_volumes.is_empty() && !pinned(svc) {
            add(
                "deploy.placement",
                false,
                format!(
                    "volume {} lives on the node each task runs on: a task the swarm moves starts with an empty one, and backups and restores reach it where the last task ran. Pin the service to one node (`deploy.placement.constraints`, e.g. `node.hostname == …`)",
                    local_volumes.join(", ")
                ),
            );
        }
        let dnsrr = deploy_str(svc, "endpoint_mode") == Some("dnsrr");
        if !ipvs && !dnsrr && !global(svc) {
            add(
                "deploy.endpoint_mode",
                true,
                "the swarm's nodes have no IPVS (the kernel's ip_vs), so a service's virtual IP would not route: set `deploy.endpoint_mode: dnsrr` (each task's address is then served by the swarm's DNS)".into(),
            );
        }
        for p in &svc.ports {
            if p.mode != "host" && !ipvs {
                add(
                    "ports",
                    true,
                    format!(
                        "port {} would be published through the ingress routing mesh, which needs IPVS, which the swarm's nodes lack: publish it with `mode: host` (on the node running each task)",
                        p.target
                    ),
                );
            } else if p.mode != "host" && dnsrr {
                add(
                    "ports",
                    true,
                    format!(
                        "port {}: a dnsrr service publishes its ports with `mode: host` only",
                        p.target
                    ),
                );
            }
        }
    }
    out
}

fn deploy_value<'a>(svc: &'a Service, key: &str) -> Option<&'a Value> {
    svc.deploy.as_ref()?.extra.get(key)
}

fn deploy_str<'a>(svc: &'a Service, key: &str) -> Option<&'a str> {
    deploy_value(svc, key)?.as_str()
}

/// A duration written as compose writes it (`10s`, `1m30s`) or as nanoseconds.
fn nanos(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s) => deck_compose::syntax::parse_duration(s)
            .ok()
            .map(|d| d.as_nanos() as i64),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn duration_nanos(d: Option<Duration>) -> Option<i64> {
    d.map(|d| d.as_nanos() as i64)
}

fn labels_of(v: Option<&Value>) -> HashMap<String, String> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str())
            .map(|i| match i.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (i.to_string(), String::new()),
            })
            .collect(),
        _ => HashMap::new(),
    }
}

fn restart_policy(svc: &Service) -> Option<TaskSpecRestartPolicy> {
    use TaskSpecRestartPolicyConditionEnum as C;
    if let Some(Value::Object(p)) = deploy_value(svc, "restart_policy") {
        return Some(TaskSpecRestartPolicy {
            condition: p.get("condition").and_then(Value::as_str).map(|c| match c {
                "none" => C::NONE,
                "on-failure" => C::ON_FAILURE,
                _ => C::ANY,
            }),
            delay: nanos(p.get("delay")),
            max_attempts: p.get("max_attempts").and_then(Value::as_i64),
            window: nanos(p.get("window")),
        });
    }
    // `restart:` as docker stack reads it.
    let (name, count) = match svc.restart.as_deref()?.split_once(':') {
        Some((n, c)) => (n, c.parse().ok()),
        None => (svc.restart.as_deref()?, None),
    };
    // `no` is left to the swarm's default (restart), as docker stack leaves it.
    Some(TaskSpecRestartPolicy {
        condition: Some(match name {
            "no" => return None,
            "on-failure" => C::ON_FAILURE,
            _ => C::ANY,
        }),
        max_attempts: count,
        ..Default::default()
    })
}

/// Whether the service runs a task on every node (`deploy.mode: global`).
pub fn global(svc: &Service) -> bool {
    deploy_str(svc, "mode") == Some("global")
}

/// Whether the service's tasks stay on one node, so its local volumes keep their data: a
/// placement constraint that names a node (its hostname, id or one of its labels), or the
/// manager role (one node in a swarm with one manager).
pub fn pinned(svc: &Service) -> bool {
    placement(deploy_value(svc, "placement"))
        .and_then(|p| p.constraints)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.split_once("=="))
        .any(|(key, value)| {
            let key = key.trim();
            matches!(key, "node.hostname" | "node.id")
                || key.starts_with("node.labels.")
                || (key == "node.role" && value.trim() == "manager")
        })
}

/// Whether the service may run once and complete (its tasks are not restarted when they
/// succeed: restart condition `none` or `on-failure`).
pub fn one_shot(svc: &Service) -> bool {
    matches!(
        restart_policy(svc).and_then(|p| p.condition),
        Some(TaskSpecRestartPolicyConditionEnum::NONE | TaskSpecRestartPolicyConditionEnum::ON_FAILURE)
    )
}

fn update_config(v: Option<&Value>) -> Option<ServiceSpecUpdateConfig> {
    let Some(Value::Object(p)) = v else { return None };
    Some(ServiceSpecUpdateConfig {
        parallelism: p.get("parallelism").and_then(Value::as_i64).or(Some(1)),
        delay: nanos(p.get("delay")),
        failure_action: p.get("failure_action").and_then(Value::as_str).map(|a| match a {
            "continue" => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            "rollback" => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            _ => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
        }),
        monitor: nanos(p.get("monitor")),
        max_failure_ratio: p.get("max_failure_ratio").and_then(Value::as_f64),
        order: p.get("order").and_then(Value::as_str).map(|o| match o {
            "start-first" => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            _ => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        }),
    })
}

fn rollback_config(v: Option<&Value>) -> Option<ServiceSpecRollbackConfig> {
    let u = update_config(v)?;
    Some(ServiceSpecRollbackConfig {
        parallelism: u.parallelism,
        delay: u.delay,
        failure_action: u.failure_action.map(|a| match a {
            ServiceSpecUpdateConfigFailureActionEnum::CONTINUE => ServiceSpecRollbackConfigFailureActionEnum::CONTINUE,
            _ => ServiceSpecRollbackConfigFailureActionEnum::PAUSE,
        }),
        monitor: u.monitor,
        max_failure_ratio: u.max_failure_ratio,
        order: u.order.map(|o| match o {
            ServiceSpecUpdateConfigOrderEnum::START_FIRST => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
            _ => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        }),
    })
}

fn placement(v: Option<&Value>) -> Option<TaskSpecPlacement> {
    let Some(Value::Object(p)) = v else { return None };
    let strings = |k: &str| -> Option<Vec<String>> {
        p.get(k)?
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
    };
    Some(TaskSpecPlacement {
        constraints: strings("constraints"),
        preferences: p.get("preferences").and_then(Value::as_array).map(|prefs| {
            prefs
                .iter()
                .filter_map(|pref| pref.get("spread")?.as_str())
                .map(|s| TaskSpecPlacementPreferences {
                    spread: Some(TaskSpecPlacementSpread {
                        spread_descriptor: Some(s.to_string()),
                    }),
                })
                .collect()
        }),
        max_replicas: p.get("max_replicas_per_node").and_then(Value::as_i64),
        ..Default::default()
    })
}

fn resources(svc: &Service) -> Option<TaskSpecResources> {
    let r = &svc.deploy.as_ref()?.resources;
    let cpus = |c: Option<f64>| c.map(|c| (c * 1e9) as i64);
    Some(TaskSpecResources {
        limits: r.limits.as_ref().map(|l| Limit {
            nano_cpus: cpus(l.cpus),
            memory_bytes: l.memory.map(|m| m as i64),
            pids: l.pids,
        }),
        reservations: r.reservations.as_ref().map(|l| ResourceObject {
            nano_cpus: cpus(l.cpus),
            memory_bytes: l.memory.map(|m| m as i64),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn file_refs<T>(
    project: &Project,
    refs: &[deck_compose::FileRef],
    secret: bool,
    ids: &Ids,
    make: impl Fn(TaskSpecContainerSpecFile, String, String) -> T,
) -> Vec<T> {
    let objects = if secret { &project.secrets } else { &project.configs };
    refs.iter()
        .filter_map(|r| {
            let obj = objects.get(&r.source)?;
            let id = ids.get(&object_key(secret, &obj.name))?;
            let file = TaskSpecContainerSpecFile {
                name: Some(r.written_target.clone().unwrap_or_else(|| r.source.clone())),
                uid: Some(r.uid.clone().unwrap_or_else(|| "0".into())),
                gid: Some(r.gid.clone().unwrap_or_else(|| "0".into())),
                mode: Some(r.mode.unwrap_or(0o444)),
            };
            Some(make(file, id.clone(), obj.name.clone()))
        })
        .collect()
}

/// A JSON value with every object's keys in order.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The label with the hash of the task template a service was deployed with.
pub const TEMPLATE_HASH: &str = "dev.siriusdeck.task-template";

/// Where image `image` (as written: `name[:tag][@digest]`, maybe with a registry) is pushed
/// to in `registry` (`host[:port]`, maybe with a path): the repository (its path under that
/// registry) and the tag (`latest` when it has none; a digest is the source's, not kept).
pub fn registry_ref(registry: &str, image: &str) -> (String, String) {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let path = match image.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => image,
    };
    let path = path.strip_prefix("library/").unwrap_or(path);
    // A tag follows the last `/` (a registry's port comes before it).
    let (dir, last) = path.rsplit_once('/').map_or(("", path), |(d, l)| (d, l));
    let (name, tag) = last.split_once(':').unwrap_or((last, "latest"));
    let repo = if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    };
    (format!("{}/{repo}", registry.trim_end_matches('/')), tag.to_string())
}

/// The label with the id of the image a service was deployed with: a rebuilt image under the
/// same tag changes the spec, so the swarm rolls it out.
pub const IMAGE_ID: &str = "dev.siriusdeck.image-id";

/// The swarm service of compose service `name` (its image `image_id`, which the nodes pull by
/// `pulled` when it was pushed to a registry, else by its name as written, loaded on each
/// node), its secrets and configs referred to by the ids in `ids` (none yet: left out, for a
/// check before anything changes); `env` is the profile environment it belongs to (a label,
/// as on containers).
pub fn service_spec(
    project: &Project,
    name: &str,
    image_id: Option<&str>,
    pulled: Option<&str>,
    ids: &Ids,
    env: Option<&str>,
) -> Result<ServiceSpec, String> {
    let svc = &project.services[name];
    // Secrets and configs are swarm objects here, not files bound from this machine.
    let bare = Service {
        secrets: Vec::new(),
        configs: Vec::new(),
        ..svc.clone()
    };
    let body = crate::spec::container_body(project, name, 1, &bare, env)?;
    let image = crate::spec::image_ref(project, name, svc);
    let ns = || (NAMESPACE.to_string(), project.name.clone());
    let mut container_labels: HashMap<String, String> =
        svc.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    container_labels.extend([ns()]);
    if let Some(id) = image_id {
        container_labels.insert(IMAGE_ID.into(), id.into());
    }
    if let Some(e) = env {
        container_labels.insert(crate::labels::ENV_LABEL.into(), e.into());
    }
    for key in [crate::labels::TARGET_LABEL, crate::labels::EXPECTED_IMAGE_LABEL] {
        if let Some(v) = body.labels.as_ref().and_then(|l| l.get(key)) {
            container_labels.insert(key.into(), v.clone());
        }
    }
    let mounts: Vec<Mount> = svc
        .volumes
        .iter()
        .filter_map(|m| {
            let (typ, source) = match m.kind {
                MountType::Volume => (
                    MountTypeEnum::VOLUME,
                    m.source
                        .as_ref()
                        .map(|k| project.volumes.get(k).map_or(k.clone(), |v| v.name.clone())),
                ),
                MountType::Bind => (MountTypeEnum::BIND, m.source.clone()),
                MountType::Tmpfs => (MountTypeEnum::TMPFS, None),
                _ => return None,
            };
            Some(Mount {
                typ: Some(typ),
                source,
                target: Some(m.target.clone()),
                read_only: Some(m.read_only),
                volume_options: (m.kind == MountType::Volume).then(|| bollard::models::MountVolumeOptions {
                    labels: Some(HashMap::from([ns()])),
                    no_copy: m.volume.as_ref().map(|v| v.nocopy),
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
        .collect();
    let networks: Vec<NetworkAttachmentConfig> = if svc.networks.is_empty() {
        project
            .networks
            .get("default")
            .map(|n| n.name.clone())
            .into_iter()
            .collect::<Vec<_>>()
    } else {
        svc.networks
            .keys()
            .map(|k| project.networks.get(k).map_or(k.clone(), |n| n.name.clone()))
            .collect()
    }
    .into_iter()
    .map(|target| NetworkAttachmentConfig {
        target: Some(target),
        aliases: Some(vec![name.to_string()]),
        ..Default::default()
    })
    .collect();
    let host = body.host_config.unwrap_or_default();
    let container_spec = TaskSpecContainerSpec {
        image: Some(pulled.map_or_else(|| image.clone(), str::to_string)),
        labels: Some(container_labels),
        command: body.entrypoint,
        args: body.cmd,
        hostname: svc.hostname.clone(),
        env: body.env,
        dir: body.working_dir,
        user: body.user,
        tty: Some(svc.tty),
        open_stdin: Some(svc.stdin_open),
        read_only: Some(svc.read_only),
        mounts: (!mounts.is_empty()).then_some(mounts),
        stop_signal: body.stop_signal,
        stop_grace_period: duration_nanos(svc.stop_grace_period),
        health_check: body.healthcheck,
        hosts: Some(
            svc.extra_hosts
                .iter()
                .filter_map(|h| h.split_once(['=', ':']).map(|(n, ip)| format!("{ip} {n}")))
                .collect(),
        ),
        secrets: Some(file_refs(project, &svc.secrets, true, ids, |file, id, name| {
            TaskSpecContainerSpecSecrets {
                file: Some(file),
                secret_id: Some(id),
                secret_name: Some(name),
            }
        })),
        configs: Some(file_refs(project, &svc.configs, false, ids, |file, id, name| {
            TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: file.name,
                    uid: file.uid,
                    gid: file.gid,
                    mode: file.mode,
                }),
                config_id: Some(id),
                config_name: Some(name),
                ..Default::default()
            }
        })),
        init: host.init,
        capability_add: host.cap_add,
        capability_drop: host.cap_drop,
        ..Default::default()
    };
    let global = global(svc);
    let mut labels = labels_of(deploy_value(svc, "labels"));
    labels.extend([ns(), (STACK_IMAGE.to_string(), image)]);
    let mut task = TaskSpec {
        container_spec: Some(container_spec),
        resources: resources(svc),
        restart_policy: restart_policy(svc),
        placement: placement(deploy_value(svc, "placement")),
        networks: Some(networks),
        ..Default::default()
    };
    // The task template's hash, on its containers: a task runs the service's template as it
    // is now when its hash is the service's (the engine adds defaults to the service's copy
    // that its tasks' copies lack, so the two cannot be compared whole).
    let hash = {
        use sha2::Digest;
        // Maps in key order: a hash map's own order changes from one process to the next, and
        // a hash that changed with it would replace every task at each deploy.
        let value = serde_json::to_value(&task).map_err(|e| e.to_string())?;
        let text = sorted(value).to_string();
        sha2::Sha256::digest(text.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    if let Some(c) = task.container_spec.as_mut() {
        c.labels
            .get_or_insert_with(HashMap::new)
            .insert(TEMPLATE_HASH.into(), hash);
    }
    Ok(ServiceSpec {
        name: Some(service_name(project, name)),
        labels: Some(labels),
        task_template: Some(task),
        mode: Some(if global {
            ServiceSpecMode {
                global: Some(HashMap::new()),
                ..Default::default()
            }
        } else {
            ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(svc.replicas() as i64),
                }),
                ..Default::default()
            }
        }),
        update_config: update_config(deploy_value(svc, "update_config")),
        rollback_config: rollback_config(deploy_value(svc, "rollback_config")),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(if deploy_str(svc, "endpoint_mode") == Some("dnsrr") {
                EndpointSpecModeEnum::DNSRR
            } else {
                EndpointSpecModeEnum::VIP
            }),
            ports: Some(
                svc.ports
                    .iter()
                    .map(|p| EndpointPortConfig {
                        name: p.name.clone(),
                        protocol: Some(match p.protocol.as_str() {
                            "udp" => EndpointPortConfigProtocolEnum::UDP,
                            "sctp" => EndpointPortConfigProtocolEnum::SCTP,
                            _ => EndpointPortConfigProtocolEnum::TCP,
                        }),
                        target_port: Some(i64::from(p.target)),
                        published_port: p.published.as_deref().and_then(|s| s.parse().ok()),
                        publish_mode: Some(if p.mode == "host" {
                            EndpointPortConfigPublishModeEnum::HOST
                        } else {
                            EndpointPortConfigPublishModeEnum::INGRESS
                        }),
                    })
                    .collect(),
            ),
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_goes_to_the_registry_under_its_own_path_and_tag() {
        let r = "10.0.0.5:5000";
        let at = |registry: &str, image: &str| {
            let (repo, tag) = registry_ref(registry, image);
            format!("{repo} {tag}")
        };
        assert_eq!(at(r, "sirius-lab/api:prod"), "10.0.0.5:5000/sirius-lab/api prod");
        assert_eq!(at(r, "postgres"), "10.0.0.5:5000/postgres latest");
        assert_eq!(at(r, "docker.io/library/postgres:16"), "10.0.0.5:5000/postgres 16");
        assert_eq!(at(r, "localhost:5000/x/y"), "10.0.0.5:5000/x/y latest");
        assert_eq!(at("reg.example/team/", "api:1"), "reg.example/team/api 1");
        assert_eq!(at(r, "x@sha256:abc"), "10.0.0.5:5000/x latest");
        assert_eq!(at(r, "reg:5000/x:1@sha256:abc"), "10.0.0.5:5000/x 1");
    }

    fn project(test: &str, yaml: &str) -> Project {
        let dir = std::env::temp_dir().join(format!("deck-swarm-spec-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("folder");
        let file = dir.join("compose.yaml");
        std::fs::write(&file, yaml).expect("file");
        let mut opts = deck_compose::LoadOptions::new([file]);
        opts.project_name = Some("st".into());
        let p = deck_compose::load(&opts).expect("loads").project;
        std::fs::remove_dir_all(&dir).expect("clean");
        p
    }

    #[test]
    fn deploy_section_as_docker_stack_reads_it() {
        let p = project(
            "deploy",
            r#"
services:
  api:
    image: lab/api:1
    command: ["serve", "--port", "80"]
    depends_on: [db]
    ports: [{target: 80, published: 8080, mode: host}]
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      labels: {team: core}
      placement: {constraints: ["node.role == worker"], max_replicas_per_node: 1}
      update_config: {parallelism: 1, delay: 2s, failure_action: rollback, order: start-first}
      rollback_config: {parallelism: 2}
      restart_policy: {condition: on-failure, max_attempts: 3}
      resources: {limits: {cpus: "0.5", memory: 256M}}
  db:
    image: lab/db:1
    container_name: lab-db
    restart: "no"
    deploy: {endpoint_mode: dnsrr}
"#,
        );
        let spec = service_spec(&p, "api", Some("sha256:1"), None, &Ids::new(), Some("prod")).expect("converts");
        assert_eq!(spec.name.as_deref(), Some("st_api"));
        let labels = spec.labels.expect("labels");
        assert_eq!(labels.get(NAMESPACE).map(String::as_str), Some("st"));
        assert_eq!(labels.get(STACK_IMAGE).map(String::as_str), Some("lab/api:1"));
        assert_eq!(labels.get("team").map(String::as_str), Some("core"));
        assert_eq!(spec.mode.and_then(|m| m.replicated).and_then(|r| r.replicas), Some(2));
        let u = spec.update_config.expect("update config");
        assert_eq!((u.parallelism, u.delay), (Some(1), Some(2_000_000_000)));
        assert_eq!(
            u.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
        );
        assert_eq!(u.order, Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        assert_eq!(spec.rollback_config.and_then(|r| r.parallelism), Some(2));
        let task = spec.task_template.expect("task");
        let c = task.container_spec.expect("container");
        assert_eq!(c.args, Some(vec!["serve".into(), "--port".into(), "80".into()]));
        assert_eq!(
            c.labels
                .and_then(|l| l.get(crate::labels::ENV_LABEL).cloned())
                .as_deref(),
            Some("prod")
        );
        let placement = task.placement.expect("placement");
        assert_eq!(placement.constraints, Some(vec!["node.role == worker".into()]));
        assert_eq!(placement.max_replicas, Some(1));
        let limits = task.resources.and_then(|r| r.limits).expect("limits");
        assert_eq!(
            (limits.nano_cpus, limits.memory_bytes),
            (Some(500_000_000), Some(256 << 20))
        );
        assert_eq!(
            task.restart_policy.and_then(|r| r.condition),
            Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE)
        );
        assert_eq!(task.networks.expect("nets")[0].target.as_deref(), Some("st_default"));
        let ep = spec.endpoint_spec.expect("endpoint");
        assert_eq!(ep.mode, Some(EndpointSpecModeEnum::DNSRR));
        let port = &ep.ports.expect("ports")[0];
        assert_eq!(
            (port.published_port, port.publish_mode),
            (Some(8080), Some(EndpointPortConfigPublishModeEnum::HOST))
        );
        // `restart: "no"` is the swarm's default (restart), as docker stack reads it.
        assert!(!one_shot(&p.services["db"]) && restart_policy(&p.services["db"]).is_none());
        assert!(one_shot(&p.services["api"]));

        let found = findings(&p, false);
        let keys: Vec<(&str, &str, bool)> = found
            .iter()
            .map(|f| (f.service.as_deref().unwrap_or("-"), f.key.as_str(), f.refused))
            .collect();
        assert_eq!(keys, [("api", "depends_on", false), ("db", "container_name", false)]);
    }

    #[test]
    fn secrets_and_configs_of_every_kind_are_swarm_objects() {
        let p = project(
            "objects",
            "services:\n  api:\n    image: x\n    secrets: [ext]\n    configs: [conf]\nsecrets:\n  ext:\n    external: true\nconfigs:\n  conf:\n    content: hello\n",
        );
        // Before anything exists (the check before changes), they are left out.
        assert!(service_spec(&p, "api", None, None, &Ids::new(), None).is_ok());
        let mut ids = Ids::new();
        for (k, o) in &p.secrets {
            ids.insert(object_key(true, &o.name), format!("secret-{k}"));
        }
        ids.insert(object_key(false, &p.configs["conf"].name), "config-conf".into());
        let c = service_spec(&p, "api", None, None, &ids, None)
            .expect("converts")
            .task_template
            .and_then(|t| t.container_spec)
            .expect("container");
        let secrets: Vec<String> = c
            .secrets
            .expect("secrets")
            .iter()
            .filter_map(|s| s.secret_id.clone())
            .collect();
        assert_eq!(secrets, ["secret-ext"]);
        let configs: Vec<String> = c
            .configs
            .expect("configs")
            .iter()
            .filter_map(|s| s.config_id.clone())
            .collect();
        assert_eq!(configs, ["config-conf"]);
    }

    #[test]
    fn what_needs_ipvs_is_refused_without_it() {
        let p = project("ipvs", "services:\n  web:\n    image: x\n    ports: [\"80:80\"]\n");
        let refused: Vec<String> = findings(&p, false)
            .iter()
            .filter(|f| f.refused)
            .map(|f| f.key.clone())
            .collect();
        assert_eq!(refused, ["deploy.endpoint_mode", "ports"]);
        assert!(findings(&p, true).is_empty());
    }

    #[test]
    fn the_task_template_hash_is_the_same_however_its_maps_are_ordered() {
        let p = project(
            "hash",
            r#"
services:
  api:
    image: lab/api:1
    environment: {A: "1", B: "2", C: "3", D: "4", E: "5", F: "6"}
    labels: {a: "1", b: "2", c: "3", d: "4", e: "5", f: "6"}
"#,
        );
        let hash = || {
            let spec = service_spec(&p, "api", Some("sha256:1"), None, &Ids::new(), Some("prod")).expect("spec");
            spec.task_template
                .and_then(|t| t.container_spec)
                .and_then(|c| c.labels)
                .and_then(|l| l.get(TEMPLATE_HASH).cloned())
                .expect("hash")
        };
        let first = hash();
        for _ in 0..20 {
            assert_eq!(hash(), first, "each new hash map orders its keys anew");
        }
    }

    #[test]
    fn a_service_with_a_local_volume_is_warned_unless_pinned_to_a_node() {
        let p = project(
            "pinned",
            r#"
services:
  free: {image: x, volumes: ["data:/d"]}
  manager: {image: x, volumes: ["data:/d"], deploy: {placement: {constraints: ["node.role == manager"]}}}
  host: {image: x, volumes: ["data:/d"], deploy: {placement: {constraints: ["node.hostname==n2"]}}}
  worker: {image: x, volumes: ["data:/d"], deploy: {placement: {constraints: ["node.role == worker"]}}}
  shared: {image: x, volumes: ["ext:/d"]}
volumes:
  data: {}
  ext: {external: true}
"#,
        );
        let warned: Vec<String> = findings(&p, true)
            .iter()
            .filter(|f| f.key == "deploy.placement" && !f.refused)
            .filter_map(|f| f.service.clone())
            .collect();
        assert_eq!(warned, ["free", "worker"]);
    }
}
