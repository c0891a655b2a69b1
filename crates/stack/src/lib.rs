//! Stack profiles: `profiles/<name>/profile.toml` says which compose files and env files make
//! each environment of a stack (dev, prod, ...), where the project directory is, and how
//! services group into layers for the diagram.
//!
//! Profiles are found, in order: at a path given by the user, in the user's profile directory
//! (`$XDG_CONFIG_HOME/sirius-deck/profiles/<name>`), and among the profiles built into the
//! binary, so that the default profile works from anywhere. A built-in profile whose project
//! lives inside the profile (the lab stack) is written out to the user's data directory first.

mod manage;

pub use manage::{detect, own, profile_text, remove, rename, write_profile, Detected, NewStack};

use deck_compose::{LoadOptions, Project};
use include_dir::{include_dir, Dir};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

static BUILTIN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../profiles");

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "sirius-lab";

/// Every profile error is the user's input to fix; nothing was changed.
impl deck_error::Coded for StackError {
    fn code(&self) -> deck_error::Code {
        deck_error::Code::Invalid
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("no stack profile named '{name}'. Available: {}. A profile is a folder with a profile.toml; pass its path, or put it in {}", available.join(", "), user_dir().display())]
    UnknownProfile { name: String, available: Vec<String> },
    #[error("stack '{profile}' has no environment '{env}'. Available: {}", available.join(", "))]
    UnknownEnv {
        profile: String,
        env: String,
        available: Vec<String>,
    },
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("project directory {} of stack '{profile}' does not exist: {hint}", dir.display())]
    MissingProjectDir {
        profile: String,
        dir: PathBuf,
        hint: String,
    },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: String,
    project_dir: String,
    default_env: String,
    env: BTreeMap<String, EnvFile>,
    #[serde(default)]
    layers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    backup: BackupSpec,
}

/// What a backup of the stack covers (the `[backup]` section of a profile). Unset lists mean
/// the defaults: every PostgreSQL service and every named volume.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// PostgreSQL services to dump with `pg_dump`.
    pub databases: Option<Vec<String>>,
    /// Named volumes (by their key in the compose files) to archive.
    pub volumes: Option<Vec<String>>,
    /// How each volume is kept consistent while it is archived (default: stop).
    #[serde(default)]
    pub consistency: BTreeMap<String, Consistency>,
}

/// How a volume is kept still while it is archived.
#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Stop the services that write to it (and what depends on them), start them afterwards.
    #[default]
    Stop,
    /// Freeze the services that write to it (`docker pause`), thaw them afterwards. Docker 20.10
    /// reports a container unhealthy after a pause until its next health check passes.
    Pause,
    /// Archive it while it is in use (for data that tolerates it).
    Live,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvFile {
    files: Vec<String>,
    #[serde(default)]
    env_files: Vec<String>,
    #[serde(default)]
    profiles: Vec<String>,
    /// `compose` (containers on one engine, the default) or `swarm`.
    #[serde(default)]
    target: Option<String>,
    /// The Docker context of the engine (a swarm's manager for `swarm`).
    #[serde(default)]
    context: Option<String>,
    /// For `swarm`: the registry the images are pushed to (`host[:port][/path]`).
    #[serde(default)]
    registry: Option<String>,
}

/// One environment of a stack: the compose files that make it, and where it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvSpec {
    pub files: Vec<PathBuf>,
    pub env_files: Vec<PathBuf>,
    pub profiles: Vec<String>,
    /// Deployed as a stack on a Docker Swarm (`target = "swarm"`), not as containers.
    pub swarm: bool,
    /// The Docker context it runs on, when not the one chosen by the user.
    pub context: Option<String>,
    /// On a swarm: the registry (`host[:port][/path]`) its images are pushed to and the nodes
    /// pull from; none: they are loaded on each node.
    pub registry: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Layer {
    Frontend,
    Processing,
    Data,
}

impl Layer {
    fn parse(s: &str) -> Option<Layer> {
        match s {
            "frontend" => Some(Layer::Frontend),
            "processing" => Some(Layer::Processing),
            "data" => Some(Layer::Data),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Where the profile was read from (a built-in profile: where it was written out).
    pub path: PathBuf,
    pub builtin: bool,
    pub project_dir: PathBuf,
    pub default_env: String,
    pub envs: BTreeMap<String, EnvSpec>,
    pub layers: BTreeMap<String, Layer>,
    pub backup: BackupSpec,
}

/// The user's own profiles.
pub fn user_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("sirius-deck").join("profiles")
}

/// Where built-in profiles are written out.
pub fn data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("sirius-deck")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Names of every profile that `find` can see.
pub fn available() -> Vec<String> {
    let mut names: Vec<String> = BUILTIN
        .dirs()
        .filter(|d| d.get_file(d.path().join("profile.toml")).is_some())
        .filter_map(|d| d.path().file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if let Ok(entries) = std::fs::read_dir(user_dir()) {
        for e in entries.flatten() {
            if e.path().join("profile.toml").is_file() {
                names.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Finds a profile by path or name (see the module docs for the order).
pub fn find(name_or_path: &str) -> Result<Profile, StackError> {
    let as_path = Path::new(name_or_path);
    if name_or_path.contains('/') || as_path.extension().is_some_and(|e| e == "toml") {
        let file = if as_path.is_dir() {
            as_path.join("profile.toml")
        } else {
            as_path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| StackError::Io {
            path: file.clone(),
            source,
        })?;
        return parse(&text, &file, false);
    }
    let user = user_dir().join(name_or_path).join("profile.toml");
    if user.is_file() {
        let text = std::fs::read_to_string(&user).map_err(|source| StackError::Io {
            path: user.clone(),
            source,
        })?;
        return parse(&text, &user, false);
    }
    let Some(dir) = BUILTIN.get_dir(name_or_path) else {
        return Err(StackError::UnknownProfile {
            name: name_or_path.to_string(),
            available: available(),
        });
    };
    let text = dir
        .get_file(dir.path().join("profile.toml"))
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| StackError::UnknownProfile {
            name: name_or_path.to_string(),
            available: available(),
        })?;
    let target = data_dir().join("profiles").join(name_or_path);
    let profile = parse(text, &target.join("profile.toml"), true)?;
    if profile.project_dir.starts_with(&target) {
        write_out(dir, &target)?;
    }
    Ok(profile)
}

/// Whether a profile's file holds a secret: an env file (`.env`, `.env.*`), a file under a
/// `secrets` folder, or one named like a secret (`db_password.txt`).
fn holds_secret(rel: &Path) -> bool {
    let name = rel.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    name == ".env"
        || name.starts_with(".env.")
        || rel.components().any(|c| c.as_os_str() == "secrets")
        || deck_compose::secrets::is_secret_name(stem)
}

/// Writes a built-in profile's files to `target`, leaving files that are already identical.
fn write_out(dir: &Dir<'_>, target: &Path) -> Result<(), StackError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StackError::Io { path, source }
    };
    for entry in dir.entries() {
        let rel = entry.path().strip_prefix(dir.path()).unwrap_or(entry.path());
        let dest = target.join(rel);
        match entry {
            include_dir::DirEntry::Dir(d) => {
                std::fs::create_dir_all(&dest).map_err(io(&dest))?;
                write_out(d, &dest)?;
            }
            include_dir::DirEntry::File(f) => {
                if std::fs::read(&dest).ok().as_deref() != Some(f.contents()) {
                    if let Some(parent) = dest.parent() {
                        std::fs::create_dir_all(parent).map_err(io(parent))?;
                    }
                    std::fs::write(&dest, f.contents()).map_err(io(&dest))?;
                }
                // Scripts keep their exec bit (include_dir does not record modes); what holds
                // a secret is readable by its owner only.
                use std::os::unix::fs::PermissionsExt;
                let mode = if holds_secret(entry.path()) {
                    0o600
                } else if f.contents().starts_with(b"#!") {
                    0o755
                } else {
                    0o644
                };
                let current = std::fs::metadata(&dest).map_err(io(&dest))?.permissions().mode() & 0o777;
                if current != mode {
                    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).map_err(io(&dest))?;
                }
            }
        }
    }
    Ok(())
}

/// Parses a profile file; `path` is where it lives (relative paths are resolved from there).
pub fn parse(text: &str, path: &Path, builtin: bool) -> Result<Profile, StackError> {
    let invalid = |line: usize, message: String| StackError::Invalid {
        path: path.to_path_buf(),
        line,
        message,
    };
    let raw: ProfileFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        invalid(line, e.message().to_string())
    })?;
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1);
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| -> PathBuf {
        if let Some(rest) = p.strip_prefix("~/") {
            home().join(rest)
        } else if p == "~" {
            home()
        } else {
            base.join(p)
        }
    };
    if !raw.env.contains_key(&raw.default_env) {
        return Err(invalid(
            line_of("default_env"),
            format!("default_env '{}' is not one of the [env.*] sections", raw.default_env),
        ));
    }
    let mut envs = BTreeMap::new();
    for (name, e) in raw.env {
        if e.files.is_empty() {
            return Err(invalid(
                line_of(&format!("[env.{name}]")),
                format!("env.{name}.files lists no compose file"),
            ));
        }
        let swarm = match e.target.as_deref() {
            None | Some("compose") => false,
            Some("swarm") => true,
            Some(other) => {
                return Err(invalid(
                    line_of("target"),
                    format!(
                        "env.{name}.target is '{other}': write \"compose\" (containers on one engine) or \"swarm\""
                    ),
                ))
            }
        };
        let registry = e.registry.filter(|r| !r.is_empty());
        if let Some(r) = &registry {
            let why = if !swarm {
                Some("only an environment with target = \"swarm\" pushes its images to a registry")
            } else if r.contains("://") {
                Some("write it without a scheme (host:port)")
            } else if r.contains(char::is_whitespace) || r.starts_with('/') || r.contains('@') {
                Some("write it as host[:port][/path]")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(invalid(
                    line_of("registry"),
                    format!("env.{name}.registry is '{r}': {why}"),
                ));
            }
        }
        envs.insert(
            name,
            EnvSpec {
                registry,
                files: e.files.iter().map(PathBuf::from).collect(),
                env_files: e.env_files.iter().map(PathBuf::from).collect(),
                profiles: e.profiles,
                swarm,
                context: e.context.filter(|c| !c.is_empty()),
            },
        );
    }
    let mut layers = BTreeMap::new();
    for (layer, services) in raw.layers {
        let l = Layer::parse(&layer).ok_or_else(|| {
            invalid(
                line_of(&layer),
                format!("layer '{layer}' is not frontend, processing or data"),
            )
        })?;
        for s in services {
            layers.insert(s, l);
        }
    }
    let project_dir = resolve(&raw.project_dir);
    Ok(Profile {
        name: raw.name,
        description: raw.description,
        path: path.to_path_buf(),
        builtin,
        project_dir: clean(&project_dir),
        default_env: raw.default_env,
        envs,
        layers,
        backup: raw.backup,
    })
}

fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

impl Profile {
    pub fn env(&self, env: &str) -> Result<&EnvSpec, StackError> {
        self.envs.get(env).ok_or_else(|| StackError::UnknownEnv {
            profile: self.name.clone(),
            env: env.to_string(),
            available: self.envs.keys().cloned().collect(),
        })
    }

    /// Loader options for one environment, with `project_dir` replacing the profile's own
    /// when given, and the process environment.
    pub fn load_options(&self, env: &str, project_dir: Option<&Path>) -> Result<LoadOptions, StackError> {
        let spec = self.env(env)?;
        let dir = project_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.project_dir.clone());
        if !dir.is_dir() {
            return Err(StackError::MissingProjectDir {
                profile: self.name.clone(),
                dir,
                hint: format!("set project_dir in {} or pass --project-dir", self.path.display()),
            });
        }
        let mut opts = LoadOptions::new(spec.files.iter().map(|f| dir.join(f)));
        opts.env_files = spec.env_files.iter().map(|f| dir.join(f)).collect();
        opts.project_dir = Some(dir);
        opts.profiles = spec.profiles.clone();
        Ok(opts)
    }

    /// The layer of each service: from the profile, or inferred from the dependency graph
    /// where the profile does not say (nothing depends on it: frontend; it depends on
    /// nothing: data; otherwise processing).
    pub fn layers(&self, project: &Project) -> BTreeMap<String, Layer> {
        project
            .services
            .iter()
            .map(|(name, svc)| {
                let layer = self.layers.get(name).copied().unwrap_or_else(|| {
                    let depended_on = project.services.values().any(|s| s.depends_on.contains_key(name));
                    match (svc.depends_on.is_empty(), depended_on) {
                        (true, true) => Layer::Data,
                        (_, false) => Layer::Frontend,
                        (false, true) => Layer::Processing,
                    }
                });
                (name.clone(), layer)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_sirius_profile_parses() {
        let p = find("sirius").expect("built in");
        assert_eq!(p.default_env, "dev");
        assert_eq!(p.env("prod").expect("prod").files.len(), 2);
        assert_eq!(p.layers.get("sirius-ui"), Some(&Layer::Frontend));
        assert!(matches!(p.env("staging"), Err(StackError::UnknownEnv { .. })));
    }

    #[test]
    fn written_out_secrets_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let p = find(DEFAULT_PROFILE).expect("built in");
        let mode = |rel: &str| {
            std::fs::metadata(p.project_dir.join(rel))
                .expect("written out")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(".env"), 0o600);
        assert_eq!(mode("secrets/sirius_api_key.txt"), 0o600);
        assert_eq!(mode("docker-compose.yaml"), 0o644);
        assert_eq!(mode("sirius-postgres/entrypoint.sh"), 0o755);
        assert!(holds_secret(Path::new("conf/db_password.txt")));
        assert!(holds_secret(Path::new(".env.local")));
        assert!(!holds_secret(Path::new("app/lab.py")));
    }

    #[test]
    fn a_registry_is_for_a_swarm_environment_and_written_host_port() {
        let profile = |env: &str| {
            format!(
                "name = \"x\"\nproject_dir = \".\"\ndefault_env = \"prod\"\n[env.prod]\nfiles = [\"a.yaml\"]\n{env}"
            )
        };
        let ok = parse(
            &profile("target = \"swarm\"\nregistry = \"10.0.0.5:5000\"\n"),
            Path::new("/p/profile.toml"),
            false,
        )
        .expect("parses");
        assert_eq!(ok.envs["prod"].registry.as_deref(), Some("10.0.0.5:5000"));
        for (env, said) in [
            ("registry = \"r:5000\"\n", "only an environment with target = \"swarm\""),
            (
                "target = \"swarm\"\nregistry = \"https://r:5000\"\n",
                "without a scheme",
            ),
        ] {
            match parse(&profile(env), Path::new("/p/profile.toml"), false) {
                Err(StackError::Invalid { message, line, .. }) => {
                    assert!(message.contains(said), "{message}");
                    assert_eq!(line, 6 + usize::from(env.starts_with("target")), "{message}");
                }
                other => panic!("expected an error, got {other:?}"),
            }
        }
    }

    #[test]
    fn errors_name_the_line() {
        let text =
            "name = \"x\"\nproject_dir = \".\"\ndefault_env = \"dev\"\n[env.dev]\nfiles = [\"a.yaml\"]\nbogus = 1\n";
        match parse(text, Path::new("/p/profile.toml"), false) {
            Err(StackError::Invalid { line, message, .. }) => {
                assert_eq!(line, 6, "{message}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
        let text = "name = \"x\"\nproject_dir = \".\"\ndefault_env = \"prod\"\n[env.dev]\nfiles = [\"a.yaml\"]\n";
        assert!(matches!(
            parse(text, Path::new("/p/profile.toml"), false),
            Err(StackError::Invalid { line: 3, .. })
        ));
    }

    #[test]
    fn unknown_profile_lists_the_available_ones() {
        let e = find("no-such-stack").expect_err("unknown");
        assert!(e.to_string().contains("sirius"), "{e}");
    }
}
