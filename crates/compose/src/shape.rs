//! The shapes of compose-go's Go types, for the keys Sirius Deck keeps untyped: a value is
//! printed in `config` exactly as `docker compose config` prints it once Go has decoded it into
//! its struct and encoded it back to JSON (numbers as numbers, sizes as quoted byte counts,
//! `Mapping`s as string maps, zero values omitted where the Go field says `omitempty`, struct
//! values that are not pointers always present).

use crate::goval::{float32_json, resolve_plain, scalar_text, GoScalar};
use crate::syntax::{format_duration, parse_bytes, parse_duration};
use crate::yaml::{Node, Value};
use serde_json::{Map as JMap, Value as J};

/// A Go type, as far as its JSON encoding goes.
pub enum Shape {
    /// `string`.
    Str,
    /// `int`, `int64`, `uint64`...
    Int,
    /// `*int`, `*uint64`: present even when zero.
    IntPtr,
    /// `float32`.
    F32,
    /// `bool`.
    Bool,
    /// `*bool`: present even when false.
    BoolPtr,
    /// `UnitBytes`: a size, encoded as a quoted byte count.
    Bytes,
    /// `Duration` / `*Duration`: encoded as Go prints a duration.
    Duration,
    /// `StringList`: one string or a list of strings, encoded as a list.
    StrList,
    /// `[]string`.
    Strs,
    /// `Mapping` / `Labels` / `Options`: `KEY=VALUE` list or mapping, values as strings.
    Mapping,
    /// `MappingWithEquals`: as `Mapping`, but a key without a value stays null.
    MappingEq,
    /// `ShellCommand`: a string split as a shell would, or a list; `null` when unset.
    Command,
    /// A struct behind a pointer: omitted when absent.
    Struct(&'static [(&'static str, Shape)]),
    /// A struct value: present (maybe `{}`) even when absent from the file.
    StructValue(&'static [(&'static str, Shape)]),
    /// `map[string]T`.
    MapOf(&'static Shape),
    /// `[]T`.
    ListOf(&'static Shape),
    /// `UlimitsConfig`: a number, or `{soft, hard}`.
    Ulimit,
    /// `DeviceMapping`: `src[:dst[:perms]]`, or the long form.
    Device,
    /// A device request's `count`: a number, or `all` (-1).
    DeviceCount,
    /// A file mode: a plain number as YAML reads it (`0440` octal), a quoted one in decimal.
    FileMode,
    /// A secret or config reference: a name (`{source: name}`) or the long form.
    FileRefShort,
}

use Shape::*;

const DURATION_PTR: Shape = Duration;

pub const SERVICE_HOOK: &[(&str, Shape)] = &[
    ("command", Command),
    ("user", Str),
    ("privileged", Bool),
    ("working_dir", Str),
    ("environment", MappingEq),
];

// Go structs without JSON tags: their fields print capitalised (`Path`, `Rate`).
const THROTTLE: &[(&str, Shape)] = &[("path", Str), ("rate", Bytes)];
const WEIGHT: &[(&str, Shape)] = &[("path", Str), ("weight", Int)];

/// The untyped service keys (everything `Service` has no field for).
pub fn service_key(key: &str) -> Option<&'static Shape> {
    static BLKIO: Shape = Struct(&[
        ("weight", Int),
        ("weight_device", ListOf(&Struct(WEIGHT))),
        ("device_read_bps", ListOf(&Struct(THROTTLE))),
        ("device_read_iops", ListOf(&Struct(THROTTLE))),
        ("device_write_bps", ListOf(&Struct(THROTTLE))),
        ("device_write_iops", ListOf(&Struct(THROTTLE))),
    ]);
    static CREDENTIAL: Shape = Struct(&[("config", Str), ("file", Str), ("registry", Str)]);
    static LOGGING: Shape = Struct(&[("driver", Str), ("options", Mapping)]);
    static HOOKS: Shape = ListOf(&Struct(SERVICE_HOOK));
    static DEVELOP: Shape = Struct(&[(
        "watch",
        ListOf(&Struct(&[
            ("path", Str),
            ("action", Str),
            ("target", Str),
            ("exec", StructValue(SERVICE_HOOK)),
            ("ignore", Strs),
        ])),
    )]);
    static ULIMITS: Shape = MapOf(&Ulimit);
    static DEVICES: Shape = ListOf(&Device);
    static GPUS: Shape = ListOf(&DEVICE_REQUEST);
    Some(match key {
        "annotations" | "sysctls" => &Mapping,
        "storage_opt" => &Mapping,
        "attach" => &BoolPtr,
        "blkio_config" => &BLKIO,
        "cgroup" | "cgroup_parent" | "cpuset" | "domainname" | "ipc" | "isolation" | "mac_address" | "pid"
        | "platform" | "runtime" | "userns_mode" | "uts" | "volume_driver" => &Str,
        "cpu_count" | "cpu_period" | "cpu_quota" | "cpu_rt_period" | "cpu_rt_runtime" | "cpu_shares"
        | "oom_score_adj" | "pids_limit" => &Int,
        "cpu_percent" => &F32,
        "scale" => &IntPtr,
        "credential_spec" => &CREDENTIAL,
        "develop" => &DEVELOP,
        "device_cgroup_rules"
        | "dns_opt"
        | "external_links"
        | "group_add"
        | "links"
        | "security_opt"
        | "volumes_from" => &Strs,
        "devices" => &DEVICES,
        "dns" | "dns_search" | "label_file" => &StrList,
        "gpus" => &GPUS,
        "logging" => &LOGGING,
        "mem_swappiness" | "memswap_limit" => &Bytes,
        "oom_kill_disable" => &Bool,
        "post_start" | "pre_stop" => &HOOKS,
        "ulimits" => &ULIMITS,
        _ => return None,
    })
}

pub static DEVICE_REQUESTS: Shape = ListOf(&DEVICE_REQUEST);

pub static DEVICE_REQUEST: Shape = Struct(&[
    ("capabilities", Strs),
    ("driver", Str),
    ("count", DeviceCount),
    ("device_ids", Strs),
    ("options", Mapping),
]);

pub static MAPPING: Shape = Mapping;

/// A secret used by a build: its name, or the long form.
pub static FILE_REF: Shape = Struct(&[
    ("source", Str),
    ("target", Str),
    ("uid", Str),
    ("gid", Str),
    ("mode", FileMode),
]);

/// A network's `ipam` (compose knows no `options` there).
pub static IPAM: Shape = StructValue(&[
    ("driver", Str),
    (
        "config",
        ListOf(&Struct(&[
            ("subnet", Str),
            ("ip_range", Str),
            ("gateway", Str),
            ("aux_addresses", Mapping),
        ])),
    ),
]);

/// The untyped `build` keys.
pub fn build_key(key: &str) -> Option<&'static Shape> {
    static ULIMITS: Shape = MapOf(&Ulimit);
    static SECRETS: Shape = ListOf(&FileRefShort);
    Some(match key {
        "secrets" => &SECRETS,
        "cache_from" | "cache_to" | "tags" | "platforms" => &StrList,
        "entitlements" => &Strs,
        "no_cache" | "pull" | "privileged" => &Bool,
        "additional_contexts" => &Mapping,
        "isolation" => &Str,
        "shm_size" => &Bytes,
        "ulimits" => &ULIMITS,
        _ => return None,
    })
}

/// The untyped `deploy` keys.
pub fn deploy_key(key: &str) -> Option<&'static Shape> {
    static UPDATE: Shape = Struct(&[
        ("parallelism", IntPtr),
        ("delay", Duration),
        ("failure_action", Str),
        ("monitor", Duration),
        ("max_failure_ratio", F32),
        ("order", Str),
    ]);
    static RESTART: Shape = Struct(&[
        ("condition", Str),
        ("delay", DURATION_PTR),
        ("max_attempts", IntPtr),
        ("window", DURATION_PTR),
    ]);
    static PLACEMENT: Shape = StructValue(&[
        ("constraints", Strs),
        ("preferences", ListOf(&Struct(&[("spread", Str)]))),
        ("max_replicas_per_node", Int),
    ]);
    Some(match key {
        "mode" | "endpoint_mode" => &Str,
        "replicas" => &IntPtr,
        "labels" => &Mapping,
        "update_config" | "rollback_config" => &UPDATE,
        "restart_policy" => &RESTART,
        "placement" => &PLACEMENT,
        _ => return None,
    })
}

/// `placement` when the file has none: compose prints `{}`.
pub fn empty_placement() -> J {
    J::Object(JMap::new())
}

fn capitalise(k: &str) -> String {
    let mut c = k.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The JSON compose prints for `node` of type `shape`; `None` where Go omits it.
pub fn to_json(node: &Node, shape: &Shape) -> Option<J> {
    let text = || match &node.value {
        Value::Scalar { text, quoted } => scalar_text(text, *quoted),
        _ => None,
    };
    let out = match shape {
        Str => J::String(text().filter(|s| !s.is_empty())?),
        Int | IntPtr => {
            let v = match &node.value {
                Value::Scalar { text, quoted: false } => match resolve_plain(text) {
                    GoScalar::Int(i) => J::from(i as i64),
                    GoScalar::Float(f) => J::from(f as i64),
                    _ => J::String(text.clone()),
                },
                Value::Scalar { text, .. } => text.parse::<i64>().map(J::from).unwrap_or(J::String(text.clone())),
                _ => return None,
            };
            if matches!(shape, Int) && v == 0 {
                return None;
            }
            v
        }
        F32 => {
            let f: f64 = text()?.parse().ok()?;
            if f == 0.0 {
                return None;
            }
            float32_json(f)
        }
        Bool | BoolPtr => {
            let b = matches!(text()?.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "y");
            if matches!(shape, Bool) && !b {
                return None;
            }
            J::Bool(b)
        }
        Bytes => {
            let t = text()?;
            if t.trim() == "-1" {
                return Some(J::String("-1".into())); // unlimited (memswap_limit)
            }
            let n = parse_bytes(&t).ok()?;
            if n == 0 {
                return None;
            }
            J::String(n.to_string())
        }
        Duration => J::String(format_duration(parse_duration(&text()?).ok()?)),
        StrList => match &node.value {
            Value::Scalar { .. } => J::Array(vec![J::String(text()?)]),
            _ => return to_json(node, &Strs),
        },
        Strs => {
            let items: Vec<J> = node
                .as_seq()?
                .iter()
                .filter_map(|n| match &n.value {
                    Value::Scalar { text, quoted } => scalar_text(text, *quoted).map(J::String),
                    _ => None,
                })
                .collect();
            if items.is_empty() {
                return None;
            }
            J::Array(items)
        }
        Mapping | MappingEq => {
            let mut m = JMap::new();
            match &node.value {
                Value::Map(map) => {
                    for (k, e) in map {
                        let v = match &e.node.value {
                            Value::Scalar { text, quoted } => scalar_text(text, *quoted),
                            _ => None,
                        };
                        let v = match (v, shape) {
                            (Some(v), _) => J::String(v),
                            (None, MappingEq) => J::Null,
                            (None, _) => J::String(String::new()),
                        };
                        m.insert(k.clone(), v);
                    }
                }
                Value::Seq(items) => {
                    for item in items {
                        let Some(s) = item.as_str() else { continue };
                        match s.split_once('=') {
                            Some((k, v)) => m.insert(k.to_string(), J::String(v.to_string())),
                            None if matches!(shape, MappingEq) => m.insert(s.to_string(), J::Null),
                            None => m.insert(s.to_string(), J::String(String::new())),
                        };
                    }
                }
                _ => return None,
            }
            if m.is_empty() {
                return None;
            }
            J::Object(m)
        }
        Command => match &node.value {
            Value::Scalar { text, .. } => J::Array(shell_words::split(text).ok()?.into_iter().map(J::String).collect()),
            Value::Seq(_) => to_json(node, &Strs).unwrap_or(J::Array(Vec::new())),
            _ => J::Null,
        },
        Struct(fields) | StructValue(fields) => {
            let mut m = JMap::new();
            if let Some(map) = node.as_map() {
                for (k, e) in map {
                    if let Some((_, s)) = fields.iter().find(|(f, _)| f == k) {
                        if let Some(v) = to_json(&e.node, s) {
                            let untagged = std::ptr::eq(*fields, THROTTLE) || std::ptr::eq(*fields, WEIGHT);
                            m.insert(if untagged { capitalise(k) } else { k.clone() }, v);
                        }
                    }
                }
            } else if matches!(shape, Struct(_)) {
                return None;
            }
            // Fields whose JSON has no omitempty.
            for (f, s) in fields.iter() {
                if matches!(s, Command | StructValue(_)) && !m.contains_key(*f) {
                    let empty = Node::new(Value::Null, node.mark);
                    m.insert((*f).to_string(), to_json(&empty, s).unwrap_or(J::Null));
                }
            }
            J::Object(m)
        }
        MapOf(inner) => {
            let mut m = JMap::new();
            for (k, e) in node.as_map()? {
                if let Some(v) = to_json(&e.node, inner) {
                    m.insert(k.clone(), v);
                }
            }
            if m.is_empty() {
                return None;
            }
            J::Object(m)
        }
        ListOf(inner) if std::ptr::eq(*inner, &DEVICE_REQUEST) && node.as_str() == Some("all") => {
            J::Array(vec![serde_json::json!({"count": -1})])
        }
        ListOf(inner) => {
            let items: Vec<J> = node.as_seq()?.iter().filter_map(|n| to_json(n, inner)).collect();
            if items.is_empty() {
                return None;
            }
            J::Array(items)
        }
        Ulimit => match &node.value {
            // `nofile: 0` is Go's zero value: printed as an empty mapping.
            Value::Scalar { .. } => to_json(node, &Int).unwrap_or_else(|| J::Object(JMap::new())),
            _ => to_json(node, &Struct(&[("soft", Int), ("hard", Int)]))?,
        },
        Device => match &node.value {
            Value::Scalar { .. } => {
                let s = text()?;
                let parts: Vec<&str> = s.split(':').collect();
                let (source, target, perms) = match parts.as_slice() {
                    [src] => (*src, *src, "rwm"),
                    [src, dst] => (*src, *dst, "rwm"),
                    [src, dst, p, ..] => (*src, *dst, *p),
                    [] => return None,
                };
                let mut m = JMap::new();
                m.insert("source".into(), J::String(source.into()));
                m.insert("target".into(), J::String(target.into()));
                m.insert("permissions".into(), J::String(perms.into()));
                J::Object(m)
            }
            _ => to_json(node, &Struct(&[("source", Str), ("target", Str), ("permissions", Str)]))?,
        },
        FileMode => match &node.value {
            Value::Scalar { text, quoted: true } => J::from(text.trim().parse::<u64>().ok()?),
            Value::Scalar { text, quoted: false } => match resolve_plain(text) {
                GoScalar::Int(i) => J::from(i as i64),
                _ => return None,
            },
            _ => return None,
        },
        FileRefShort => match &node.value {
            Value::Scalar { .. } => serde_json::json!({ "source": text()? }),
            _ => to_json(node, &FILE_REF)?,
        },
        DeviceCount => match text()?.as_str() {
            "all" => J::from(-1),
            t => J::from(t.parse::<i64>().ok()?),
        },
    };
    Some(out)
}
