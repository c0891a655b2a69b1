//! `extends` and `include`, as compose-go applies them: to each file on its own, after it is
//! interpolated and before it is merged with the files before it.
//!
//! - `extends: {service, file}` takes the other service (from this file, or from another file
//!   read, interpolated and de-duplicated on its own, its relative paths resolved against its
//!   own folder), applies its own `extends` first, and merges this service over it with the
//!   override rules. Cycles and missing services or files are errors naming file and line.
//! - `include:` loads each entry as a project of its own (its files merged, its project
//!   directory the first file's folder unless `project_directory` says otherwise, its variables
//!   from its `env_file` or that directory's `.env` under the including project's), resolves
//!   its relative paths, and adds its services, networks, volumes, secrets and configs; one
//!   already defined differently is an error.

use crate::diag::Diags;
use crate::env::parse_env_file;
use crate::merge::{merge_service, strip_resets};
use crate::normalize::join_clean;
use crate::yaml::{self, Entry, Mark, Node, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What loading one file needs beyond the file.
pub(crate) struct Context<'a> {
    pub diags: &'a mut Diags,
    pub env: &'a BTreeMap<String, String>,
    pub unset: &'a mut BTreeMap<String, Mark>,
    /// The include chain, for cycles.
    pub included: Vec<PathBuf>,
}

/// Reads, parses and interpolates a file that a compose file refers to. The file is added to
/// the diagnostics' files so that marks in it name it.
fn read_file(path: &Path, at: Mark, key: &str, cx: &mut Context) -> Option<Node> {
    let text = match crate::load::read_text(path) {
        Ok(t) => t,
        Err(e) => {
            cx.diags.error(at, key, format!("cannot read {}: {e}", path.display()));
            return None;
        }
    };
    let index = cx.diags.files.len();
    cx.diags.files.push(path.to_path_buf());
    let mut root = match yaml::parse(&text, index) {
        Ok(n) => n,
        Err(e) => {
            cx.diags
                .error_in(Some(path), Some(e.line), "", format!("invalid YAML: {}", e.message));
            return None;
        }
    };
    if !matches!(root.value, Value::Map(_)) {
        cx.diags.error(root.mark, "", "a compose file is a mapping at the top");
        return None;
    }
    crate::load::interpolate_tree(&mut root, &mut String::new(), cx.env, cx.diags, cx.unset);
    strip_resets(&mut root);
    Some(root)
}

/// Applies `extends` to every service of `root`, the file `file`.
pub(crate) fn apply_extends(root: &mut Node, file: &Path, cx: &mut Context) {
    let Some(services) = root.get("services").and_then(Node::as_map) else {
        return;
    };
    if !services.values().any(|e| e.node.get("extends").is_some()) {
        return; // the common case: nothing to copy
    }
    let mut services = services.clone();
    let names: Vec<String> = services.keys().cloned().collect();
    for name in names {
        let mut chain = Vec::new();
        resolve(&name, &mut services, file, &mut chain, cx);
    }
    if let Some(Value::Map(m)) = root
        .as_map_mut()
        .and_then(|m| m.get_mut("services"))
        .map(|e| &mut e.node.value)
    {
        *m = services;
    }
}

/// The service `name` of `services` (from `file`) with its `extends` applied; written back.
fn resolve(
    name: &str,
    services: &mut crate::yaml::Map,
    file: &Path,
    chain: &mut Vec<(PathBuf, String)>,
    cx: &mut Context,
) -> Option<Node> {
    let entry = services.get(name)?;
    let service = entry.node.clone();
    let Some(extends) = service.get("extends").cloned() else {
        return Some(service);
    };
    let key = format!("services.{name}.extends");
    let (reference, other_file) = match &extends.value {
        Value::Scalar { text, .. } => (text.clone(), None),
        Value::Map(_) => {
            let Some(r) = extends.get("service").and_then(Node::as_str) else {
                cx.diags.error(
                    extends.mark,
                    &key,
                    "needs `service:`, the name of the service to extend",
                );
                return None;
            };
            (
                r.to_string(),
                extends.get("file").and_then(Node::as_str).map(str::to_string),
            )
        }
        _ => {
            cx.diags
                .error(extends.mark, &key, "must be a service name or a mapping");
            return None;
        }
    };
    if chain.iter().any(|(f, s)| f == file && s == name) {
        let path: Vec<String> = chain.iter().map(|(_, s)| s.clone()).chain([name.to_string()]).collect();
        cx.diags.error(
            extends.mark,
            &key,
            format!("extends cycle: {}: break the chain", path.join(" -> ")),
        );
        return None;
    }
    chain.push((file.to_path_buf(), name.to_string()));
    let base = match other_file {
        Some(f) => {
            let dir = file.parent().unwrap_or(Path::new("/"));
            let path = join_clean(dir, Path::new(&f));
            let other = read_file(&path, extends.mark, &format!("{key}.file"), cx)?;
            let other_dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            let Some(Value::Map(mut other_services)) = other.get("services").map(|s| s.value.clone()) else {
                cx.diags.error(
                    extends.mark,
                    &key,
                    format!(
                        "cannot extend service '{reference}': {} has no services",
                        path.display()
                    ),
                );
                return None;
            };
            if !other_services.contains_key(&reference) {
                cx.diags.error(
                    extends.mark,
                    &key,
                    format!(
                        "cannot extend service '{reference}': {} has no such service",
                        path.display()
                    ),
                );
                return None;
            }
            for e in other_services.values_mut() {
                rebase_service(&mut e.node, &other_dir, false);
            }
            resolve(&reference, &mut other_services, &path, chain, cx)
        }
        None => {
            if !services.contains_key(&reference) {
                cx.diags.error(
                    extends.mark,
                    &key,
                    format!("cannot extend service '{reference}': no such service in this file"),
                );
                return None;
            }
            resolve(&reference, services, file, chain, cx)
        }
    }?;
    chain.pop();
    let mut over = service;
    if let Some(m) = over.as_map_mut() {
        m.shift_remove("extends");
    }
    let mut merged = merge_service(base, over, cx.diags);
    if let Some(m) = merged.as_map_mut() {
        m.shift_remove("extends");
    }
    if let Some(e) = services.get_mut(name) {
        e.node = merged.clone();
    }
    Some(merged)
}

/// Applies `include` to `root`, a file of the project in `project_dir`.
pub(crate) fn apply_include(root: &mut Node, file: &Path, project_dir: &Path, cx: &mut Context) {
    let Some(map) = root.as_map_mut() else { return };
    let Some(include) = map.shift_remove("include") else {
        return;
    };
    let items: Vec<Node> = match include.node.value {
        Value::Seq(items) => items,
        Value::Null => Vec::new(),
        _ => {
            cx.diags.error(include.node.mark, "include", "must be a list");
            return;
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        let key = format!("include[{i}]");
        let (paths, project_directory, env_files) = match &item.value {
            Value::Scalar { text, .. } => (vec![text.clone()], None, Vec::new()),
            Value::Map(_) => {
                let list = |k: &str| -> Vec<String> {
                    match item.get(k).map(|n| &n.value) {
                        Some(Value::Scalar { text, .. }) => vec![text.clone()],
                        Some(Value::Seq(s)) => s.iter().filter_map(Node::as_str).map(str::to_string).collect(),
                        _ => Vec::new(),
                    }
                };
                (
                    list("path"),
                    item.get("project_directory").and_then(Node::as_str).map(str::to_string),
                    list("env_file"),
                )
            }
            _ => {
                cx.diags
                    .error(item.mark, &key, "must be a path or a mapping with `path:`");
                continue;
            }
        };
        if paths.is_empty() {
            cx.diags.error(item.mark, &key, "needs a path");
            continue;
        }
        let files: Vec<PathBuf> = paths.iter().map(|p| join_clean(project_dir, Path::new(p))).collect();
        if cx.included.contains(&files[0]) || files[0] == file {
            cx.diags.error(
                item.mark,
                &key,
                format!("include cycle: {} includes itself", files[0].display()),
            );
            continue;
        }
        let dir = match &project_directory {
            Some(d) => join_clean(project_dir, Path::new(d)),
            None => files[0].parent().unwrap_or(Path::new("/")).to_path_buf(),
        };
        // The including project's variables first; the included env files only add.
        let env_paths: Vec<PathBuf> = if env_files.is_empty() {
            Some(dir.join(".env")).filter(|p| p.is_file()).into_iter().collect()
        } else {
            env_files
                .iter()
                .map(|f| join_clean(project_dir, Path::new(f)))
                .collect()
        };
        let mut env = cx.env.clone();
        for p in &env_paths {
            match crate::load::read_text(p) {
                Ok(text) => {
                    let lookup = |k: &str| cx.env.get(k).cloned();
                    match parse_env_file(&text, &lookup, &mut Vec::new()) {
                        Ok(vars) => {
                            for (k, v) in vars {
                                env.entry(k).or_insert(v);
                            }
                        }
                        Err(e) => cx.diags.error_in(Some(p), Some(e.line), "", e.message),
                    }
                }
                Err(e) => cx
                    .diags
                    .error(item.mark, &key, format!("cannot read env file {}: {e}", p.display())),
            }
        }
        let mut sub = Context {
            diags: &mut *cx.diags,
            env: &env,
            unset: &mut *cx.unset,
            included: cx.included.iter().cloned().chain([file.to_path_buf()]).collect(),
        };
        let mut imported: Option<Node> = None;
        for f in &files {
            let Some(mut other) = read_file(f, item.mark, &key, &mut sub) else {
                continue;
            };
            apply_extends(&mut other, f, &mut sub);
            apply_include(&mut other, f, &dir, &mut sub);
            imported = Some(match imported {
                None => other,
                Some(base) => crate::merge::merge_root(base, other, sub.diags),
            });
        }
        let Some(mut imported) = imported else { continue };
        rebase_project(&mut imported, &dir);
        import(root, imported, &key, item.mark, cx.diags);
    }
}

/// Adds the included project's resources to `root`; the same name defined differently is an
/// error.
fn import(root: &mut Node, imported: Node, key: &str, mark: Mark, diags: &mut Diags) {
    let Value::Map(sections) = imported.value else { return };
    let Some(target) = root.as_map_mut() else { return };
    for section in ["services", "volumes", "networks", "secrets", "configs"] {
        let Some(Entry {
            node: Node {
                value: Value::Map(from),
                ..
            },
            ..
        }) = sections.get(section).cloned()
        else {
            continue;
        };
        let to = target.entry(section.to_string()).or_insert_with(|| Entry {
            key_mark: mark,
            node: Node::new(Value::Map(Default::default()), mark),
        });
        if to.node.is_null() {
            to.node = Node::new(Value::Map(Default::default()), mark);
        }
        let Some(to) = to.node.as_map_mut() else { continue };
        for (name, e) in from {
            match to.get(&name) {
                Some(existing)
                    if crate::normalize::Normalizer::to_json(&existing.node)
                        != crate::normalize::Normalizer::to_json(&e.node) =>
                {
                    diags.error(
                        existing.key_mark,
                        &format!("{section}.{name}"),
                        format!("is also defined, differently, by the file included at {key}: keep one"),
                    );
                }
                Some(_) => {}
                None => {
                    to.insert(name, e);
                }
            }
        }
    }
}

/// A path that is relative to the file's folder: not absolute, not `~`, not a URL.
fn relative(p: &str) -> bool {
    !(p.is_empty()
        || p.starts_with('/')
        || p.starts_with('~')
        || p.contains("://")
        || p.starts_with("git@")
        || p.starts_with("github.com/")
        || p.starts_with("service:"))
}

fn rebase_scalar(node: &mut Node, dir: &Path) {
    if let Value::Scalar { text, .. } = &mut node.value {
        if relative(text) {
            *text = join_clean(dir, Path::new(text.as_str())).display().to_string();
        }
    }
}

/// Relative paths in the top-level sections of an included project made absolute.
fn rebase_project(root: &mut Node, dir: &Path) {
    let Some(map) = root.as_map_mut() else { return };
    if let Some(services) = map.get_mut("services").and_then(|e| e.node.as_map_mut()) {
        for e in services.values_mut() {
            rebase_service(&mut e.node, dir, true);
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(m) = map.get_mut(section).and_then(|e| e.node.as_map_mut()) {
            for e in m.values_mut() {
                if let Some(f) = e.node.as_map_mut().and_then(|o| o.get_mut("file")) {
                    rebase_scalar(&mut f.node, dir);
                }
            }
        }
    }
}

/// Relative paths of a service (build context, env files, label files, bind sources, watch
/// paths, `extends.file`) made absolute against `dir`; with `default_context`, a build without
/// a context gets `dir`.
fn rebase_service(service: &mut Node, dir: &Path, default_context: bool) {
    let Some(m) = service.as_map_mut() else { return };
    for (k, e) in m.iter_mut() {
        let n = &mut e.node;
        match k.as_str() {
            "build" => match &mut n.value {
                Value::Scalar { .. } => rebase_scalar(n, dir),
                Value::Map(b) => {
                    match b.get_mut("context") {
                        Some(c) => rebase_scalar(&mut c.node, dir),
                        // An included project's default context is its own folder.
                        None if default_context => {
                            let mark = n.mark;
                            b.insert(
                                "context".into(),
                                Entry {
                                    key_mark: mark,
                                    node: Node::string(dir.display().to_string(), mark),
                                },
                            );
                        }
                        None => {}
                    }
                    if let Some(Value::Map(ac)) = b.get_mut("additional_contexts").map(|e| &mut e.node.value) {
                        ac.values_mut().for_each(|e| rebase_scalar(&mut e.node, dir));
                    }
                }
                _ => {}
            },
            "env_file" | "label_file" => match &mut n.value {
                Value::Scalar { .. } => rebase_scalar(n, dir),
                Value::Seq(items) => {
                    for item in items {
                        match item.as_map_mut().and_then(|m| m.get_mut("path")) {
                            Some(p) => rebase_scalar(&mut p.node, dir),
                            None => rebase_scalar(item, dir),
                        }
                    }
                }
                _ => {}
            },
            "volumes" => {
                for item in n.as_seq_mut().into_iter().flatten() {
                    match &mut item.value {
                        Value::Scalar { text, .. } if text.starts_with('.') => {
                            if let Some((src, rest)) = text.split_once(':') {
                                *text = format!("{}:{rest}", join_clean(dir, Path::new(src)).display());
                            }
                        }
                        Value::Map(v) if v.get("type").and_then(|t| t.node.as_str()) == Some("bind") => {
                            if let Some(s) = v.get_mut("source") {
                                rebase_scalar(&mut s.node, dir);
                            }
                        }
                        _ => {}
                    }
                }
            }
            "develop" => {
                let watch = n.as_map_mut().and_then(|d| d.get_mut("watch"));
                for rule in watch.and_then(|w| w.node.as_seq_mut()).into_iter().flatten() {
                    if let Some(p) = rule.as_map_mut().and_then(|r| r.get_mut("path")) {
                        rebase_scalar(&mut p.node, dir);
                    }
                }
            }
            "extends" => {
                if let Some(f) = n.as_map_mut().and_then(|x| x.get_mut("file")) {
                    rebase_scalar(&mut f.node, dir);
                }
            }
            _ => {}
        }
    }
}
