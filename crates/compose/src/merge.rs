//! Merging override files exactly as compose-go's `override` package merges them.
//!
//! Mappings deep-merge, scalars are replaced, sequences append (`Merge`), with compose's
//! special rules: `command`, `entrypoint`, `healthcheck.test` and each `ulimits` entry are
//! replaced; `environment`, `labels`, `dns`, `tmpfs`, `build.args` and their kin become
//! `KEY=VALUE` sequences and append; `extra_hosts` appends what is new; `depends_on` and
//! `networks` merge as mappings whatever their syntax; `build: ./dir` is `{context: ./dir}`;
//! `logging` options merge only when the driver stays the same. Then (`EnforceUnicity`) the
//! sequences that identify their items (by key, mount target, port, path) keep one item per
//! identity: the last one written, where the first one stood.
//! `!reset` removes what earlier files set, `!override` replaces it whole.

use crate::diag::Diags;
use crate::goval::scalar_text;
use crate::normalize::clean_path;
use crate::syntax::parse_mount;
use crate::yaml::{Entry, Map, Mark, Node, Tag, Value};

/// Merges `over` (a later file) into `base`. Both are whole-file roots.
pub fn merge_root(base: Node, over: Node, diags: &mut Diags) -> Node {
    let mut merged = merge(&Path::Root, "", base, over, diags);
    enforce_unicity(&mut merged, &Path::Root);
    merged
}

/// Merges service `over` into service `base` (`extends`), by the same rules.
pub(crate) fn merge_service(base: Node, over: Node, diags: &mut Diags) -> Node {
    let mut merged = merge(&Path::Service, "", base, over, diags);
    enforce_unicity(&mut merged, &Path::Service);
    merged
}

/// Drops `!reset` entries from the first file, where there is nothing to reset, and keeps one
/// item per identity in its sequences (compose applies its uniqueness rules to every file).
pub fn strip_resets(node: &mut Node) {
    fn strip(node: &mut Node) {
        match &mut node.value {
            Value::Map(m) => {
                m.retain(|_, e| e.node.tag != Tag::Reset);
                m.values_mut().for_each(|e| strip(&mut e.node));
            }
            Value::Seq(s) => {
                s.retain(|n| n.tag != Tag::Reset);
                s.iter_mut().for_each(strip);
            }
            _ => {}
        }
    }
    strip(node);
    enforce_unicity(node, &Path::Root);
}

/// Where in the file a value sits, as far as the merge rules care.
#[derive(Clone, Debug, PartialEq)]
enum Path {
    Root,
    /// A named entry of a top-level section (`services.x`, `volumes.y`).
    Section(String),
    Service,
    ServiceKey(String),
    /// Below a service key: `build.args`, `healthcheck.test`, `networks.*.aliases` ...; the
    /// names of user-named entries (networks, ulimits) are `*`.
    Nested(String),
    Other,
}

impl Path {
    fn child(&self, key: &str) -> Path {
        match self {
            Path::Root if matches!(key, "services" | "networks" | "volumes" | "secrets" | "configs") => {
                Path::Section(key.to_string())
            }
            Path::Section(s) if s == "services" => Path::Service,
            Path::Section(s) => Path::Nested(format!("{s}.*")),
            Path::Service => Path::ServiceKey(key.to_string()),
            Path::ServiceKey(k) if matches!(k.as_str(), "networks" | "ulimits") => Path::Nested(format!("{k}.*")),
            Path::ServiceKey(k) => Path::Nested(format!("{k}.{key}")),
            Path::Nested(p) if p.matches('.').count() < 3 => Path::Nested(format!("{p}.{key}")),
            _ => Path::Other,
        }
    }

    fn name(&self) -> &str {
        match self {
            Path::ServiceKey(k) | Path::Nested(k) => k,
            _ => "",
        }
    }
}

/// compose-go's `mergeSpecials`.
enum Rule {
    Replace,
    ToSequence,
    ExtraHosts,
    DependsOn,
    Networks,
    Build,
    Logging,
    Deep,
}

fn rule(path: &Path) -> Rule {
    if matches!(path, Path::Section(_) | Path::Root | Path::Service | Path::Other) {
        return Rule::Deep;
    }
    match path.name() {
        "command" | "entrypoint" | "healthcheck.test" | "ulimits.*" => Rule::Replace,
        "annotations"
        | "build.args"
        | "build.additional_contexts"
        | "build.labels"
        | "deploy.labels"
        | "dns"
        | "dns_opt"
        | "dns_search"
        | "env_file"
        | "label_file"
        | "environment"
        | "labels"
        | "sysctls"
        | "tmpfs" => Rule::ToSequence,
        "networks.*.labels" | "volumes.*.labels" => Rule::ToSequence,
        "extra_hosts" | "build.extra_hosts" => Rule::ExtraHosts,
        "depends_on" => Rule::DependsOn,
        "networks" => Rule::Networks,
        "build" => Rule::Build,
        "logging" => Rule::Logging,
        _ => Rule::Deep,
    }
}

/// `loc` is the dotted key of the value, for messages.
fn merge(path: &Path, loc: &str, base: Node, over: Node, diags: &mut Diags) -> Node {
    if over.tag == Tag::Override {
        return Node { tag: Tag::None, ..over };
    }
    match rule(path) {
        Rule::Replace => over,
        Rule::ToSequence => {
            let mark = base.mark;
            let mut over = over;
            let mut reset = Vec::new();
            if let Value::Map(m) = &mut over.value {
                m.retain(|k, e| {
                    let keep = e.node.tag != Tag::Reset;
                    if !keep {
                        reset.push(k.clone());
                    }
                    keep
                });
            }
            let mut items = to_sequence(base);
            items.retain(|i| key_of(i).is_none_or(|k| !reset.contains(&k)));
            items.extend(to_sequence(over));
            Node::new(Value::Seq(items), mark)
        }
        Rule::ExtraHosts => {
            let mark = base.mark;
            let mut items = to_sequence(base);
            for item in to_sequence(over) {
                if !items.iter().any(|i| i.as_str() == item.as_str()) {
                    items.push(item);
                }
            }
            Node::new(Value::Seq(items), mark)
        }
        Rule::DependsOn => merge_maps(path, loc, depends_on_map(base), depends_on_map(over), diags),
        Rule::Networks => merge_maps(path, loc, networks_map(base), networks_map(over), diags),
        Rule::Build => merge_maps(path, loc, build_map(base), build_map(over), diags),
        Rule::Logging => {
            let driver = |n: &Node| n.get("driver").and_then(Node::as_str).map(str::to_string);
            match (driver(&base), driver(&over)) {
                (Some(a), Some(b)) if a != b => over,
                _ => merge_maps(path, loc, base, over, diags),
            }
        }
        Rule::Deep => match (&base.value, &over.value) {
            (Value::Map(_), Value::Map(_)) => merge_maps(path, loc, base, over, diags),
            (Value::Seq(_), Value::Seq(_)) => {
                let (Value::Seq(mut a), Value::Seq(b)) = (base.value, over.value) else {
                    unreachable!("matched above")
                };
                a.extend(b);
                Node::new(Value::Seq(a), base.mark)
            }
            _ => over,
        },
    }
}

fn merge_maps(path: &Path, loc: &str, base: Node, over: Node, diags: &mut Diags) -> Node {
    let base_mark = base.mark;
    if !matches!((&base.value, &over.value), (Value::Map(_), Value::Map(_))) {
        // A mapping overridden by something else: the later file wins.
        return Node { tag: Tag::None, ..over };
    }
    let (Value::Map(mut result), Value::Map(more)) = (base.value, over.value) else {
        unreachable!("checked above")
    };
    for (key, entry) in more {
        if entry.node.tag == Tag::Reset {
            result.shift_remove(&key);
            continue;
        }
        let child_loc = if loc.is_empty() {
            key.clone()
        } else {
            format!("{loc}.{key}")
        };
        match result.get_mut(&key) {
            // Extensions are replaced whole, never merged.
            Some(old) if !key.starts_with("x-") => {
                if entry.node.is_empty() && !old.node.is_empty() && entry.node.tag == Tag::None {
                    lint_ignored_empty(&child_loc, &key, old, &entry, diags);
                }
                if !entry.node.is_null() {
                    // Merged in place: removing and re-inserting would shift the whole map.
                    let base = std::mem::replace(&mut old.node, Node::new(Value::Null, old.key_mark));
                    old.node = merge(&path.child(&key), &child_loc, base, entry.node, diags);
                }
            }
            Some(old) => *old = entry,
            None => {
                result.insert(key, entry);
            }
        }
    }
    Node::new(Value::Map(result), base_mark)
}

/// An empty value in an override does not clear what the base file set: compose v2 merges it,
/// so the base value still applies. Users write `depends_on: []` expecting the opposite.
fn lint_ignored_empty(loc: &str, key: &str, old: &Entry, new: &Entry, diags: &mut Diags) {
    let what = match &old.node.value {
        Value::Map(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
        Value::Seq(s) => format!("{} item(s)", s.len()),
        _ => "the earlier value".into(),
    };
    let written = match &new.node.value {
        Value::Map(_) => "{}",
        Value::Seq(_) => "[]",
        _ => "an empty value",
    };
    let base_file = diags
        .files
        .get(old.key_mark.file)
        .and_then(|p| p.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    diags.warn(
        new.key_mark,
        loc,
        format!(
            "`{key}: {written}` does not remove what {base_file}:{} sets ({what}): docker compose v2 merges it, so that still applies. Write `{key}: !reset {written}` to remove it.",
            old.key_mark.line
        ),
    );
}

/// compose-go's `convertIntoSequence`: a mapping becomes its `KEY=VALUE` items sorted (values
/// printed as compose prints them, a list value giving one item per element, a null value
/// just the key), a scalar a one-item sequence.
fn to_sequence(node: Node) -> Vec<Node> {
    match node.value {
        Value::Seq(items) => items,
        Value::Map(map) => {
            let mut items: Vec<Node> = Vec::new();
            for (k, e) in map {
                let mark = e.key_mark;
                let text = |n: &Node| match &n.value {
                    Value::Scalar { text, quoted } => scalar_text(text, *quoted).unwrap_or_default(),
                    _ => String::new(),
                };
                match &e.node.value {
                    Value::Null => items.push(Node::string(k.clone(), mark)),
                    Value::Seq(values) => {
                        items.extend(values.iter().map(|v| Node::string(format!("{k}={}", text(v)), mark)))
                    }
                    _ => items.push(Node::string(format!("{k}={}", text(&e.node)), mark)),
                }
            }
            items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            items
        }
        Value::Scalar { .. } => vec![node],
        Value::Null => Vec::new(),
    }
}

fn default_dependency(m: Mark) -> Node {
    let mut map = Map::new();
    for (k, v) in [("condition", "service_started"), ("required", "true")] {
        map.insert(
            k.into(),
            Entry {
                key_mark: m,
                node: Node::new(
                    Value::Scalar {
                        text: v.into(),
                        quoted: false,
                    },
                    m,
                ),
            },
        );
    }
    Node::new(Value::Map(map), m)
}

/// A list of names as a mapping from each name to `value(mark)`.
fn names_to_map(node: Node, value: fn(Mark) -> Node) -> Node {
    let mark = node.mark;
    match node.value {
        Value::Seq(items) => {
            let mut map = Map::new();
            for item in items {
                if let Some(name) = item.as_str() {
                    map.insert(
                        name.to_string(),
                        Entry {
                            key_mark: item.mark,
                            node: value(item.mark),
                        },
                    );
                }
            }
            Node::new(Value::Map(map), mark)
        }
        value => Node { value, ..node },
    }
}

fn depends_on_map(node: Node) -> Node {
    names_to_map(node, default_dependency)
}

fn networks_map(node: Node) -> Node {
    names_to_map(node, |m| Node::new(Value::Null, m))
}

/// `build: ./dir` as `{context: ./dir}`.
fn build_map(node: Node) -> Node {
    match &node.value {
        Value::Scalar { .. } => {
            let mut map = Map::new();
            map.insert(
                "context".into(),
                Entry {
                    key_mark: node.mark,
                    node: node.clone(),
                },
            );
            Node::new(Value::Map(map), node.mark)
        }
        _ => node,
    }
}

/// compose-go's `EnforceUnicity`: in the sequences that identify their items, one item per
/// identity, the last written standing where the first stood.
fn enforce_unicity(node: &mut Node, path: &Path) {
    match &mut node.value {
        Value::Map(m) => {
            for (k, e) in m.iter_mut() {
                enforce_unicity(&mut e.node, &path.child(k));
            }
        }
        Value::Seq(items) => {
            let Some(identity) = identity(path) else { return };
            let mut kept: Vec<Node> = Vec::with_capacity(items.len());
            let mut seen: std::collections::HashMap<String, usize> = Default::default();
            for item in std::mem::take(items) {
                match identity(&item) {
                    Some(k) => match seen.get(&k) {
                        Some(&at) => kept[at] = item,
                        None => {
                            seen.insert(k, kept.len());
                            kept.push(item);
                        }
                    },
                    None => kept.push(item),
                }
            }
            *items = kept;
        }
        _ => {}
    }
}

/// compose-go's `unique` indexers.
fn identity(path: &Path) -> Option<fn(&Node) -> Option<String>> {
    if !matches!(path, Path::ServiceKey(_) | Path::Nested(_)) {
        return None;
    }
    Some(match path.name() {
        "annotations"
        | "build.args"
        | "build.additional_contexts"
        | "build.tags"
        | "build.labels"
        | "cap_add"
        | "cap_drop"
        | "deploy.labels"
        | "dns"
        | "dns_opt"
        | "dns_search"
        | "environment"
        | "labels"
        | "links"
        | "networks.*.aliases"
        | "networks.*.link_local_ips"
        | "networks.*.labels"
        | "profiles"
        | "sysctls"
        | "tmpfs" => key_of,
        "devices" => device_target,
        "configs" => |n| mount_ref(n, ""),
        "secrets" => |n| mount_ref(n, "/run/secrets"),
        "env_file" => |n| n.get("path").unwrap_or(n).as_str().map(str::to_string),
        "expose" => |n| n.as_str().map(str::to_string),
        "ports" => port_key,
        "volumes" => mount_target,
        _ => return None,
    })
}

fn key_of(n: &Node) -> Option<String> {
    let s = n.as_str()?;
    Some(s.split_once('=').map_or(s, |(k, _)| k).to_string())
}

fn device_target(n: &Node) -> Option<String> {
    match &n.value {
        Value::Scalar { text, .. } => {
            let parts: Vec<&str> = text.split(':').collect();
            Some(parts.get(1).unwrap_or(&parts[0]).to_string())
        }
        Value::Map(_) => n.get("target").and_then(Node::as_str).map(str::to_string),
        _ => None,
    }
}

fn mount_ref(n: &Node, default_dir: &str) -> Option<String> {
    match &n.value {
        Value::Scalar { text, .. } => Some(format!("{default_dir}/{text}")),
        Value::Map(_) => match n.get("target").and_then(Node::as_str) {
            Some(t) => Some(t.to_string()),
            None => Some(format!("{default_dir}/{}", n.get("source").and_then(Node::as_str)?)),
        },
        _ => None,
    }
}

/// A port as written (a string identifies itself), or `host:published:target/protocol`.
fn port_key(n: &Node) -> Option<String> {
    match &n.value {
        Value::Scalar { text, .. } => Some(text.clone()),
        Value::Map(_) => {
            let get = |k: &str, d: &str| n.get(k).and_then(Node::as_str).unwrap_or(d).to_string();
            Some(format!(
                "{}:{}:{}/{}",
                get("host_ip", "0.0.0.0"),
                get("published", ""),
                get("target", ""),
                get("protocol", "tcp")
            ))
        }
        _ => None,
    }
}

fn mount_target(n: &Node) -> Option<String> {
    match &n.value {
        Value::Scalar { text, .. } => parse_mount(text).ok().map(|m| clean_path(&m.target)),
        Value::Map(_) => n.get("target").and_then(Node::as_str).map(clean_path),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn merged(base: &str, over: &str) -> (Node, Diags) {
        let mut diags = Diags {
            files: vec!["base.yaml".into(), "over.yaml".into()],
            ..Default::default()
        };
        let mut b = parse(base, 0).expect("base");
        strip_resets(&mut b);
        let o = parse(over, 1).expect("over");
        (merge_root(b, o, &mut diags), diags)
    }

    fn svc<'a>(n: &'a Node, key: &str) -> &'a Node {
        n.get("services")
            .and_then(|s| s.get("web"))
            .and_then(|w| w.get(key))
            .expect(key)
    }

    fn texts(n: &Node) -> Vec<String> {
        n.as_seq()
            .expect("seq")
            .iter()
            .map(|i| i.as_str().unwrap_or("").to_string())
            .collect()
    }

    fn keys(n: &Node) -> Vec<String> {
        n.as_map().expect("map").keys().cloned().collect()
    }

    // Each case follows an example of the compose specification's "Merge and override" page.

    #[test]
    fn mappings_deep_merge_and_scalars_replace() {
        let (n, _) = merged(
            "services:\n  web:\n    image: a\n    build: {context: ., target: dev}\n",
            "services:\n  web:\n    image: b\n    build: {target: prod}\n",
        );
        assert_eq!(svc(&n, "image").as_str(), Some("b"));
        assert_eq!(svc(&n, "build").get("context").and_then(Node::as_str), Some("."));
        assert_eq!(svc(&n, "build").get("target").and_then(Node::as_str), Some("prod"));
    }

    #[test]
    fn command_entrypoint_and_healthcheck_test_are_replaced() {
        let (n, _) = merged(
            "services:\n  web:\n    command: [a, b]\n    entrypoint: [x]\n    healthcheck: {test: [CMD, a], interval: 5s}\n",
            "services:\n  web:\n    command: [c]\n    entrypoint: [y, z]\n    healthcheck: {test: [CMD, b]}\n",
        );
        assert_eq!(texts(svc(&n, "command")), ["c"]);
        assert_eq!(texts(svc(&n, "entrypoint")), ["y", "z"]);
        assert_eq!(texts(svc(&n, "healthcheck").get("test").expect("test")), ["CMD", "b"]);
        assert_eq!(
            svc(&n, "healthcheck").get("interval").and_then(Node::as_str),
            Some("5s")
        );
    }

    #[test]
    fn environment_labels_and_build_args_become_sequences_unique_by_key() {
        let (n, _) = merged(
            "services:\n  web:\n    environment: [A=1, B=2]\n    labels: {x: '1', z: 1.0}\n    build: {args: [V=1]}\n",
            "services:\n  web:\n    environment: {B: 3, C: 4, D: null}\n    labels: [y=2]\n    build: {args: {W: 2}}\n",
        );
        assert_eq!(texts(svc(&n, "environment")), ["A=1", "B=3", "C=4", "D"]);
        assert_eq!(texts(svc(&n, "labels")), ["x=1", "z=1", "y=2"]);
        assert_eq!(texts(svc(&n, "build").get("args").expect("args")), ["V=1", "W=2"]);
    }

    #[test]
    fn sequences_append_and_unique_lists_deduplicate() {
        let (n, _) = merged(
            "services:\n  web:\n    dns: [8.8.8.8]\n    cap_add: [NET_ADMIN]\n    ports: ['3000:3000', '127.0.0.1:80:80']\n    volumes: ['db:/data', './a:/a']\n    secrets: [s1]\n    extra: [1]\n",
            "services:\n  web:\n    dns: [1.1.1.1]\n    cap_add: [NET_ADMIN, NET_RAW]\n    ports: ['3000:3000', '3001:3001', '80:80']\n    volumes: ['./b:/a']\n    secrets: [{source: s2, target: s1}]\n    extra: [2]\n",
        );
        assert_eq!(texts(svc(&n, "dns")), ["8.8.8.8", "1.1.1.1"]);
        assert_eq!(texts(svc(&n, "cap_add")), ["NET_ADMIN", "NET_RAW"]);
        assert_eq!(
            texts(svc(&n, "ports")),
            ["3000:3000", "127.0.0.1:80:80", "3001:3001", "80:80"]
        );
        assert_eq!(texts(svc(&n, "volumes")), ["db:/data", "./b:/a"]);
        // Secrets are one per target: `s1` is /run/secrets/s1, the target `s1` another.
        let secrets = svc(&n, "secrets").as_seq().expect("seq");
        assert_eq!(secrets.len(), 2);
        assert_eq!(svc(&n, "extra").as_seq().map(<[Node]>::len), Some(2));
    }

    #[test]
    fn depends_on_short_syntax_becomes_long_before_merging() {
        let (n, _) = merged(
            "services:\n  web:\n    depends_on:\n      db: {condition: service_healthy}\n      cache: {condition: service_healthy}\n",
            "services:\n  web:\n    depends_on: [db, queue]\n",
        );
        let d = svc(&n, "depends_on");
        assert_eq!(keys(d), ["db", "cache", "queue"]);
        let cond = |s: &str| {
            d.get(s)
                .and_then(|x| x.get("condition"))
                .and_then(Node::as_str)
                .map(str::to_string)
        };
        assert_eq!(cond("db").as_deref(), Some("service_started"));
        assert_eq!(cond("cache").as_deref(), Some("service_healthy"));
        assert_eq!(
            d.get("queue").and_then(|x| x.get("required")).and_then(Node::as_str),
            Some("true")
        );
    }

    #[test]
    fn empty_override_does_not_clear_and_is_linted() {
        let (n, diags) = merged(
            "services:\n  web:\n    depends_on: {db: {condition: service_healthy}}\n",
            "services:\n  web:\n    image: x\n    depends_on: []\n",
        );
        assert_eq!(keys(svc(&n, "depends_on")), ["db"]);
        assert_eq!(diags.warnings.len(), 1);
        let w = &diags.warnings[0];
        assert_eq!(w.line, Some(4));
        assert_eq!(w.file.as_deref(), Some(std::path::Path::new("over.yaml")));
        assert!(w.message.contains("!reset []"), "{}", w.message);
    }

    #[test]
    fn reset_removes_and_override_replaces() {
        let (n, diags) = merged(
            "services:\n  web:\n    depends_on: [db]\n    ports: ['80:80']\n    environment: {A: 1, B: 2}\n",
            "services:\n  web:\n    depends_on: !reset []\n    ports: !override ['81:81']\n    environment: {A: !reset null}\n",
        );
        let web = n.get("services").and_then(|s| s.get("web")).expect("web");
        assert!(web.get("depends_on").is_none());
        assert_eq!(texts(svc(&n, "ports")), ["81:81"]);
        assert_eq!(texts(svc(&n, "environment")), ["B=2"]);
        assert!(diags.warnings.is_empty());
    }
}
