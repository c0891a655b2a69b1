//! From the merged tree to the typed model, validating every value on the way. Each problem is
//! recorded with its file, line and key, and reading goes on so that all of them are reported.

use crate::diag::Diags;
use crate::env::parse_env_file;
use crate::model::*;
use crate::syntax::{parse_bytes, parse_duration, parse_mount, parse_port};
use crate::yaml::{Mark, Node, Tag, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

pub(crate) struct Normalizer<'a> {
    pub diags: &'a mut Diags,
    pub project_dir: &'a Path,
    pub env: &'a BTreeMap<String, String>,
}

const SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "driver_opts",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// A one-line description of a value for an error message. Never used for environment values.
fn show(node: &Node) -> String {
    match &node.value {
        Value::Scalar { text, .. } => format!("'{}'", text.chars().take(60).collect::<String>()),
        _ => node.kind().to_string(),
    }
}

pub(crate) fn closest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// Go's `path.Clean` of a container path: no trailing slash, `.` and `..` applied.
pub fn clean_path(p: &str) -> String {
    if !p.starts_with('/') {
        return p.to_string();
    }
    join_clean(Path::new("/"), Path::new(p)).display().to_string()
}

/// Lexically cleans `base/p` (no file system access): `.` removed, `..` applied.
pub fn join_clean(base: &Path, p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base.join(p).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

impl Normalizer<'_> {
    fn err(&mut self, node: &Node, key: &str, msg: impl Into<String>) {
        self.diags.error(node.mark, key, msg);
    }

    fn resolve_path(&self, p: &str) -> PathBuf {
        if let Some(rest) = p.strip_prefix("~/").or(if p == "~" { Some("") } else { None }) {
            let home = self
                .env
                .get("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/"));
            return join_clean(&home, Path::new(rest));
        }
        if p.starts_with('/') {
            return PathBuf::from(p); // as written, as compose keeps it
        }
        join_clean(self.project_dir, Path::new(p))
    }

    /// The rules compose checks across keys of one service.
    fn consistency(&mut self, s: &Service, node: &Node, path: &str) {
        let limits = s.deploy.as_ref().and_then(|d| d.resources.limits.as_ref());
        let replicas = s.extra_i64("deploy.replicas");
        let scale = s.extra_i64("scale");
        let mut conflicts = Vec::new();
        if let (Some(a), Some(b)) = (s.cpus, limits.and_then(|l| l.cpus)) {
            if (a - b).abs() > f64::EPSILON {
                conflicts.push(("cpus", "deploy.resources.limits.cpus"));
            }
        }
        if let (Some(a), Some(b)) = (s.mem_limit, limits.and_then(|l| l.memory)) {
            if a != b {
                conflicts.push(("mem_limit", "deploy.resources.limits.memory"));
            }
        }
        if let (Some(a), Some(b)) = (s.extra_i64("pids_limit"), limits.and_then(|l| l.pids)) {
            if a != b {
                conflicts.push(("pids_limit", "deploy.resources.limits.pids"));
            }
        }
        if let (Some(a), Some(b)) = (scale, replicas) {
            if a != b {
                conflicts.push(("scale", "deploy.replicas"));
            }
        }
        for (a, b) in conflicts {
            self.err(
                node,
                path,
                format!("sets '{a}' and '{b}' to different values: keep one"),
            );
        }
        if s.container_name.is_some() && replicas.or(scale).is_some_and(|n| n > 1) {
            self.err(
                node,
                &format!("{path}.container_name"),
                "a fixed container name allows one container, but more replicas are asked for: remove one of them",
            );
        }
        if s.network_mode.is_some() && s.networks.keys().any(|n| n != "default") {
            self.err(
                node,
                &format!("{path}.networks"),
                "cannot be used with network_mode: keep one",
            );
        }
        let platforms = s
            .build
            .as_ref()
            .and_then(|b| b.extra.get("platforms"))
            .and_then(|p| p.as_array());
        if let (Some(platform), Some(list)) = (s.extra.get("platform").and_then(|p| p.as_str()), platforms) {
            if !list.iter().any(|p| p.as_str() == Some(platform)) {
                self.err(
                    node,
                    &format!("{path}.build.platforms"),
                    format!("must include the service's platform '{platform}'"),
                );
            }
        }
        for key in [
            "cpu_count",
            "cpu_period",
            "cpu_quota",
            "cpu_rt_period",
            "cpu_rt_runtime",
            "cpu_shares",
            "oom_score_adj",
            "pids_limit",
            "scale",
        ] {
            if let Some(v) = s.extra.get(key).filter(|v| !v.is_number()) {
                self.err(
                    node,
                    &format!("{path}.{key}"),
                    format!("must be a whole number, not {v}"),
                );
            }
        }
    }

    /// `develop.watch[].path` relative to the project directory, as compose prints it.
    fn resolve_watch_paths(&self, develop: &mut serde_json::Value) {
        let rules = develop.get_mut("watch").and_then(|w| w.as_array_mut());
        for rule in rules.into_iter().flatten() {
            if let Some(serde_json::Value::String(p)) = rule.get_mut("path") {
                *p = self.resolve_path(p).display().to_string();
            }
        }
    }

    fn map<'n>(&mut self, node: &'n Node, key: &str) -> Option<&'n crate::yaml::Map> {
        match &node.value {
            Value::Map(m) => Some(m),
            Value::Null => None,
            _ => {
                self.err(node, key, format!("must be a mapping, not {}", node.kind()));
                None
            }
        }
    }

    fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            Value::Null => None,
            _ => {
                self.err(node, key, format!("must be a string, not {}", node.kind()));
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, key: &str) -> Option<bool> {
        let s = self.string(node, key)?;
        match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "y" => Some(true),
            "false" | "no" | "off" | "n" => Some(false),
            _ => {
                self.err(node, key, format!("must be true or false, not {}", show(node)));
                None
            }
        }
    }

    fn integer(&mut self, node: &Node, key: &str) -> Option<i64> {
        let s = self.string(node, key)?;
        s.trim().parse().ok().or_else(|| {
            self.err(node, key, format!("must be a whole number, not {}", show(node)));
            None
        })
    }

    fn unsigned(&mut self, node: &Node, key: &str) -> Option<u64> {
        let n = self.integer(node, key)?;
        u64::try_from(n).ok().or_else(|| {
            self.err(node, key, "must not be negative");
            None
        })
    }

    fn float(&mut self, node: &Node, key: &str) -> Option<f64> {
        let s = self.string(node, key)?;
        match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && f >= 0.0 => Some(f),
            _ => {
                self.err(node, key, format!("must be a non-negative number, not {}", show(node)));
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, key: &str) -> Option<Duration> {
        let s = self.string(node, key)?;
        parse_duration(&s).map_err(|e| self.err(node, key, e)).ok()
    }

    fn bytes(&mut self, node: &Node, key: &str) -> Option<u64> {
        let s = self.string(node, key)?;
        parse_bytes(&s).map_err(|e| self.err(node, key, e)).ok()
    }

    fn octal(&mut self, node: &Node, key: &str) -> Option<u32> {
        let s = self.string(node, key)?;
        let t = s.trim();
        let parsed = match t
            .strip_prefix("0o")
            .or_else(|| t.strip_prefix('0').filter(|r| !r.is_empty()))
        {
            Some(oct) => u32::from_str_radix(oct, 8).ok(),
            None => t.parse().ok(),
        };
        parsed.or_else(|| {
            self.err(
                node,
                key,
                format!("must be a file mode such as 0440, not {}", show(node)),
            );
            None
        })
    }

    /// A list of strings; a single string is accepted where compose accepts one.
    fn strings(&mut self, node: &Node, key: &str) -> Vec<String> {
        match &node.value {
            Value::Null => Vec::new(),
            Value::Scalar { text, .. } => vec![text.clone()],
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, n)| self.string(n, &format!("{key}[{i}]")))
                .collect(),
            Value::Map(_) => {
                self.err(node, key, "must be a list of strings, not a mapping");
                Vec::new()
            }
        }
    }

    /// `command` / `entrypoint`: a list, or a string split as a shell would.
    fn command(&mut self, node: &Node, key: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Null => None,
            Value::Scalar { text, .. } => match shell_words::split(text) {
                Ok(words) => Some(words),
                Err(_) => {
                    self.err(node, key, "has an unclosed quote");
                    None
                }
            },
            _ => Some(self.strings(node, key)),
        }
    }

    /// `KEY=VALUE` lists and mappings alike; `None` for a key without a value.
    fn key_values(&mut self, node: &Node, key: &str) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Null => {}
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = self.string(item, &format!("{key}[{i}]")) {
                        match s.split_once('=') {
                            Some((k, v)) => out.insert(k.to_string(), Some(v.to_string())),
                            None => out.insert(s, None),
                        };
                    }
                }
            }
            Value::Map(m) => {
                for (k, e) in m {
                    let v = match &e.node.value {
                        Value::Null => None,
                        Value::Scalar { text, quoted } => crate::goval::scalar_text(text, *quoted),
                        _ => {
                            self.err(&e.node, &format!("{key}.{k}"), "must be a string, number or boolean");
                            None
                        }
                    };
                    out.insert(k.clone(), v);
                }
            }
            Value::Scalar { .. } => self.err(node, key, "must be a mapping or a list of KEY=VALUE"),
        }
        out
    }

    fn labels(&mut self, node: &Node, key: &str) -> BTreeMap<String, String> {
        self.key_values(node, key)
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect()
    }

    /// Any valid value passed through untyped, plain scalars typed as YAML 1.2 core would.
    pub fn to_json(node: &Node) -> serde_json::Value {
        use serde_json::Value as J;
        match &node.value {
            Value::Null => J::Null,
            Value::Scalar { text, quoted: true } => J::String(text.clone()),
            Value::Scalar { text, .. } => {
                if let Ok(i) = text.parse::<i64>() {
                    J::from(i)
                } else if let Some(f) = text.parse::<f64>().ok().filter(|f| f.is_finite() && text.contains('.')) {
                    J::from(f)
                } else if text == "true" || text == "false" {
                    J::Bool(text == "true")
                } else {
                    J::String(text.clone())
                }
            }
            Value::Seq(s) => J::Array(s.iter().map(Self::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, e)| (k.clone(), Self::to_json(&e.node))).collect()),
        }
    }

    pub fn service(&mut self, name: &str, node: &Node) -> Option<Service> {
        let path = format!("services.{name}");
        let Some(map) = self.map(node, &path) else {
            if node.is_null() {
                self.err(node, &path, "a service needs at least an image or a build section");
            }
            return None;
        };
        let mut s = Service::default();
        let mut env_from_files: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut label_files: Vec<(String, Mark)> = Vec::new();
        for (k, e) in map {
            let n = &e.node;
            if n.tag == Tag::Reset {
                continue;
            }
            let key = format!("{path}.{k}");
            match k.as_str() {
                "build" => s.build = self.build(n, &key),
                "cap_add" => s.cap_add = self.strings(n, &key),
                "cap_drop" => s.cap_drop = self.strings(n, &key),
                "command" => s.command = self.command(n, &key),
                "entrypoint" => s.entrypoint = self.command(n, &key),
                "configs" => s.configs = self.file_refs(n, &key, None),
                "secrets" => s.secrets = self.file_refs(n, &key, Some("/run/secrets/")),
                "container_name" => s.container_name = self.string(n, &key),
                "cpus" => s.cpus = self.float(n, &key),
                "depends_on" => s.depends_on = self.depends_on(n, &key),
                "deploy" => s.deploy = self.deploy(n, &key),
                "env_file" => env_from_files = self.env_files(n, &key),
                "environment" => s.environment = self.key_values(n, &key),
                "expose" => s.expose = self.strings(n, &key),
                "extra_hosts" => s.extra_hosts = self.extra_hosts(n, &key),
                "healthcheck" => s.healthcheck = self.healthcheck(n, &key),
                "hostname" => s.hostname = self.string(n, &key),
                "image" => s.image = self.string(n, &key),
                "init" => s.init = self.boolean(n, &key),
                "labels" => s.labels = self.labels(n, &key),
                "label_file" => label_files = self.strings(n, &key).into_iter().map(|f| (f, n.mark)).collect(),
                "mem_limit" => s.mem_limit = self.bytes(n, &key),
                "mem_reservation" => s.mem_reservation = self.bytes(n, &key),
                "network_mode" => s.network_mode = self.string(n, &key),
                "networks" => s.networks = self.service_networks(n, &key),
                "ports" => s.ports = self.ports(n, &key),
                "privileged" => s.privileged = self.boolean(n, &key).unwrap_or(false),
                "profiles" => s.profiles = self.strings(n, &key),
                "pull_policy" => s.pull_policy = self.pull_policy(n, &key),
                "read_only" => s.read_only = self.boolean(n, &key).unwrap_or(false),
                "restart" => s.restart = self.restart(n, &key),
                "shm_size" => s.shm_size = self.bytes(n, &key),
                "stdin_open" => s.stdin_open = self.boolean(n, &key).unwrap_or(false),
                "stop_grace_period" => s.stop_grace_period = self.duration(n, &key),
                "stop_signal" => s.stop_signal = self.string(n, &key),
                "tmpfs" => s.tmpfs = self.strings(n, &key),
                "tty" => s.tty = self.boolean(n, &key).unwrap_or(false),
                "user" => s.user = self.string(n, &key),
                "volumes" => s.volumes = self.mounts(n, &key),
                "working_dir" => s.working_dir = self.string(n, &key),
                // Applied before merging; what is left could not be (and was reported).
                "extends" => {}
                other if other.starts_with("x-") => {}
                other if SERVICE_KEYS.contains(&other) => {
                    let value = match crate::shape::service_key(other) {
                        Some(shape) => crate::shape::to_json(n, shape),
                        None => Some(Self::to_json(n)),
                    };
                    if let Some(mut v) = value {
                        if other == "develop" {
                            self.resolve_watch_paths(&mut v);
                        }
                        s.extra.insert(other.to_string(), v);
                    }
                }
                other => {
                    let hint = closest(other, SERVICE_KEYS)
                        .map(|c| format!(" (did you mean '{c}'?)"))
                        .unwrap_or_default();
                    self.diags.error(
                        e.key_mark,
                        &key,
                        format!("'{other}' is not a compose service key{hint}"),
                    );
                }
            }
        }
        // Variables listed without a value take theirs from the environment; env_file
        // values come first and `environment` overrides them.
        for (k, v) in std::mem::take(&mut s.environment) {
            let v = v.or_else(|| self.env.get(&k).cloned());
            env_from_files.insert(k, v);
        }
        s.environment = env_from_files;
        // Labels from `label_file`s (KEY=VALUE lines), under those written in `labels`.
        for (file, mark) in label_files {
            let full = self.resolve_path(&file);
            match crate::load::read_text(&full) {
                Ok(text) => match parse_env_file(&text, &|_: &str| None, &mut Vec::new()) {
                    Ok(vars) => {
                        for (k, v) in vars {
                            s.labels.entry(k).or_insert(v);
                        }
                    }
                    Err(e) => self
                        .diags
                        .error_in(Some(&full), Some(e.line), e.key.as_deref().unwrap_or(""), e.message),
                },
                Err(e) => self.diags.error(
                    mark,
                    &format!("{path}.label_file"),
                    format!("cannot read {}: {e}", full.display()),
                ),
            }
        }
        self.consistency(&s, node, &path);
        implicit_dependencies(&mut s);
        if s.image.is_none() && s.build.is_none() {
            self.err(node, &path, "needs an image or a build section");
        }
        if s.network_mode.is_none() && s.networks.is_empty() {
            s.networks.insert("default".into(), None);
        }
        Some(s)
    }

    fn build(&mut self, node: &Node, key: &str) -> Option<Build> {
        let mut b = Build::default();
        let mut written_dockerfile = false;
        match &node.value {
            Value::Scalar { text, .. } => b.context = self.context(text),
            Value::Map(m) => {
                for (k, e) in m {
                    let n = &e.node;
                    let key = format!("{key}.{k}");
                    match k.as_str() {
                        "context" => b.context = self.string(n, &key).map(|c| self.context(&c)).unwrap_or_default(),
                        "dockerfile" => {
                            b.dockerfile = self.string(n, &key);
                            written_dockerfile = true;
                        }
                        "dockerfile_inline" => b.dockerfile_inline = self.string(n, &key),
                        "target" => b.target = self.string(n, &key),
                        "args" => {
                            // A name without a value takes the environment's, and is left out
                            // when the environment has none (as compose does).
                            b.args = self
                                .key_values(n, &key)
                                .into_iter()
                                .filter_map(|(k, v)| match v {
                                    Some(v) => Some((k, Some(v))),
                                    None => self.env.get(&k).map(|v| (k, Some(v.clone()))),
                                })
                                .collect()
                        }
                        "labels" => b.labels = self.labels(n, &key),
                        "network" => b.network = self.string(n, &key),
                        "additional_contexts"
                        | "cache_from"
                        | "cache_to"
                        | "entitlements"
                        | "extra_hosts"
                        | "isolation"
                        | "no_cache"
                        | "platforms"
                        | "privileged"
                        | "pull"
                        | "secrets"
                        | "shm_size"
                        | "ssh"
                        | "tags"
                        | "ulimits"
                        | "provenance"
                        | "sbom" => {
                            let value = match k.as_str() {
                                "extra_hosts" => {
                                    let hosts = self.extra_hosts(n, &key);
                                    (!hosts.is_empty()).then(|| serde_json::json!(hosts))
                                }
                                "additional_contexts" => {
                                    crate::shape::to_json(n, &crate::shape::MAPPING).map(|mut v| {
                                        for c in v.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                                            if let Some(s) = c.as_str().map(str::to_string) {
                                                *c = serde_json::Value::String(self.context(&s));
                                            }
                                        }
                                        v
                                    })
                                }
                                _ => match crate::shape::build_key(k) {
                                    Some(shape) => crate::shape::to_json(n, shape),
                                    None => Some(Self::to_json(n)),
                                },
                            };
                            if let Some(v) = value {
                                b.extra.insert(k.clone(), v);
                            }
                        }
                        other if other.starts_with("x-") => {}
                        other => self
                            .diags
                            .error(e.key_mark, &key, format!("'{other}' is not a build key")),
                    }
                }
            }
            Value::Null => return None,
            _ => {
                self.err(node, key, "must be a path or a mapping");
                return None;
            }
        }
        if b.context.is_empty() {
            b.context = self.project_dir.display().to_string();
        }
        if b.dockerfile.as_deref() == Some("") {
            b.dockerfile = None; // written empty: the builder's default, printed as nothing
        } else if !written_dockerfile && b.dockerfile_inline.is_none() {
            b.dockerfile = Some("Dockerfile".into());
        }
        if b.dockerfile.is_some() && b.dockerfile_inline.is_some() {
            self.err(node, key, "has both dockerfile and dockerfile_inline: keep one");
        }
        Some(b)
    }

    fn context(&self, c: &str) -> String {
        if c.contains("://") || c.starts_with("git@") || c.starts_with("github.com/") || c.starts_with("service:") {
            c.to_string()
        } else {
            self.resolve_path(c).display().to_string()
        }
    }

    fn env_files(&mut self, node: &Node, key: &str) -> BTreeMap<String, Option<String>> {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(s) => s.iter().collect(),
            _ => vec![node],
        };
        let mut out = BTreeMap::new();
        for (i, item) in items.into_iter().enumerate() {
            let key = format!("{key}[{i}]");
            let (path, required) = match &item.value {
                Value::Map(_) => (
                    item.get("path").and_then(|p| self.string(p, &key)),
                    item.get("required").and_then(|r| self.boolean(r, &key)).unwrap_or(true),
                ),
                _ => (self.string(item, &key), true),
            };
            let Some(path) = path else { continue };
            if let Some(format) = item.get("format").and_then(Node::as_str).filter(|f| !f.is_empty()) {
                self.err(
                    item,
                    &key,
                    format!("env_file format '{format}' is not supported: remove `format:`"),
                );
                continue;
            }
            let full = self.resolve_path(&path);
            match crate::load::read_text(&full) {
                Ok(text) => {
                    let env = self.env;
                    let lookup = |k: &str| env.get(k).cloned();
                    match parse_env_file(&text, &lookup, &mut Vec::new()) {
                        Ok(vars) => out.extend(vars.into_iter().map(|(k, v)| (k, Some(v)))),
                        Err(e) => {
                            self.diags
                                .error_in(Some(&full), Some(e.line), e.key.as_deref().unwrap_or(""), e.message)
                        }
                    }
                }
                Err(_) if !required => {}
                Err(e) => self.err(item, &key, format!("cannot read env file {}: {e}", full.display())),
            }
        }
        out
    }

    fn depends_on(&mut self, node: &Node, key: &str) -> BTreeMap<String, Dependency> {
        let mut out = BTreeMap::new();
        let started = Dependency {
            condition: Condition::ServiceStarted,
            required: true,
            restart: false,
        };
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(name) = self.string(item, &format!("{key}[{i}]")) {
                        out.insert(name, started.clone());
                    }
                }
            }
            Value::Map(m) => {
                for (name, e) in m {
                    let key = format!("{key}.{name}");
                    let mut d = started.clone();
                    if let Some(dm) = self.map(&e.node, &key) {
                        for (k, v) in dm {
                            let vkey = format!("{key}.{k}");
                            match k.as_str() {
                                "condition" => match self.string(&v.node, &vkey).as_deref() {
                                    Some("service_started") => d.condition = Condition::ServiceStarted,
                                    Some("service_healthy") => d.condition = Condition::ServiceHealthy,
                                    Some("service_completed_successfully") => {
                                        d.condition = Condition::ServiceCompletedSuccessfully
                                    }
                                    _ => self.err(&v.node, &vkey, format!("{} is not a condition: use service_started, service_healthy or service_completed_successfully", show(&v.node))),
                                },
                                "required" => d.required = self.boolean(&v.node, &vkey).unwrap_or(true),
                                "restart" => d.restart = self.boolean(&v.node, &vkey).unwrap_or(false),
                                other => self.diags.error(v.key_mark, &vkey, format!("'{other}' is not a depends_on key (condition, required, restart)")),
                            }
                        }
                    }
                    out.insert(name.clone(), d);
                }
            }
            Value::Null => {}
            Value::Scalar { .. } => self.err(node, key, "must be a list of services or a mapping"),
        }
        out
    }

    fn healthcheck(&mut self, node: &Node, key: &str) -> Option<Healthcheck> {
        let m = self.map(node, key)?;
        let mut h = Healthcheck::default();
        for (k, e) in m {
            let n = &e.node;
            let key = format!("{key}.{k}");
            match k.as_str() {
                "test" => {
                    h.test = match &n.value {
                        Value::Scalar { text, .. } => vec!["CMD-SHELL".into(), text.clone()],
                        _ => self.strings(n, &key),
                    };
                    if let Some(first) = h.test.first() {
                        if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                            self.err(n, &key, "a test list starts with CMD, CMD-SHELL or NONE");
                        }
                    }
                }
                "interval" => h.interval = self.duration(n, &key),
                "timeout" => h.timeout = self.duration(n, &key),
                "start_period" => h.start_period = self.duration(n, &key),
                "start_interval" => h.start_interval = self.duration(n, &key),
                "retries" => h.retries = self.unsigned(n, &key),
                "disable" => h.disable = self.boolean(n, &key).unwrap_or(false),
                other if other.starts_with("x-") => {}
                other => self
                    .diags
                    .error(e.key_mark, &key, format!("'{other}' is not a healthcheck key")),
            }
        }
        Some(h)
    }

    fn deploy(&mut self, node: &Node, key: &str) -> Option<Deploy> {
        let m = self.map(node, key)?;
        let mut d = Deploy::default();
        for (k, e) in m {
            let key = format!("{key}.{k}");
            if k == "resources" {
                if let Some(r) = self.map(&e.node, &key) {
                    for (rk, re) in r {
                        let rkey = format!("{key}.{rk}");
                        match rk.as_str() {
                            "limits" => d.resources.limits = self.resource_spec(&re.node, &rkey),
                            "reservations" => d.resources.reservations = self.resource_spec(&re.node, &rkey),
                            other => self.diags.error(
                                re.key_mark,
                                &rkey,
                                format!("'{other}' is not a resources key (limits, reservations)"),
                            ),
                        }
                    }
                }
            } else if !k.starts_with("x-") {
                let value = match crate::shape::deploy_key(k) {
                    Some(shape) => crate::shape::to_json(&e.node, shape),
                    None => Some(Self::to_json(&e.node)),
                };
                if let Some(v) = value {
                    d.extra.insert(k.clone(), v);
                }
            }
        }
        d.extra
            .entry("placement".into())
            .or_insert_with(crate::shape::empty_placement);
        Some(d)
    }

    fn resource_spec(&mut self, node: &Node, key: &str) -> Option<ResourceSpec> {
        let m = self.map(node, key)?;
        let mut r = ResourceSpec::default();
        for (k, e) in m {
            let n = &e.node;
            let key = format!("{key}.{k}");
            match k.as_str() {
                "cpus" => r.cpus = self.float(n, &key),
                "memory" => r.memory = self.bytes(n, &key),
                "pids" => r.pids = self.integer(n, &key),
                "devices" => {
                    if let Some(v) = crate::shape::to_json(n, &crate::shape::DEVICE_REQUESTS) {
                        r.extra.insert(k.clone(), v);
                    }
                }
                "generic_resources" => {
                    r.extra.insert(k.clone(), Self::to_json(n));
                }
                other => self.diags.error(
                    e.key_mark,
                    &key,
                    format!("'{other}' is not a resource key (cpus, memory, pids)"),
                ),
            }
        }
        Some(r)
    }

    fn service_networks(&mut self, node: &Node, key: &str) -> BTreeMap<String, Option<ServiceNetwork>> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(n) = self.string(item, &format!("{key}[{i}]")) {
                        out.insert(n, None);
                    }
                }
            }
            Value::Map(m) => {
                for (name, e) in m {
                    let key = format!("{key}.{name}");
                    let net = self.map(&e.node, &key).map(|nm| {
                        let mut sn = ServiceNetwork::default();
                        for (k, v) in nm {
                            match k.as_str() {
                                "aliases" => sn.aliases = self.strings(&v.node, &format!("{key}.aliases")),
                                "ipv4_address" => sn.ipv4_address = self.string(&v.node, &key),
                                "ipv6_address" => sn.ipv6_address = self.string(&v.node, &key),
                                other if other.starts_with("x-") || other == "gw_priority" => {}
                                other => {
                                    sn.extra.insert(other.to_string(), Self::to_json(&v.node));
                                }
                            }
                        }
                        sn
                    });
                    out.insert(name.clone(), net);
                }
            }
            Value::Null => {}
            Value::Scalar { .. } => self.err(node, key, "must be a list or a mapping of networks"),
        }
        out
    }

    fn ports(&mut self, node: &Node, key: &str) -> Vec<Port> {
        let Some(items) = self.seq(node, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("{key}[{i}]");
            match &item.value {
                Value::Scalar { text, .. } => match parse_port(text) {
                    Ok(p) => {
                        let count = p.target.1 - p.target.0;
                        for off in 0..=count {
                            let published = match (&p.published, count) {
                                (Some(pubs), c) if c > 0 => {
                                    let start: u16 = pubs.split('-').next().and_then(|x| x.parse().ok()).unwrap_or(0);
                                    Some((start + off).to_string())
                                }
                                (pubs, _) => pubs.clone(),
                            };
                            out.push(Port {
                                name: None,
                                mode: "ingress".into(),
                                host_ip: p.host_ip.clone(),
                                target: p.target.0 + off,
                                published,
                                protocol: p.protocol.clone(),
                                app_protocol: None,
                            });
                        }
                    }
                    Err(e) => self.err(item, &key, e),
                },
                Value::Map(m) => {
                    let mut p = Port {
                        name: None,
                        mode: "ingress".into(),
                        host_ip: None,
                        target: 0,
                        published: None,
                        protocol: "tcp".into(),
                        app_protocol: None,
                    };
                    for (k, e) in m {
                        let n = &e.node;
                        let pkey = format!("{key}.{k}");
                        match k.as_str() {
                            "target" => match self.integer(n, &pkey) {
                                Some(t) if (1..=65535).contains(&t) => p.target = t as u16,
                                Some(_) => self.err(n, &pkey, "must be a port number from 1 to 65535"),
                                None => {}
                            },
                            "published" => {
                                p.published = self.string(n, &pkey);
                                if let Some(pubs) = &p.published {
                                    if let Err(e) = parse_port(&format!("{pubs}:1")) {
                                        self.err(n, &pkey, e);
                                    }
                                }
                            }
                            "host_ip" => p.host_ip = self.string(n, &pkey),
                            "protocol" => p.protocol = self.string(n, &pkey).unwrap_or_else(|| "tcp".into()),
                            "mode" => p.mode = self.string(n, &pkey).unwrap_or_else(|| "ingress".into()),
                            "name" => p.name = self.string(n, &pkey),
                            "app_protocol" => p.app_protocol = self.string(n, &pkey),
                            other => self
                                .diags
                                .error(e.key_mark, &pkey, format!("'{other}' is not a port key")),
                        }
                    }
                    if p.target == 0 {
                        self.err(item, &key, "a port needs a target (the container port)");
                    } else {
                        out.push(p);
                    }
                }
                _ => self.err(item, &key, "must be a port string or mapping"),
            }
        }
        // One port per host address, published port, target and protocol (the last written,
        // where the first stood), as compose keeps them: `80:80` and `0.0.0.0:80:80` are one.
        let identity = |p: &Port| {
            (
                p.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into()),
                p.published.clone(),
                p.target,
                p.protocol.clone(),
            )
        };
        let mut unique: Vec<Port> = Vec::with_capacity(out.len());
        let mut seen = std::collections::HashMap::new();
        for p in out {
            match seen.get(&identity(&p)) {
                Some(&at) => unique[at] = p,
                None => {
                    seen.insert(identity(&p), unique.len());
                    unique.push(p);
                }
            }
        }
        unique
    }

    fn seq<'n>(&mut self, node: &'n Node, key: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(s) => Some(s),
            Value::Null => None,
            _ => {
                self.err(node, key, format!("must be a list, not {}", node.kind()));
                None
            }
        }
    }

    fn mounts(&mut self, node: &Node, key: &str) -> Vec<Mount> {
        let Some(items) = self.seq(node, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("{key}[{i}]");
            let mount = match &item.value {
                Value::Scalar { text, .. } => match parse_mount(text) {
                    Ok(spec) => {
                        let bind = spec.is_bind();
                        let has = |o: &str| spec.options.iter().any(|x| x == o);
                        let selinux = spec.options.iter().find(|o| *o == "z" || *o == "Z").cloned();
                        let propagation = spec
                            .options
                            .iter()
                            .find(|o| o.contains("shared") || o.contains("slave") || o.contains("private"))
                            .cloned();
                        Some(Mount {
                            kind: if bind { MountType::Bind } else { MountType::Volume },
                            source: spec.source.as_deref().map(|s| {
                                if bind {
                                    self.resolve_path(s).display().to_string()
                                } else {
                                    s.to_string()
                                }
                            }),
                            target: clean_path(&spec.target),
                            read_only: has("ro"),
                            // compose records an SELinux label (`:z`, `:Z`) under `bind`
                            // for named volumes too.
                            bind: (bind || selinux.is_some()).then_some(BindOptions {
                                propagation,
                                create_host_path: bind,
                                selinux,
                            }),
                            volume: (!bind).then(|| VolumeOptions {
                                nocopy: has("nocopy"),
                                subpath: None,
                            }),
                            tmpfs: None,
                            extra: Extra::new(),
                        })
                    }
                    Err(e) => {
                        self.err(item, &key, e);
                        None
                    }
                },
                Value::Map(_) => self.long_mount(item, &key),
                _ => {
                    self.err(item, &key, "must be a mount string or mapping");
                    None
                }
            };
            out.extend(mount);
        }
        out
    }

    fn long_mount(&mut self, item: &Node, key: &str) -> Option<Mount> {
        let m = item.as_map()?;
        let kind = match m.get("type").and_then(|t| t.node.as_str()) {
            Some("volume") => MountType::Volume,
            Some("bind") => MountType::Bind,
            Some("tmpfs") => MountType::Tmpfs,
            Some("npipe") => MountType::Npipe,
            Some("cluster") => MountType::Cluster,
            Some("image") => MountType::Image,
            _ => {
                self.err(item, key, "needs a type: volume, bind, tmpfs, npipe, cluster or image");
                return None;
            }
        };
        let mut mount = Mount {
            kind,
            source: None,
            target: String::new(),
            read_only: false,
            bind: None,
            volume: None,
            tmpfs: None,
            extra: Extra::new(),
        };
        for (k, e) in m {
            let n = &e.node;
            let mkey = format!("{key}.{k}");
            match k.as_str() {
                "type" => {}
                "source" => {
                    mount.source = self.string(n, &mkey).map(|s| {
                        if kind == MountType::Bind {
                            self.resolve_path(&s).display().to_string()
                        } else {
                            s
                        }
                    })
                }
                "target" => mount.target = self.string(n, &mkey).map(|t| clean_path(&t)).unwrap_or_default(),
                "read_only" => mount.read_only = self.boolean(n, &mkey).unwrap_or(false),
                "bind" => {
                    if let Some(bm) = self.map(n, &mkey) {
                        let mut b = BindOptions::default();
                        for (bk, be) in bm {
                            match bk.as_str() {
                                "propagation" => b.propagation = self.string(&be.node, &mkey),
                                "create_host_path" => {
                                    b.create_host_path = self.boolean(&be.node, &mkey).unwrap_or(false)
                                }
                                "selinux" => b.selinux = self.string(&be.node, &mkey),
                                _ => {}
                            }
                        }
                        mount.bind = Some(b);
                    }
                }
                "volume" => {
                    if let Some(vm) = self.map(n, &mkey) {
                        let mut v = VolumeOptions::default();
                        for (vk, ve) in vm {
                            match vk.as_str() {
                                "nocopy" => v.nocopy = self.boolean(&ve.node, &mkey).unwrap_or(false),
                                "subpath" => v.subpath = self.string(&ve.node, &mkey),
                                _ => {}
                            }
                        }
                        mount.volume = Some(v);
                    }
                }
                "tmpfs" => {
                    if let Some(tm) = self.map(n, &mkey) {
                        let mut t = TmpfsOptions::default();
                        for (tk, te) in tm {
                            match tk.as_str() {
                                "size" => t.size = self.bytes(&te.node, &mkey),
                                "mode" => t.mode = self.octal(&te.node, &mkey),
                                _ => {}
                            }
                        }
                        mount.tmpfs = Some(t);
                    }
                }
                "consistency" => {
                    mount.extra.insert(k.clone(), Self::to_json(n));
                }
                other => self
                    .diags
                    .error(e.key_mark, &mkey, format!("'{other}' is not a mount key")),
            }
        }
        if !mount.target.starts_with('/') {
            self.err(item, key, "needs a target: an absolute path in the container");
            return None;
        }
        if kind == MountType::Bind && mount.source.is_none() {
            self.err(item, key, "a bind mount needs a source path");
            return None;
        }
        Some(mount)
    }

    /// A service's secrets (`prefix` `/run/secrets/`, the default target compose prints) or
    /// configs (no `prefix`: compose prints no target unless one is written; the container
    /// gets `/<source>`).
    fn file_refs(&mut self, node: &Node, key: &str, prefix: Option<&str>) -> Vec<FileRef> {
        let Some(items) = self.seq(node, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("{key}[{i}]");
            let (source, written, uid, gid, mode) = match &item.value {
                Value::Scalar { text, .. } => (text.clone(), None, None, None, None),
                Value::Map(m) => {
                    let Some(source) = m.get("source").and_then(|s| self.string(&s.node, &key)) else {
                        self.err(item, &key, "needs a source: the name of a top-level entry");
                        continue;
                    };
                    (
                        source,
                        m.get("target").and_then(|t| self.string(&t.node, &key)),
                        m.get("uid").and_then(|u| self.string(&u.node, &key)),
                        m.get("gid").and_then(|g| self.string(&g.node, &key)),
                        m.get("mode")
                            .and_then(|md| crate::shape::to_json(&md.node, &crate::shape::Shape::FileMode))
                            .and_then(|v| v.as_u64())
                            .map(|v| v as u32),
                    )
                }
                _ => {
                    self.err(item, &key, "must be a name or a mapping");
                    continue;
                }
            };
            let written = written.or_else(|| prefix.map(|p| format!("{p}{source}")));
            let target = match written.as_deref() {
                Some(t) if t.starts_with('/') => t.to_string(),
                Some(t) => format!("{}{t}", prefix.unwrap_or("/")),
                None => format!("/{source}"),
            };
            out.push(FileRef {
                source,
                written_target: written,
                target,
                uid,
                gid,
                mode,
            });
        }
        out
    }

    /// `host=ip` entries, sorted (as compose prints them): a list of `host=ip` or `host:ip`,
    /// or a mapping whose value may be a list of addresses.
    fn extra_hosts(&mut self, node: &Node, key: &str) -> Vec<String> {
        let mut out: Vec<String> = match &node.value {
            Value::Map(m) => m
                .iter()
                .flat_map(|(h, e)| {
                    let ips = match &e.node.value {
                        Value::Seq(_) => self.strings(&e.node, &format!("{key}.{h}")),
                        _ => self.string(&e.node, &format!("{key}.{h}")).into_iter().collect(),
                    };
                    ips.into_iter().map(move |ip| format!("{h}={ip}"))
                })
                .collect(),
            _ => self
                .strings(node, key)
                .into_iter()
                .map(|h| match h.split_once('=') {
                    Some(_) => h,
                    None => h.replacen(':', "=", 1),
                })
                .collect(),
        };
        // `[::1]` is written for IPv6 addresses; compose keeps the address alone.
        for h in &mut out {
            if let Some((host, ip)) = h.split_once('=') {
                if let Some(bare) = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
                    *h = format!("{host}={bare}");
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn pull_policy(&mut self, node: &Node, key: &str) -> Option<String> {
        let p = self.string(node, key)?;
        let ok = matches!(
            p.as_str(),
            "always" | "never" | "missing" | "if_not_present" | "build" | "daily" | "weekly" | "refresh"
        ) || p.strip_prefix("every_").is_some_and(|d| parse_duration(d).is_ok());
        if !ok {
            self.err(
                node,
                key,
                format!(
                    "{} is not a pull policy: use always, never, missing, build, daily, weekly or every_<duration>",
                    show(node)
                ),
            );
            return None;
        }
        Some(if p == "if_not_present" { "missing".into() } else { p })
    }

    fn restart(&mut self, node: &Node, key: &str) -> Option<String> {
        let r = self.string(node, key)?;
        let ok = matches!(r.as_str(), "no" | "always" | "unless-stopped" | "on-failure")
            || r.strip_prefix("on-failure:").is_some_and(|n| n.parse::<u32>().is_ok());
        if !ok {
            self.err(
                node,
                key,
                format!(
                    "{} is not a restart policy: use no, always, on-failure[:N] or unless-stopped",
                    show(node)
                ),
            );
            return None;
        }
        Some(r)
    }

    pub fn network(&mut self, project: &str, name: &str, node: &Node) -> Network {
        let key = format!("networks.{name}");
        let mut n = Network::default();
        let mut explicit_name = None;
        if let Some(m) = self.map(node, &key) {
            for (k, e) in m {
                let v = &e.node;
                let key = format!("{key}.{k}");
                match k.as_str() {
                    "name" => explicit_name = self.string(v, &key),
                    "driver" => n.driver = self.string(v, &key),
                    "driver_opts" => n.driver_opts = self.labels(v, &key),
                    "external" => n.external = self.external(v, &key, &mut explicit_name),
                    "internal" => n.internal = self.boolean(v, &key).unwrap_or(false),
                    "attachable" => n.attachable = self.boolean(v, &key).unwrap_or(false),
                    "labels" => n.labels = self.labels(v, &key),
                    "ipam" => {
                        n.ipam = crate::shape::to_json(v, &crate::shape::IPAM).unwrap_or_default();
                    }
                    "enable_ipv4" | "enable_ipv6" => {
                        n.extra.insert(k.clone(), Self::to_json(v));
                    }
                    other if other.starts_with("x-") => {}
                    other => self
                        .diags
                        .error(e.key_mark, &key, format!("'{other}' is not a network key")),
                }
            }
        }
        n.name = resource_name(project, name, explicit_name, n.external);
        n
    }

    pub fn volume(&mut self, project: &str, name: &str, node: &Node) -> Volume {
        let key = format!("volumes.{name}");
        let mut v = Volume::default();
        let mut explicit_name = None;
        if let Some(m) = self.map(node, &key) {
            for (k, e) in m {
                let n = &e.node;
                let key = format!("{key}.{k}");
                match k.as_str() {
                    "name" => explicit_name = self.string(n, &key),
                    "driver" => v.driver = self.string(n, &key),
                    "driver_opts" => v.driver_opts = self.labels(n, &key),
                    "external" => v.external = self.external(n, &key, &mut explicit_name),
                    "labels" => v.labels = self.labels(n, &key),
                    other if other.starts_with("x-") => {}
                    other => self
                        .diags
                        .error(e.key_mark, &key, format!("'{other}' is not a volume key")),
                }
            }
        }
        // A local volume that binds a host folder: the folder relative to the project.
        if v.driver.as_deref() == Some("local") && v.driver_opts.get("o").map(String::as_str) == Some("bind") {
            if let Some(device) = v.driver_opts.get_mut("device") {
                *device = self.resolve_path(device).display().to_string();
            }
        }
        v.name = resource_name(project, name, explicit_name, v.external);
        v
    }

    /// `external: true`, or the legacy `external: {name: x}`.
    fn external(&mut self, node: &Node, key: &str, name: &mut Option<String>) -> bool {
        if let Some(n) = node.get("name") {
            *name = self.string(n, key);
            return true;
        }
        self.boolean(node, key).unwrap_or(false)
    }

    /// A top-level secret or config: exactly one of file, environment, content (or external).
    pub fn file_object(&mut self, section: &str, project: &str, name: &str, node: &Node) -> FileObject {
        let key = format!("{section}.{name}");
        let mut o = FileObject::default();
        let mut explicit_name = None;
        if let Some(m) = self.map(node, &key) {
            for (k, e) in m {
                let n = &e.node;
                let key = format!("{key}.{k}");
                match k.as_str() {
                    "name" => explicit_name = self.string(n, &key),
                    "file" => {
                        if let Some(f) = self.string(n, &key) {
                            let path = self.resolve_path(&f);
                            if !path.is_file() {
                                self.err(
                                    n,
                                    &key,
                                    format!(
                                        "{} does not exist: create it, or point `file:` at an existing file",
                                        path.display()
                                    ),
                                );
                            }
                            o.file = Some(path);
                        }
                    }
                    "environment" => {
                        if let Some(var) = self.string(n, &key) {
                            if !self.env.contains_key(&var) {
                                self.err(
                                    n,
                                    &key,
                                    format!("variable {var} is not set: set it in the environment or in .env"),
                                );
                            }
                            o.environment = Some(var);
                        }
                    }
                    "content" => o.content = self.string(n, &key),
                    "external" => o.external = self.external(n, &key, &mut explicit_name),
                    "labels" => o.labels = self.labels(n, &key),
                    "driver" => o.driver = self.string(n, &key),
                    "driver_opts" => o.driver_opts = self.labels(n, &key),
                    "template_driver" => o.template_driver = self.string(n, &key),
                    other if other.starts_with("x-") => {}
                    other => self
                        .diags
                        .error(e.key_mark, &key, format!("'{other}' is not a {section} key")),
                }
            }
        }
        let sources =
            usize::from(o.file.is_some()) + usize::from(o.environment.is_some()) + usize::from(o.content.is_some());
        if sources != 1 && !o.external {
            self.err(
                node,
                &key,
                "needs exactly one of file, environment or content (or external: true)",
            );
        }
        o.name = resource_name(project, name, explicit_name, o.external);
        o
    }
}

/// What compose adds to `depends_on` on its own: `links`, a namespace shared with another
/// service (`network_mode`, `ipc`, `pid`, `uts`, `cgroup`: `service:x`) and `volumes_from`.
/// The first two restart with the service they use, as in compose; none overrides an
/// explicit entry.
fn implicit_dependencies(s: &mut Service) {
    let text = |key: &str| s.extra.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let list = |key: &str| -> Vec<String> {
        s.extra
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let mut implied: Vec<(String, bool)> = Vec::new();
    for link in list("links") {
        let name = link.split_once(':').map_or(link.as_str(), |(n, _)| n).to_string();
        implied.push((name, true));
    }
    let namespaces = [
        s.network_mode.clone(),
        text("ipc"),
        text("pid"),
        text("uts"),
        text("cgroup"),
    ];
    for ns in namespaces.into_iter().flatten() {
        if let Some(name) = ns.strip_prefix("service:") {
            implied.push((name.to_string(), true));
        }
    }
    for from in list("volumes_from") {
        if !from.starts_with("container:") {
            let name = from.split(':').next().unwrap_or_default().to_string();
            implied.push((name, false));
        }
    }
    for (name, restart) in implied {
        s.depends_on.entry(name).or_insert(Dependency {
            condition: Condition::ServiceStarted,
            required: true,
            restart,
        });
    }
}

fn resource_name(project: &str, key: &str, explicit: Option<String>, external: bool) -> String {
    match explicit {
        Some(n) => n,
        None if external => key.to_string(),
        None => format!("{project}_{key}"),
    }
}

/// The marks of each service's `depends_on` entries, for errors found after typing.
pub fn dependency_marks(services: &Node) -> BTreeMap<(String, String), Mark> {
    let mut out = BTreeMap::new();
    if let Some(m) = services.as_map() {
        for (svc, e) in m {
            match e.node.get("depends_on").map(|d| &d.value) {
                Some(Value::Map(deps)) => {
                    for (dep, de) in deps {
                        out.insert((svc.clone(), dep.clone()), de.key_mark);
                    }
                }
                Some(Value::Seq(items)) => {
                    for item in items {
                        if let Some(dep) = item.as_str() {
                            out.insert((svc.clone(), dep.to_string()), item.mark);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}
