//! The differential test against the real Docker Compose v2 (2.26, compose-go inside): for every
//! project of the corpus (`crates/compose/tests/corpus/*/*`: real public compose projects and
//! hand-written tricky cases, each with its overrides and `.env`), `sirius-deck config --format
//! json` must print the same model as `docker compose config --format json`, after the
//! normalisations listed in `normalize` below, or both must refuse the project. The projects
//! where Sirius Deck differs on purpose are listed, with the reason, in the README's section
//! "Deliberate differences from docker compose"; the test fails on any other difference, and on a
//! listed project that no longer differs (so the list stays true).
//!
//! The compose binary is `$COMPOSE_V2`, else the test command's cache
//! (`~/.cache/sirius-deck/compose-v2/docker-compose`); `scripts/test.sh` fetches it.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn compose_v2() -> PathBuf {
    if let Some(p) = std::env::var_os("COMPOSE_V2") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&home).join(".cache"));
    cache.join("sirius-deck/compose-v2/docker-compose")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// The corpus: every folder two levels under `corpus/` (group/project).
fn corpus() -> Vec<PathBuf> {
    let dir = root().join("crates/compose/tests/corpus");
    let mut projects = Vec::new();
    for group in std::fs::read_dir(&dir).expect("corpus folder") {
        let group = group.expect("corpus").path();
        if !group.is_dir() {
            continue;
        }
        for p in std::fs::read_dir(&group).expect("corpus") {
            let p = p.expect("corpus").path();
            if p.is_dir() {
                projects.push(p);
            }
        }
    }
    projects.sort();
    projects
}

/// The arguments of a project: its `ARGS` file, else compose's default file discovery spelled
/// out, `COMPOSE_FILE` in its `.env` first (Sirius Deck without `-f` runs its stack profile,
/// not the folder's files).
fn args(project: &Path) -> Vec<String> {
    let mut args: Vec<String> = std::fs::read_to_string(project.join("ARGS"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    if !args.iter().any(|a| a == "-f") {
        // COMPOSE_FILE in the project's .env names the files, as compose reads it.
        let dotenv = std::fs::read_to_string(project.join(".env")).unwrap_or_default();
        if let Some(files) = dotenv.lines().find_map(|l| l.trim().strip_prefix("COMPOSE_FILE=")) {
            for f in files.trim_matches('"').split(':') {
                args.extend(["-f".into(), f.into()]);
            }
            return args;
        }
        let base = [
            "compose.yaml",
            "compose.yml",
            "docker-compose.yaml",
            "docker-compose.yml",
        ]
        .into_iter()
        .find(|f| project.join(f).exists());
        if let Some(base) = base {
            args.extend(["-f".into(), base.into()]);
            let (stem, ext) = base.rsplit_once('.').expect("corpus");
            let over = format!("{stem}.override.{ext}");
            if project.join(&over).exists() {
                args.extend(["-f".into(), over]);
            }
        }
    }
    args
}

struct Outcome {
    /// Exit status success and the JSON printed, or the error text.
    result: Result<Value, String>,
}

fn run(program: &Path, pre: &[&str], project: &Path, args: &[String], post: &[&str]) -> Outcome {
    let out = Command::new(program)
        .args(pre)
        .args(args)
        .args(post)
        .current_dir(project)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let result = if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| format!("not JSON: {e}"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    };
    Outcome { result }
}

/// Representation differences that are not differences of the model. Each is applied to both
/// outputs:
/// - nothing yet.
fn normalize(_v: &mut Value) {}

/// Paths where two values differ, with both sides, in a readable form.
fn differences(ours: &Value, theirs: &Value, path: &str, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => differences(x, y, &p, out),
                    (Some(x), None) => out.push(format!("{p}: only ours: {}", short(x))),
                    (None, Some(y)) => out.push(format!("{p}: only compose: {}", short(y))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: ours {} compose {}", short(a), short(b))),
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        format!("{}…", &s[..s.char_indices().nth(160).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

/// The first error line of a refusal, with the corpus folder left out.
fn first_error(stderr: &str) -> String {
    let corpus = format!("{}/", root().join("crates/compose/tests/corpus").display());
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error") || !l.starts_with("warning"))
        .unwrap_or("");
    let line = line.replace(&corpus, "");
    line.chars().take(300).collect()
}

/// The projects the README lists as deliberate differences: every `(corpus: a/b, c/d)` mention
/// in its section "Deliberate differences from docker compose".
fn deliberate() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("corpus");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Deliberate differences from docker compose"))
        .unwrap_or("");
    section
        .split("corpus:")
        .skip(1)
        .flat_map(|s| {
            s.split(')')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|p| p.trim().trim_matches('`').to_string())
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

#[test]
fn config_agrees_with_docker_compose_v2() {
    let compose = compose_v2();
    assert!(
        compose.exists(),
        "{} is missing: ./scripts/test.sh fetches Docker Compose v2 (or set COMPOSE_V2)",
        compose.display()
    );
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_sirius-deck"));
    let projects = corpus();
    let corpus_dir = root().join("crates/compose/tests/corpus");
    let name = |p: &Path| p.strip_prefix(&corpus_dir).expect("corpus").display().to_string();

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let chunk = projects.len().div_ceil(threads);
    let results: BTreeMap<String, (Outcome, Outcome)> = std::thread::scope(|s| {
        let handles: Vec<_> = projects
            .chunks(chunk)
            .map(|part| {
                let (ours, compose) = (&ours, &compose);
                s.spawn(move || {
                    part.iter()
                        .map(|p| {
                            let a = args(p);
                            let o = run(ours, &[], p, &a, &["config", "--format", "json", "--show-secrets"]);
                            let t = run(compose, &[], p, &a, &["config", "--format", "json"]);
                            (name(p), (o, t))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("corpus")).collect()
    });

    let (mut agree_model, mut agree_refuse) = (0, 0);
    let mut differ = BTreeMap::new();
    for (project, (o, t)) in results {
        let report = match (o.result, t.result) {
            (Ok(mut a), Ok(mut b)) => {
                normalize(&mut a);
                normalize(&mut b);
                let mut d = Vec::new();
                differences(&a, &b, "", &mut d);
                if d.is_empty() {
                    agree_model += 1;
                    continue;
                }
                d.truncate(12);
                d.join("\n    ")
            }
            (Err(_), Err(_)) => {
                agree_refuse += 1;
                continue;
            }
            (Ok(_), Err(e)) => format!("compose refuses, we accept: {}", first_error(&e)),
            (Err(e), Ok(_)) => format!("we refuse, compose accepts: {}", first_error(&e)),
        };
        differ.insert(project, report);
    }
    let listed = deliberate();
    let unexpected: Vec<_> = differ.iter().filter(|(p, _)| !listed.contains(*p)).collect();
    let fixed: Vec<_> = listed.iter().filter(|p| !differ.contains_key(*p)).collect();
    let total = agree_model + agree_refuse + differ.len();
    println!(
        "{total} projects: {agree_model} same model, {agree_refuse} refused by both, {} differ \
         ({} listed as deliberate in the README)",
        differ.len(),
        differ.len() - unexpected.len()
    );
    for (p, report) in &unexpected {
        println!("\n{p}:\n    {report}");
    }
    assert!(total >= 200, "the corpus has {total} projects, fewer than 200");
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{} projects differ from docker compose without being listed as deliberate; listed but \
         no longer different: {fixed:?}",
        unexpected.len()
    );
}
