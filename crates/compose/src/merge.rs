//! Merging override files, by the compose specification's merge rules (compose-go `override`).
//!
//! Mappings deep-merge, scalars are replaced, sequences append; `command`, `entrypoint` and
//! `healthcheck.test` are replaced; `environment`, `labels`, `build.args` and their kin merge by
//! key; `ports`, `volumes`, `secrets` and other lists de-duplicate by what identifies an item;
//! `depends_on` short syntax becomes `{condition: service_started, required: true}` first.
//! `!reset` removes what earlier files set, `!override` replaces it whole.

use crate::diag::Diags;
use crate::syntax::{parse_mount, parse_port};
use crate::yaml::{Entry, Map, Mark, Node, Tag, Value};

/// Merges `over` (a later file) into `base`. Both are whole-file roots.
pub fn merge_root(base: Node, over: Node, diags: &mut Diags) -> Node {
    merge(&Path::Root, "", base, over, diags)
}

/// Drops `!reset` entries from the first file, where there is nothing to reset.
pub fn strip_resets(node: &mut Node) {
    match &mut node.value {
        Value::Map(m) => {
            m.retain(|_, e| e.node.tag != Tag::Reset);
            m.values_mut().for_each(|e| strip_resets(&mut e.node));
        }
        Value::Seq(s) => {
            s.retain(|n| n.tag != Tag::Reset);
            s.iter_mut().for_each(strip_resets);
        }
        _ => {}
    }
}

/// Where in the file a value sits, as far as the merge rules care.
#[derive(Clone, Debug, PartialEq)]
enum Path {
    Root,
    /// A named entry of a top-level section (`services.x`, `volumes.y`).
    Section(String),
    Service,
    ServiceKey(String),
    /// Below a service key: `build.args`, `healthcheck.test`, `deploy.resources` ...
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

enum Rule {
    Replace,
    ByKey,
    DependsOn,
    Networks,
    Unique(fn(&Node) -> Option<String>),
    Deep,
}

fn rule(path: &Path) -> Rule {
    match path.name() {
        "command" | "entrypoint" | "healthcheck.test" => Rule::Replace,
        "environment"
        | "labels"
        | "annotations"
        | "sysctls"
        | "build.args"
        | "build.labels"
        | "build.additional_contexts"
        | "deploy.labels"
        | "networks.*.labels"
        | "volumes.*.labels"
        | "secrets.*.labels"
        | "configs.*.labels" => Rule::ByKey,
        "depends_on" => Rule::DependsOn,
        "networks" => Rule::Networks,
        "ports" => Rule::Unique(port_key),
        "volumes" => Rule::Unique(mount_key),
        "secrets" => Rule::Unique(|n| file_ref_key(n, "/run/secrets/")),
        "configs" => Rule::Unique(|n| file_ref_key(n, "/")),
        "cap_add" | "cap_drop" | "dns" | "dns_opt" | "dns_search" | "expose" | "profiles" | "tmpfs" | "links"
        | "devices" | "external_links" | "security_opt" | "group_add" | "build.tags" | "build.platforms"
        | "build.cache_from" | "build.cache_to" | "extra_hosts" | "build.extra_hosts" => Rule::Unique(scalar_key),
        "env_file" => Rule::Unique(|n| n.get("path").unwrap_or(n).as_str().map(str::to_string)),
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
        Rule::ByKey => merge_maps(path, loc, to_key_map(base), to_key_map(over), diags),
        Rule::DependsOn => merge_maps(path, loc, depends_on_map(base), depends_on_map(over), diags),
        Rule::Networks => merge_maps(path, loc, networks_map(base), networks_map(over), diags),
        Rule::Unique(key) => match (base.value, over.value) {
            (Value::Seq(mut items), Value::Seq(more)) => {
                for item in more {
                    let k = key(&item);
                    match items.iter().position(|i| k.is_some() && key(i) == k) {
                        Some(p) => items[p] = item,
                        None => items.push(item),
                    }
                }
                Node::new(Value::Seq(items), base.mark)
            }
            (_, value) => Node {
                value,
                mark: over.mark,
                tag: Tag::None,
            },
        },
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
            Some(old) => {
                if entry.node.is_empty() && !old.node.is_empty() && entry.node.tag == Tag::None {
                    lint_ignored_empty(&child_loc, &key, old, &entry, diags);
                }
                if !entry.node.is_null() {
                    // Merged in place: removing and re-inserting would shift the whole map.
                    let base = std::mem::replace(&mut old.node, Node::new(Value::Null, old.key_mark));
                    old.node = merge(&path.child(&key), &child_loc, base, entry.node, diags);
                }
            }
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

/// `["A=1", "B"]` or `{A: 1, B: null}` as a mapping from key to value.
pub fn to_key_map(node: Node) -> Node {
    let mark = node.mark;
    match node.value {
        Value::Seq(items) => {
            let mut map = Map::new();
            for item in items {
                let Some(text) = item.as_str() else { continue };
                let (k, v) = match text.split_once('=') {
                    Some((k, v)) => (k.to_string(), Node::string(v, item.mark)),
                    None => (text.to_string(), Node::new(Value::Null, item.mark)),
                };
                map.insert(
                    k,
                    Entry {
                        key_mark: item.mark,
                        node: v,
                    },
                );
            }
            Node::new(Value::Map(map), mark)
        }
        value => Node { value, ..node },
    }
}

fn depends_on_map(node: Node) -> Node {
    let mark = node.mark;
    let default = |m: Mark| {
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
    };
    match node.value {
        Value::Seq(items) => {
            let mut map = Map::new();
            for item in items {
                if let Some(name) = item.as_str() {
                    map.insert(
                        name.to_string(),
                        Entry {
                            key_mark: item.mark,
                            node: default(item.mark),
                        },
                    );
                }
            }
            Node::new(Value::Map(map), mark)
        }
        Value::Map(mut m) => {
            for e in m.values_mut() {
                if e.node.is_null() {
                    e.node = default(e.key_mark);
                }
            }
            Node::new(Value::Map(m), mark)
        }
        value => Node { value, ..node },
    }
}

fn networks_map(node: Node) -> Node {
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
                            node: Node::new(Value::Null, item.mark),
                        },
                    );
                }
            }
            Node::new(Value::Map(map), mark)
        }
        value => Node { value, ..node },
    }
}

fn scalar_key(n: &Node) -> Option<String> {
    n.as_str().map(str::to_string)
}

fn port_key(n: &Node) -> Option<String> {
    let scalar = |k: &str| n.get(k).and_then(Node::as_str).unwrap_or("").to_string();
    match &n.value {
        Value::Scalar { text, .. } => parse_port(text).ok().map(|p| {
            format!(
                "{}/{}/{}-{}/{}",
                p.host_ip.unwrap_or_default(),
                p.published.unwrap_or_default(),
                p.target.0,
                p.target.1,
                p.protocol
            )
        }),
        Value::Map(_) => {
            let proto = n.get("protocol").and_then(Node::as_str).unwrap_or("tcp");
            let t = scalar("target");
            Some(format!("{}/{}/{t}-{t}/{proto}", scalar("host_ip"), scalar("published")))
        }
        _ => None,
    }
}

fn mount_key(n: &Node) -> Option<String> {
    match &n.value {
        Value::Scalar { text, .. } => parse_mount(text).ok().map(|m| m.target),
        Value::Map(_) => n.get("target").and_then(Node::as_str).map(str::to_string),
        _ => None,
    }
}

fn file_ref_key(n: &Node, prefix: &str) -> Option<String> {
    let target = |t: &str| {
        if t.starts_with('/') {
            t.to_string()
        } else {
            format!("{prefix}{t}")
        }
    };
    match &n.value {
        Value::Scalar { text, .. } => Some(target(text)),
        Value::Map(_) => n
            .get("target")
            .or_else(|| n.get("source"))
            .and_then(Node::as_str)
            .map(target),
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
    fn environment_labels_and_build_args_merge_by_key() {
        let (n, _) = merged(
            "services:\n  web:\n    environment: [A=1, B=2]\n    labels: {x: '1'}\n    build: {args: [V=1]}\n",
            "services:\n  web:\n    environment: {B: 3, C: 4}\n    labels: [y=2]\n    build: {args: {W: 2}}\n",
        );
        let env = svc(&n, "environment");
        assert_eq!(keys(env), ["A", "B", "C"]);
        assert_eq!(env.get("B").and_then(Node::as_str), Some("3"));
        assert_eq!(keys(svc(&n, "labels")), ["x", "y"]);
        assert_eq!(keys(svc(&n, "build").get("args").expect("args")), ["V", "W"]);
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
        let secrets = svc(&n, "secrets").as_seq().expect("seq");
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].get("source").and_then(Node::as_str), Some("s2"));
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
        assert_eq!(keys(svc(&n, "environment")), ["B"]);
        assert!(diags.warnings.is_empty());
    }
}
