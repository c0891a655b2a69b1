//! Adding, renaming and removing the user's own profiles (under [`user_dir`]). A profile is
//! written only once everything about it is known to be right; the built-in ones are never
//! changed; removing one removes its `profile.toml` only, never a compose file.

use crate::{find, parse, user_dir, Profile, StackError, BUILTIN};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// The compose files of a folder, and the environments they suggest.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Detected {
    pub folder: String,
    /// A name for the stack: the folder's, made valid.
    pub name: String,
    /// Every compose file of the folder, base files first.
    pub files: Vec<String>,
    /// The environments suggested and their files, base first: `dev` and `prod` from
    /// `*.dev.*` and `*.prod.*` files, else one `dev` of the base file.
    pub envs: BTreeMap<String, Vec<String>>,
}

/// A stack to add: its name, its folder, each environment's compose files (names in the
/// folder, base first) and the one opened first.
#[derive(Clone, Debug, Deserialize)]
pub struct NewStack {
    pub name: String,
    pub folder: String,
    pub envs: BTreeMap<String, Vec<String>>,
    pub default_env: String,
}

/// The base compose files, in the order `docker compose` looks for them.
const BASE: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The override files `docker compose` reads after the base file when none is named.
const OVERRIDE: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Whether a file name reads as a compose file: a base name, or `compose.*`/`docker-compose.*`
/// and `*.dev.*`/`*.prod.*` YAML files.
fn is_compose(name: &str) -> bool {
    is_yaml(name)
        && (BASE.contains(&name)
            || name.starts_with("compose.")
            || name.starts_with("docker-compose.")
            || name.contains(".dev.")
            || name.contains(".prod."))
}

/// A valid stack name from any text: lower case, letters, digits and dashes.
fn name_from(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "stack".into()
    } else {
        out
    }
}

/// The compose files of `folder` and what they suggest.
pub fn detect(folder: &Path) -> Result<Detected, StackError> {
    let io = |source| StackError::Io {
        path: folder.to_path_buf(),
        source,
    };
    let mut files: Vec<String> = std::fs::read_dir(folder)
        .map_err(io)?
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_compose(n))
        .collect();
    // Base files first (in compose's order), then the others by name.
    files.sort_by_key(|n| (BASE.iter().position(|b| b == n).unwrap_or(BASE.len()), n.clone()));
    // The base file, and its override when there is one (`docker compose` merges it by default).
    let mut base: Vec<String> = files
        .iter()
        .find(|n| BASE.contains(&n.as_str()))
        .cloned()
        .into_iter()
        .collect();
    base.extend(files.iter().find(|n| OVERRIDE.contains(&n.as_str())).cloned());
    let mut envs = BTreeMap::new();
    for env in ["dev", "prod"] {
        let overrides: Vec<String> = files
            .iter()
            .filter(|n| n.contains(&format!(".{env}.")))
            .cloned()
            .collect();
        if !overrides.is_empty() {
            envs.insert(env.to_string(), base.iter().chain(&overrides).cloned().collect());
        }
    }
    if envs.is_empty() && !base.is_empty() {
        envs.insert("dev".to_string(), base);
    }
    let name = folder
        .file_name()
        .map(|n| name_from(&n.to_string_lossy()))
        .unwrap_or_default();
    Ok(Detected {
        folder: folder.display().to_string(),
        name,
        files,
        envs,
    })
}

/// Whether a profile of this name exists, built in or the user's.
fn exists(name: &str) -> bool {
    BUILTIN.get_dir(name).is_some() || user_dir().join(name).join("profile.toml").is_file()
}

fn invalid(path: &Path, message: String) -> StackError {
    StackError::Invalid {
        path: path.to_path_buf(),
        line: 1,
        message,
    }
}

/// Whether `name` can name a stack: letters, digits, `-` and `_` (up to 64), starting with a
/// letter or digit; never a path.
fn valid_name(name: &str) -> Result<(), StackError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(());
    }
    Err(invalid(
        &user_dir(),
        format!("'{name}' cannot name a stack: use letters, digits, '-' and '_' (up to 64), starting with a letter or digit"),
    ))
}

/// A name the user gave for a new stack, checked: valid, not taken.
fn check_name(name: &str) -> Result<(), StackError> {
    valid_name(name)?;
    let here = user_dir().join(name);
    if exists(name) {
        return Err(invalid(
            &here,
            format!("a stack named '{name}' exists already: choose another name"),
        ));
    }
    Ok(())
}

#[derive(Serialize)]
struct Written<'a> {
    name: &'a str,
    description: String,
    project_dir: &'a str,
    default_env: &'a str,
    env: BTreeMap<&'a str, WrittenEnv<'a>>,
}

#[derive(Serialize)]
struct WrittenEnv<'a> {
    files: &'a [String],
}

/// The `profile.toml` of a new stack, checked (name, folder, files) but not written.
pub fn profile_text(new: &NewStack) -> Result<(PathBuf, String), StackError> {
    check_name(&new.name)?;
    let path = user_dir().join(&new.name).join("profile.toml");
    let folder = Path::new(&new.folder);
    if !folder.is_absolute() || !folder.is_dir() {
        return Err(invalid(&path, format!("{} is not a folder", new.folder)));
    }
    if !new.envs.contains_key(&new.default_env) {
        return Err(invalid(
            &path,
            format!("the first environment '{}' is not one of the stack's", new.default_env),
        ));
    }
    for (env, files) in &new.envs {
        if env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(invalid(&path, format!("'{env}' cannot name an environment")));
        }
        if files.is_empty() {
            return Err(invalid(&path, format!("choose at least one compose file for {env}")));
        }
        for f in files {
            if Path::new(f).components().count() != 1 || !folder.join(f).is_file() {
                return Err(invalid(&path, format!("{f} is not a file of {}", folder.display())));
            }
        }
    }
    let written = Written {
        name: &new.name,
        description: format!("Added from {}", folder.display()),
        project_dir: &new.folder,
        default_env: &new.default_env,
        env: new
            .envs
            .iter()
            .map(|(e, files)| (e.as_str(), WrittenEnv { files }))
            .collect(),
    };
    let text = toml::to_string(&written).map_err(|e| invalid(&path, e.to_string()))?;
    // Read back as any profile is: what is written loads.
    parse(&text, &path, false)?;
    Ok((path, text))
}

/// Writes a profile made by [`profile_text`], whole or not at all.
pub fn write_profile(path: &Path, text: &str) -> Result<Profile, StackError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StackError::Io { path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // Written whole or not at all.
    let tmp = dir.join(".profile.toml.new");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    parse(text, path, false)
}

/// A user's profile by name (a built-in one is refused: it is part of the program).
pub fn own(name: &str) -> Result<Profile, StackError> {
    valid_name(name)?;
    let profile = find(name)?;
    if profile.builtin || profile.path != user_dir().join(name).join("profile.toml") {
        return Err(invalid(
            &profile.path,
            format!("'{name}' is built into Sirius Deck: it cannot be renamed or removed (copy its folder under {} to make your own)", user_dir().display()),
        ));
    }
    Ok(profile)
}

/// Renames a user's profile: its folder and the name in its file.
pub fn rename(name: &str, to: &str) -> Result<Profile, StackError> {
    let profile = own(name)?;
    check_name(to)?;
    let text = std::fs::read_to_string(&profile.path).map_err(|source| StackError::Io {
        path: profile.path.clone(),
        source,
    })?;
    // The top-level `name = …` line, before any table.
    let mut renamed = Vec::new();
    let mut done = false;
    for line in text.lines() {
        let t = line.trim_start();
        if !done && t.starts_with('[') {
            done = true;
        }
        if !done && t.starts_with("name") && t["name".len()..].trim_start().starts_with('=') {
            renamed.push(format!("name = {}", toml::Value::String(to.to_string())));
            done = true;
        } else {
            renamed.push(line.to_string());
        }
    }
    let text = renamed.join("\n") + "\n";
    let from_dir = user_dir().join(name);
    let to_dir = user_dir().join(to);
    parse(&text, &to_dir.join("profile.toml"), false)?;
    std::fs::rename(&from_dir, &to_dir).map_err(|source| StackError::Io {
        path: to_dir.clone(),
        source,
    })?;
    write_profile(&to_dir.join("profile.toml"), &text)
}

/// Removes a user's profile: its `profile.toml`, and its folder when nothing else is in it.
/// Resolves to the folder when it was kept (it holds other files).
pub fn remove(name: &str) -> Result<Option<PathBuf>, StackError> {
    let profile = own(name)?;
    std::fs::remove_file(&profile.path).map_err(|source| StackError::Io {
        path: profile.path.clone(),
        source,
    })?;
    let dir = user_dir().join(name);
    Ok(match std::fs::remove_dir(&dir) {
        Ok(()) => None,
        Err(_) => Some(dir),
    })
}

#[cfg(test)]
mod tests {
    use super::{is_compose, name_from};

    #[test]
    fn compose_files_are_told_by_their_names() {
        for yes in [
            "compose.yaml",
            "docker-compose.yml",
            "compose.dev.yaml",
            "docker-compose.prod.yml",
            "app.dev.yaml",
        ] {
            assert!(is_compose(yes), "{yes}");
        }
        for no in ["README.md", "compose.json", "values.yaml", ".env", "dev.txt"] {
            assert!(!is_compose(no), "{no}");
        }
    }

    #[test]
    fn a_folder_suggests_its_environments_as_compose_reads_them() {
        let dir = std::env::temp_dir().join(format!("sirius-deck-detect-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("folder");
        for f in [
            "docker-compose.yml",
            "docker-compose.override.yml",
            "docker-compose.prod.yml",
            "notes.md",
        ] {
            std::fs::write(dir.join(f), "services: {}\n").expect("file");
        }
        let found = super::detect(&dir).expect("detected");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            found.files,
            [
                "docker-compose.yml",
                "docker-compose.override.yml",
                "docker-compose.prod.yml"
            ]
        );
        // The override is merged after the base file, as compose does by default.
        assert_eq!(
            found.envs.get("prod").map(Vec::as_slice),
            Some(
                &[
                    "docker-compose.yml".to_string(),
                    "docker-compose.override.yml".into(),
                    "docker-compose.prod.yml".into()
                ][..]
            )
        );
        assert!(!found.envs.contains_key("dev"), "no dev file: no dev environment");
    }

    #[test]
    fn names_are_never_paths() {
        for bad in ["/home/u/project", "../x", "a/b", "", "-x"] {
            assert!(super::valid_name(bad).is_err(), "{bad}");
        }
        assert!(super::valid_name("my-shop_2").is_ok());
    }

    #[test]
    fn a_folder_name_becomes_a_stack_name() {
        assert_eq!(name_from("My App (v2)"), "my-app-v2");
        assert_eq!(name_from("___"), "stack");
        assert_eq!(name_from("web_shop"), "web-shop");
    }
}
