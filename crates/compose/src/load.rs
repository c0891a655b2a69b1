//! The loading pipeline: env files, then each compose file parsed, linted and interpolated on
//! its own, then merged in order, then typed and validated as a whole.

use crate::diag::{Diagnostic, Diags, LoadError};
use crate::env::parse_env_file;
use crate::interp::interpolate;
use crate::merge::{merge_root, strip_resets};
use crate::model::{Condition, Project};
use crate::normalize::{dependency_marks, Normalizer};
use crate::secrets::lint_plain_secrets;
use crate::yaml::{self, Mark, Node, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What `docker compose` takes on its command line and from its environment.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Compose files, base first (`-f`).
    pub files: Vec<PathBuf>,
    /// `--env-file`; when empty, `<project dir>/.env` is read if it exists.
    pub env_files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`; by default the directory of the first compose file.
    pub project_dir: Option<PathBuf>,
    /// `--profile`; when empty, `COMPOSE_PROFILES` applies.
    pub profiles: Vec<String>,
    /// The process environment, which beats the env files.
    pub environment: BTreeMap<String, String>,
}

impl LoadOptions {
    /// Options for these files with the current process environment.
    pub fn new<P: Into<PathBuf>>(files: impl IntoIterator<Item = P>) -> Self {
        LoadOptions {
            files: files.into_iter().map(Into::into).collect(),
            environment: std::env::vars().collect(),
            ..Default::default()
        }
    }
}

/// A file's path and text, for loading from memory (tests, fuzzing, benchmarks).
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<Diagnostic>,
}

/// Reads the files named in `opts` and loads them.
pub fn load(opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let mut diags = Diags::default();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let files: Vec<PathBuf> = opts
        .files
        .iter()
        .map(|f| crate::normalize::join_clean(&cwd, f))
        .collect();
    let project_dir = match (&opts.project_dir, files.first()) {
        (Some(d), _) => crate::normalize::join_clean(&cwd, d),
        (None, Some(f)) => f.parent().map(Path::to_path_buf).unwrap_or(cwd.clone()),
        (None, None) => {
            diags.error_in(None, None, "", "no compose file given: pass -f FILE or --stack NAME");
            return Err(finish_err(diags));
        }
    };
    let read = |p: &Path, diags: &mut Diags| match read_text(p) {
        Ok(text) => Some(Source {
            path: p.to_path_buf(),
            text,
        }),
        Err(e) => {
            diags.error_in(Some(p), None, "", format!("cannot read this file: {e}"));
            None
        }
    };
    let sources: Vec<Source> = files.iter().filter_map(|f| read(f, &mut diags)).collect();
    let env_sources: Vec<Source> = if opts.env_files.is_empty() {
        let dot_env = project_dir.join(".env");
        if dot_env.is_file() {
            read(&dot_env, &mut diags).into_iter().collect()
        } else {
            Vec::new()
        }
    } else {
        opts.env_files
            .iter()
            .filter_map(|f| read(&crate::normalize::join_clean(&cwd, f), &mut diags))
            .collect()
    };
    if !diags.errors.is_empty() {
        return Err(finish_err(diags));
    }
    load_sources(&sources, &env_sources, &project_dir, opts)
}

fn finish_err(mut diags: Diags) -> LoadError {
    diags.sort();
    LoadError {
        errors: diags.errors,
        warnings: diags.warnings,
    }
}

/// Loads compose files given as text. `opts.files` and `opts.env_files` are not read.
pub fn load_sources(
    sources: &[Source],
    env_sources: &[Source],
    project_dir: &Path,
    opts: &LoadOptions,
) -> Result<Loaded, LoadError> {
    let mut diags = Diags {
        files: sources.iter().map(|s| s.path.clone()).collect(),
        ..Default::default()
    };
    let mut env = environment(env_sources, opts, &mut diags);

    // Each file parsed; the project name decided (from the files' `name:` too) before
    // anything is interpolated, since `${COMPOSE_PROJECT_NAME}` is the project's name.
    let mut roots = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let documents = match yaml::parse_documents(&src.text, i) {
            Ok(d) => d,
            Err(e) => {
                diags.error_in(
                    Some(&src.path),
                    Some(e.line),
                    "",
                    format!("invalid YAML: {}", e.message),
                );
                continue;
            }
        };
        if documents.iter().all(Node::is_null) {
            diags.warn_in(Some(&src.path), None, "", "the file is empty");
        }
        // Each document of a file is read as one more override file, as compose reads it.
        for root in documents {
            match &root.value {
                Value::Map(_) => roots.push((src.path.clone(), root)),
                Value::Null => {}
                _ => diags.error(
                    root.mark,
                    "",
                    format!("a compose file is a mapping at the top, not {}", root.kind()),
                ),
            }
        }
    }
    let name = project_name(roots.iter().map(|(_, r)| r), project_dir, &env, opts, &mut diags);
    env.insert("COMPOSE_PROJECT_NAME".into(), name.clone());

    // Each file on its own: lint what was written, interpolate, merge.
    let mut unset: BTreeMap<String, Mark> = BTreeMap::new();
    let mut merged: Option<Node> = None;
    for (path, mut root) in roots {
        lint_plain_secrets(&root, &mut diags);
        interpolate_tree(&mut root, &mut String::new(), &env, &mut diags, &mut unset);
        let mut cx = crate::extend::Context {
            diags: &mut diags,
            env: &env,
            unset: &mut unset,
            included: Vec::new(),
        };
        crate::extend::apply_extends(&mut root, &path, &mut cx);
        crate::extend::apply_include(&mut root, &path, project_dir, &mut cx);
        merged = Some(match merged {
            None => {
                strip_resets(&mut root);
                root
            }
            Some(base) => merge_root(base, root, &mut diags),
        });
    }
    for (var, mark) in unset {
        diags.warn(
            mark,
            "",
            format!("the \"{var}\" variable is not set. Defaulting to a blank string."),
        );
    }
    let Some(root) = merged else {
        if diags.errors.is_empty() {
            diags.error_in(None, None, "", "no compose file has any content");
        }
        return Err(finish_err(diags));
    };

    let project = build_project(&root, name, project_dir, &env, opts, &mut diags);
    // Every output of the program masks what this project holds secret from now on.
    match &project {
        Some(p) => deck_error::redact::register(crate::secrets::distinctive(p, crate::secrets::known(p))),
        None => {
            let others: Vec<&String> = env
                .iter()
                .filter(|(k, _)| !crate::secrets::is_secret_name(k))
                .map(|(_, v)| v)
                .collect();
            deck_error::redact::register(
                crate::secrets::values_of_secret_names(&env)
                    .into_iter()
                    .filter(|v| !others.iter().any(|o| o.contains(v.as_str()))),
            );
        }
    }
    crate::schema::validate(&root, &mut diags);
    diags.sort();
    match project {
        Some(p) if diags.errors.is_empty() => Ok(Loaded {
            project: p,
            warnings: diags.warnings,
        }),
        _ => Err(finish_err(diags)),
    }
}

/// Env files in order (later wins), then the process environment over them.
fn environment(env_sources: &[Source], opts: &LoadOptions, diags: &mut Diags) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let shell = &opts.environment;
    for src in env_sources {
        let lookup = |k: &str| shell.get(k).cloned().or_else(|| env.get(k).cloned());
        match parse_env_file(&src.text, &lookup, &mut Vec::new()) {
            Ok(vars) => env.extend(vars),
            Err(e) => diags.error_in(Some(&src.path), Some(e.line), e.key.as_deref().unwrap_or(""), e.message),
        }
    }
    env.extend(shell.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Interpolates every value (never a key). `path` is the dotted key of `node`, kept in one
/// buffer and only turned into text for an error; items of `KEY=VALUE` lists are named by key.
pub(crate) fn interpolate_tree(
    node: &mut Node,
    path: &mut String,
    env: &BTreeMap<String, String>,
    diags: &mut Diags,
    unset: &mut BTreeMap<String, Mark>,
) {
    let lookup = |k: &str| env.get(k).cloned();
    let len = path.len();
    match &mut node.value {
        Value::Scalar { text, quoted } => {
            if !text.contains('$') {
                return;
            }
            let mut missing = Vec::new();
            match interpolate(text, &lookup, &mut missing) {
                Ok(v) => {
                    // An interpolated value is a string, whatever it looks like (as in compose).
                    *text = v;
                    *quoted = true;
                }
                Err(e) => diags.error(node.mark, path, e.to_string()),
            }
            for var in missing {
                unset.entry(var).or_insert(node.mark);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                match item.as_str().and_then(|t| t.split_once('=')) {
                    Some((k, _)) if !k.is_empty() && !k.contains(' ') => {
                        path.push('.');
                        path.push_str(k);
                    }
                    _ => {
                        use std::fmt::Write;
                        let _ = write!(path, "[{i}]");
                    }
                }
                interpolate_tree(item, path, env, diags, unset);
                path.truncate(len);
            }
        }
        Value::Map(m) => {
            for (k, e) in m.iter_mut() {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                interpolate_tree(&mut e.node, path, env, diags, unset);
                path.truncate(len);
            }
        }
        Value::Null => {}
    }
}

/// Files larger than this are refused (compose files, `.env` files, `env_file`s are a few KB).
pub const MAX_FILE: u64 = 8 << 20;

/// Reads a text file the load needs, at most `MAX_FILE` bytes: something larger (or endless,
/// as `/dev/zero`) is refused before it fills the memory.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(std::io::Error::other(format!(
            "it is larger than {} MiB: is it the right file?",
            MAX_FILE >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include", "models",
];

fn valid_project_name(n: &str) -> bool {
    n.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Lowercase, only `[a-z0-9_-]`, starting with a letter or digit (compose's normalisation).
pub fn normalize_project_name(n: &str) -> String {
    let s: String = n
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
        .collect();
    s.trim_start_matches(['-', '_']).to_string()
}

fn project_name<'r>(
    roots: impl Iterator<Item = &'r Node>,
    project_dir: &Path,
    env: &BTreeMap<String, String>,
    opts: &LoadOptions,
    diags: &mut Diags,
) -> String {
    const RULE: &str =
        "must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit";
    if let Some(n) = &opts.project_name {
        if !valid_project_name(n) {
            diags.error_in(None, None, "-p", format!("project name '{n}' {RULE}"));
        }
        return n.clone();
    }
    if let Some(n) = env.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
        if !valid_project_name(n) {
            diags.error_in(None, None, "COMPOSE_PROJECT_NAME", format!("project name '{n}' {RULE}"));
        }
        return n.clone();
    }
    // `name:` in a file (the last file that has one) is interpolated and normalised as compose
    // does (`MyApp` runs as `myapp`); only names given on the command line or in
    // COMPOSE_PROJECT_NAME must already be valid.
    let lookup = |k: &str| env.get(k).cloned();
    let from_files = roots
        .filter_map(|r| r.get("name")?.as_str())
        .filter_map(|n| interpolate(n, &lookup, &mut Vec::new()).ok())
        .filter(|n| !n.is_empty())
        .last()
        .map(|n| normalize_project_name(&n));
    if let Some(n) = from_files.filter(|n| !n.is_empty()) {
        return n;
    }
    let dir = project_dir
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = normalize_project_name(&dir);
    if n.is_empty() {
        diags.error_in(
            None,
            None,
            "name",
            format!("cannot make a project name from the directory '{dir}': set `name:` in the file or pass -p"),
        );
    }
    n
}

fn build_project(
    root: &Node,
    name: String,
    project_dir: &Path,
    env: &BTreeMap<String, String>,
    opts: &LoadOptions,
    diags: &mut Diags,
) -> Option<Project> {
    let top = root.as_map()?;
    for (k, e) in top {
        if k.starts_with("x-") || TOP_LEVEL_KEYS.contains(&k.as_str()) {
            continue;
        }
        diags.error(
            e.key_mark,
            k,
            format!("'{k}' is not a top-level compose key (services, networks, volumes, secrets, configs, name)"),
        );
    }
    if let Some(v) = top.get("version") {
        diags.warn(
            v.key_mark,
            "version",
            "the attribute `version` is obsolete, it will be ignored; remove it",
        );
    }
    let mut project = Project {
        name: name.clone(),
        working_dir: project_dir.to_path_buf(),
        config_files: diags.files.clone(),
        services: BTreeMap::new(),
        networks: BTreeMap::new(),
        volumes: BTreeMap::new(),
        secrets: BTreeMap::new(),
        configs: BTreeMap::new(),
        disabled_services: BTreeMap::new(),
        extensions: BTreeMap::new(),
        secret_values: crate::secrets::values_of_secret_names(env),
    };
    let services_node = root.get("services");
    let mut n = Normalizer {
        diags,
        project_dir,
        env,
    };
    let section = |n: &mut Normalizer, key: &str| -> Vec<(&String, &Node)> {
        match root.get(key) {
            Some(node) => match &node.value {
                Value::Map(m) => m
                    .iter()
                    .map(|(k, e)| (k, &e.node))
                    .filter(|(k, _)| !k.starts_with("x-"))
                    .collect(),
                Value::Null => Vec::new(),
                _ => {
                    n.diags
                        .error(node.mark, key, format!("must be a mapping, not {}", node.kind()));
                    Vec::new()
                }
            },
            None => Vec::new(),
        }
    };
    for (k, node) in section(&mut n, "networks") {
        let net = n.network(&name, k, node);
        project.networks.insert(k.clone(), net);
    }
    for (k, node) in section(&mut n, "volumes") {
        let vol = n.volume(&name, k, node);
        project.volumes.insert(k.clone(), vol);
    }
    for (k, node) in section(&mut n, "secrets") {
        let s = n.file_object("secrets", &name, k, node);
        project.secrets.insert(k.clone(), s);
    }
    for (k, node) in section(&mut n, "configs") {
        let c = n.file_object("configs", &name, k, node);
        project.configs.insert(k.clone(), c);
    }
    let mut service_marks = BTreeMap::new();
    for (k, node) in section(&mut n, "services") {
        service_marks.insert(k.clone(), node.mark);
        if let Some(s) = n.service(k, node) {
            project.services.insert(k.clone(), s);
        }
    }
    if services_node.is_none() {
        n.diags.error_in(
            n.diags.files.first().cloned().as_deref(),
            None,
            "services",
            "no services are defined",
        );
    }

    // Profiles.
    let active: BTreeSet<String> = if opts.profiles.is_empty() {
        env.get("COMPOSE_PROFILES")
            .map(|p| {
                p.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        opts.profiles.iter().cloned().collect()
    };
    let (enabled, disabled): (BTreeMap<_, _>, BTreeMap<_, _>) =
        std::mem::take(&mut project.services).into_iter().partition(|(_, s)| {
            s.profiles.is_empty() || active.contains("*") || s.profiles.iter().any(|p| active.contains(p))
        });
    project.services = enabled;
    project.disabled_services = disabled;

    validate_references(&mut project, services_node, &service_marks, n.diags);

    drop_unused_resources(&mut project);
    project.extensions = top
        .iter()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, e)| (k.clone(), crate::normalize::Normalizer::to_json(&e.node)))
        .collect();

    if project.services.values().any(|s| s.networks.contains_key("default"))
        && !project.networks.contains_key("default")
    {
        project.networks.insert(
            "default".into(),
            crate::model::Network {
                name: format!("{name}_default"),
                ..Default::default()
            },
        );
    }
    Some(project)
}

/// Networks, volumes, secrets and configs that no enabled service uses are left out, as
/// compose leaves them out: nothing is created for them.
fn drop_unused_resources(project: &mut Project) {
    let services = || project.services.values();
    let networks: BTreeSet<String> = services().flat_map(|s| s.networks.keys().cloned()).collect();
    let volumes: BTreeSet<String> = services()
        .flat_map(|s| &s.volumes)
        .filter(|m| m.kind == crate::model::MountType::Volume)
        .filter_map(|m| m.source.clone())
        .collect();
    let build_secrets = services()
        .filter_map(|s| s.build.as_ref()?.extra.get("secrets")?.as_array().cloned())
        .flatten()
        .filter_map(|v| v.as_str().or_else(|| v.get("source")?.as_str()).map(str::to_string));
    let secrets: BTreeSet<String> = services()
        .flat_map(|s| s.secrets.iter().map(|r| r.source.clone()))
        .chain(build_secrets)
        .collect();
    let configs: BTreeSet<String> = services()
        .flat_map(|s| s.configs.iter().map(|r| r.source.clone()))
        .collect();
    project.networks.retain(|k, _| networks.contains(k));
    project.volumes.retain(|k, _| volumes.contains(k));
    project.secrets.retain(|k, _| secrets.contains(k));
    project.configs.retain(|k, _| configs.contains(k));
}

fn validate_references(
    project: &mut Project,
    services_node: Option<&Node>,
    service_marks: &BTreeMap<String, Mark>,
    diags: &mut Diags,
) {
    let dep_marks = services_node.map(dependency_marks).unwrap_or_default();
    let names: Vec<&str> = project
        .services
        .keys()
        .chain(project.disabled_services.keys())
        .map(String::as_str)
        .collect();
    let mut seen_containers: BTreeMap<String, String> = BTreeMap::new();
    for (svc, s) in &project.services {
        let smark = service_marks.get(svc).copied().unwrap_or_default();
        let mark_of = |dep: &str| dep_marks.get(&(svc.clone(), dep.to_string())).copied().unwrap_or(smark);
        let key = format!("services.{svc}.depends_on");
        for (dep, d) in &s.depends_on {
            if project.services.contains_key(dep) {
                continue;
            }
            if let Some(off) = project.disabled_services.get(dep) {
                if d.required {
                    diags.error(
                        mark_of(dep),
                        &key,
                        format!(
                            "depends on '{dep}', which is only active with profile(s) {}: enable one with --profile",
                            off.profiles.join(", ")
                        ),
                    );
                }
                continue;
            }
            let hint = crate::normalize::closest(dep, &names)
                .map(|c| format!(" (did you mean '{c}'?)"))
                .unwrap_or_default();
            diags.error(
                mark_of(dep),
                &key,
                format!("depends on undefined service '{dep}'{hint}"),
            );
        }
        for m in &s.volumes {
            if let (crate::model::MountType::Volume, Some(src)) = (m.kind, &m.source) {
                if !project.volumes.contains_key(src) {
                    diags.error(smark, &format!("services.{svc}.volumes"), format!("uses volume '{src}', which is not declared under the top-level `volumes:`: add `{src}:` there"));
                }
            }
        }
        for (what, refs, declared) in [
            ("secret", &s.secrets, &project.secrets),
            ("config", &s.configs, &project.configs),
        ] {
            for r in refs {
                if !declared.contains_key(&r.source) {
                    diags.error(
                        smark,
                        &format!("services.{svc}.{what}s"),
                        format!(
                            "uses {what} '{}', which is not declared under the top-level `{what}s:`",
                            r.source
                        ),
                    );
                }
            }
        }
        for net in s.networks.keys() {
            if net != "default" && !project.networks.contains_key(net) {
                diags.error(
                    smark,
                    &format!("services.{svc}.networks"),
                    format!("uses network '{net}', which is not declared under the top-level `networks:`"),
                );
            }
        }
        let cname = s
            .container_name
            .clone()
            .unwrap_or_else(|| format!("{}-{svc}-1", project.name));
        if let Some(other) = seen_containers.insert(cname.clone(), svc.clone()) {
            diags.error(
                smark,
                &format!("services.{svc}.container_name"),
                format!("container name '{cname}' is also used by service '{other}'"),
            );
        }
    }
    // Cycles, reported once each, at the dependency that closes them. Depth-first without
    // recursion: a long chain of services must not exhaust the stack.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut reported = BTreeSet::new();
    let deps_of = |n: &str| -> Vec<&str> {
        project.services.get(n).map_or_else(Vec::new, |s| {
            s.depends_on
                .keys()
                .filter(|d| project.services.contains_key(*d))
                .map(String::as_str)
                .collect()
        })
    };
    let mut found: Vec<Vec<String>> = Vec::new();
    for root in project.services.keys() {
        if state.contains_key(root.as_str()) {
            continue;
        }
        state.insert(root, 1);
        let mut path: Vec<(&str, Vec<&str>, usize)> = vec![(root, deps_of(root), 0)];
        while let Some((n, deps, i)) = path.last_mut() {
            let n = *n;
            let Some(&dep) = deps.get(*i) else {
                state.insert(n, 2);
                path.pop();
                continue;
            };
            *i += 1;
            match state.get(dep) {
                Some(1) => {
                    let start = path.iter().position(|p| p.0 == dep).unwrap_or(0);
                    let mut cycle: Vec<String> = path[start..].iter().map(|p| p.0.to_string()).collect();
                    cycle.push(dep.to_string());
                    found.push(cycle);
                }
                Some(_) => {}
                None => {
                    state.insert(dep, 1);
                    path.push((dep, deps_of(dep), 0));
                }
            }
        }
    }
    for cycle in found {
        let mut members: Vec<String> = cycle[..cycle.len() - 1].to_vec();
        members.sort();
        if !reported.insert(members) {
            continue;
        }
        let (from, to) = (&cycle[cycle.len() - 2], &cycle[cycle.len() - 1]);
        let mark = dep_marks.get(&(from.clone(), to.clone())).copied().unwrap_or_default();
        diags.error(
            mark,
            &format!("services.{from}.depends_on"),
            format!("dependency cycle: {}", cycle.join(" -> ")),
        );
    }
    // Conditions that can never be met.
    for (svc, s) in &project.services {
        for (dep, d) in &s.depends_on {
            let Some(target) = project.services.get(dep) else {
                continue;
            };
            if d.condition == Condition::ServiceHealthy && target.healthcheck.as_ref().is_none_or(|h| h.is_disabled()) {
                let mark = dep_marks.get(&(svc.clone(), dep.clone())).copied().unwrap_or_default();
                diags.warn(mark, &format!("services.{svc}.depends_on.{dep}"), format!("waits for '{dep}' to be healthy, but '{dep}' has no health check in these files (it may come from its image)"));
            }
        }
    }
}
