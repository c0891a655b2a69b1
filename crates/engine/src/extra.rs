//! The service keys beyond the everyday ones, applied to the container as `docker compose`
//! applies them (`logging`, `ulimits`, `sysctls`, `dns`, `security_opt`, `devices`, `ipc`,
//! `pid`, `group_add`, `pids_limit`, `oom_score_adj`, `runtime`, ...), and the few that Sirius
//! Deck does not apply, which `unsupported` names so that they are refused before anything
//! changes. Nothing is dropped without a word.
//!
//! The values come from the model in compose's own JSON shapes (`Service::extra`).

use bollard::models::{
    ContainerCreateBody, DeviceMapping, DeviceRequest, HostConfig, HostConfigCgroupnsModeEnum, HostConfigIsolationEnum,
    HostConfigLogConfig, ResourcesBlkioWeightDevice, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
    ThrottleDevice,
};
use deck_compose::{Project, Service};
use serde_json::Value as J;
use std::collections::HashMap;

/// Why a service cannot run as written: the key and the reason. Checked before anything
/// changes. (Keys compose itself does not apply to a container at `up` need nothing: `develop`
/// is for `watch`, `attach` for attached logs, `deploy`'s placement, update and rollback
/// settings, mode and labels are Swarm's.)
pub fn unsupported(service: &Service) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut no = |key: &str, why: &str| out.push((key.to_string(), why.to_string()));
    if service.replicas() > 1 {
        for p in &service.ports {
            if p.published.as_deref().is_some_and(|h| !h.contains('-')) {
                no(
                    "ports",
                    &format!(
                        "host port {} can be published by one container only, but the service runs {} replicas: give a range (e.g. `8080-8082:{}`) or leave the host port out",
                        p.published.as_deref().unwrap_or_default(),
                        service.replicas(),
                        p.target
                    ),
                );
            }
        }
    }
    for key in ["post_start", "pre_stop"] {
        if service.extra.contains_key(key) {
            no(
                key,
                "lifecycle hooks are not run (Docker Compose 2.26 does not run them either): remove it",
            );
        }
    }
    if service.extra.contains_key("mac_address")
        || service
            .networks
            .values()
            .flatten()
            .any(|n| n.extra.contains_key("mac_address"))
    {
        no("mac_address", "a fixed MAC address is not supported yet: remove it");
    }
    if service.extra.contains_key("credential_spec") {
        no("credential_spec", "applies to Windows containers only: remove it");
    }
    if service.deploy.as_ref().is_some_and(|d| {
        d.resources
            .limits
            .as_ref()
            .is_some_and(|l| l.extra.contains_key("devices"))
    }) {
        no(
            "deploy.resources.limits.devices",
            "devices are reserved, not limited: move them under reservations",
        );
    }
    out
}

/// Why a service's image cannot be built as written; checked before anything is built.
pub fn unsupported_build(build: &deck_compose::Build) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut no = |key: &str, why: &str| out.push((key.to_string(), why.to_string()));
    {
        for key in [
            "secrets",
            "ssh",
            "additional_contexts",
            "cache_to",
            "entitlements",
            "privileged",
            "ulimits",
        ] {
            if build.extra.contains_key(key) {
                no(
                    &format!("build.{key}"),
                    "needs BuildKit, which Sirius Deck's builder (the engine's classic one) does not drive: build the image with `docker buildx bake` or `docker compose build`, then run with --no-build",
                );
            }
        }
        if build
            .extra
            .get("platforms")
            .and_then(J::as_array)
            .is_some_and(|p| p.len() > 1)
        {
            no(
                "build.platforms",
                "a multi-platform build needs BuildKit: keep one platform",
            );
        }
    }
    out
}

fn strs(v: Option<&J>) -> Option<Vec<String>> {
    v?.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
}

fn string_map(v: Option<&J>) -> Option<HashMap<String, String>> {
    v?.as_object().map(|m| {
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
                )
            })
            .collect()
    })
}

fn int(v: Option<&J>) -> Option<i64> {
    v.and_then(J::as_i64)
}

fn bytes(v: Option<&J>) -> Option<i64> {
    v?.as_str()?.parse().ok()
}

/// `service:x` (compose's name for another service's namespace) as the engine's
/// `container:<x's container>`.
fn namespace(project: &Project, mode: &str) -> String {
    match mode.strip_prefix("service:") {
        Some(s) => format!("container:{}", project.container_name(s)),
        None => mode.to_string(),
    }
}

fn device_requests(v: Option<&J>) -> Vec<DeviceRequest> {
    v.and_then(J::as_array)
        .into_iter()
        .flatten()
        .map(|d| DeviceRequest {
            driver: d.get("driver").and_then(J::as_str).map(str::to_string),
            count: d.get("count").and_then(J::as_i64),
            device_ids: strs(d.get("device_ids")),
            capabilities: strs(d.get("capabilities")).map(|c| vec![c]),
            options: string_map(d.get("options")),
        })
        .collect()
}

fn throttles(v: Option<&J>) -> Option<Vec<ThrottleDevice>> {
    v?.as_array().map(|a| {
        a.iter()
            .map(|t| ThrottleDevice {
                path: t.get("Path").and_then(J::as_str).map(str::to_string),
                rate: t.get("Rate").and_then(J::as_str).and_then(|r| r.parse().ok()),
            })
            .collect()
    })
}

/// Applies the service's other keys to the create body.
pub fn apply(project: &Project, service: &Service, body: &mut ContainerCreateBody) {
    let x = &service.extra;
    let hc: &mut HostConfig = body.host_config.get_or_insert_with(Default::default);
    if let Some(l) = x.get("logging") {
        hc.log_config = Some(HostConfigLogConfig {
            typ: l.get("driver").and_then(J::as_str).map(str::to_string),
            config: string_map(l.get("options")),
        });
    }
    if let Some(u) = x.get("ulimits").and_then(J::as_object) {
        hc.ulimits = Some(
            u.iter()
                .map(|(name, v)| {
                    let (soft, hard) = match v.as_i64() {
                        Some(n) => (n, n),
                        None => (int(v.get("soft")).unwrap_or(0), int(v.get("hard")).unwrap_or(0)),
                    };
                    ResourcesUlimits {
                        name: Some(name.clone()),
                        soft: Some(soft),
                        hard: Some(hard),
                    }
                })
                .collect(),
        );
    }
    hc.sysctls = string_map(x.get("sysctls"));
    hc.dns = strs(x.get("dns"));
    hc.dns_options = strs(x.get("dns_opt"));
    hc.dns_search = strs(x.get("dns_search"));
    hc.security_opt = strs(x.get("security_opt"));
    hc.group_add = strs(x.get("group_add"));
    hc.device_cgroup_rules = strs(x.get("device_cgroup_rules"));
    hc.storage_opt = string_map(x.get("storage_opt"));
    hc.annotations = string_map(x.get("annotations"));
    hc.devices = x.get("devices").and_then(J::as_array).map(|a| {
        a.iter()
            .map(|d| DeviceMapping {
                path_on_host: d.get("source").and_then(J::as_str).map(str::to_string),
                path_in_container: d.get("target").and_then(J::as_str).map(str::to_string),
                cgroup_permissions: d.get("permissions").and_then(J::as_str).map(str::to_string),
            })
            .collect()
    });
    let mut requests = device_requests(x.get("gpus"));
    if let Some(r) = service.deploy.as_ref().and_then(|d| d.resources.reservations.as_ref()) {
        requests.extend(device_requests(r.extra.get("devices")));
    }
    if !requests.is_empty() {
        hc.device_requests = Some(requests);
    }
    let text = |k: &str| x.get(k).and_then(J::as_str).map(str::to_string);
    hc.ipc_mode = text("ipc").map(|m| namespace(project, &m));
    hc.pid_mode = text("pid").map(|m| namespace(project, &m));
    hc.uts_mode = text("uts");
    hc.userns_mode = text("userns_mode");
    hc.cgroup_parent = text("cgroup_parent");
    hc.cgroupns_mode = text("cgroup").and_then(|c| match c.as_str() {
        "host" => Some(HostConfigCgroupnsModeEnum::HOST),
        "private" => Some(HostConfigCgroupnsModeEnum::PRIVATE),
        _ => None,
    });
    hc.runtime = text("runtime");
    hc.isolation = text("isolation").and_then(|i| match i.as_str() {
        "default" => Some(HostConfigIsolationEnum::DEFAULT),
        "process" => Some(HostConfigIsolationEnum::PROCESS),
        "hyperv" => Some(HostConfigIsolationEnum::HYPERV),
        _ => None,
    });
    hc.volume_driver = text("volume_driver");
    hc.cpuset_cpus = text("cpuset");
    hc.cpu_shares = int(x.get("cpu_shares"));
    hc.cpu_period = int(x.get("cpu_period"));
    hc.cpu_quota = int(x.get("cpu_quota"));
    hc.cpu_realtime_period = int(x.get("cpu_rt_period"));
    hc.cpu_realtime_runtime = int(x.get("cpu_rt_runtime"));
    hc.cpu_count = int(x.get("cpu_count"));
    hc.cpu_percent = x.get("cpu_percent").and_then(J::as_f64).map(|p| p as i64);
    hc.oom_score_adj = int(x.get("oom_score_adj"));
    hc.oom_kill_disable = x.get("oom_kill_disable").and_then(J::as_bool);
    hc.pids_limit = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.limits.as_ref()?.pids)
        .or(int(x.get("pids_limit")));
    hc.memory_swap = bytes(x.get("memswap_limit"));
    hc.memory_swappiness = bytes(x.get("mem_swappiness"));
    if let Some(b) = x.get("blkio_config") {
        hc.blkio_weight = int(b.get("weight")).and_then(|w| u16::try_from(w).ok());
        hc.blkio_weight_device = b.get("weight_device").and_then(J::as_array).map(|a| {
            a.iter()
                .map(|w| ResourcesBlkioWeightDevice {
                    path: w.get("Path").and_then(J::as_str).map(str::to_string),
                    weight: int(w.get("Weight")).and_then(|v| usize::try_from(v).ok()),
                })
                .collect()
        });
        hc.blkio_device_read_bps = throttles(b.get("device_read_bps"));
        hc.blkio_device_write_bps = throttles(b.get("device_write_bps"));
        hc.blkio_device_read_iops = throttles(b.get("device_read_iops"));
        hc.blkio_device_write_iops = throttles(b.get("device_write_iops"));
    }
    // Resolved to container ids beforehand (`spec::resolve_references`).
    hc.volumes_from = strs(x.get("volumes_from"));
    if let Some(mode) = &service.network_mode {
        hc.network_mode = Some(namespace(project, mode));
    }
    // `deploy.restart_policy` when `restart` is not written, as compose reads it.
    if service.restart.is_none() {
        if let Some(p) = service.deploy.as_ref().and_then(|d| d.extra.get("restart_policy")) {
            let name = match p.get("condition").and_then(J::as_str) {
                Some("none") => RestartPolicyNameEnum::NO,
                Some("on-failure") => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::ALWAYS,
            };
            hc.restart_policy = Some(RestartPolicy {
                name: Some(name),
                maximum_retry_count: int(p.get("max_attempts")),
            });
        }
    }
    body.domainname = text("domainname");
}
