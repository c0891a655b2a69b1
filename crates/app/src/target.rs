//! What the user names (a stack profile and environment, or compose files) and what it loads
//! to: the files read once, the profile, and the environment, which follows the one running.

use crate::error::{load_error, Error, Result};
use crate::App;
use deck_compose::{Diagnostic, LoadOptions, Project};
use deck_stack::Profile;
use serde::Deserialize;
use std::path::PathBuf;
use ts_rs::TS;

/// A stack as the user names it.
#[derive(Clone, Debug, Default, Deserialize, TS)]
#[serde(default)]
#[ts(export)]
pub struct Target {
    /// A stack profile: a built-in name, one under the user's profiles folder, or a path.
    /// Default: the built-in default profile (unless `files` are given).
    pub stack: Option<String>,
    /// The profile's environment (dev, prod). Default: the one running, else the profile's own.
    pub env: Option<String>,
    /// Compose files instead of a profile, as with `docker compose -f`.
    #[ts(type = "Array<string>")]
    pub files: Vec<PathBuf>,
    /// Env files replacing the project's `.env`.
    #[ts(type = "Array<string>")]
    pub env_files: Vec<PathBuf>,
    pub project_name: Option<String>,
    /// Compose profiles to enable.
    pub profiles: Vec<String>,
    #[ts(type = "string | null")]
    pub project_dir: Option<PathBuf>,
}

/// A stack, loaded.
#[derive(Clone, Debug)]
pub struct Stack {
    pub project: Project,
    pub warnings: Vec<Diagnostic>,
    /// The environment of the profile that was loaded (none with -f files).
    pub env: Option<String>,
    pub profile: Option<Profile>,
    /// What it was loaded from, so that another environment of it is loaded alike (with the
    /// same project name, folder, env files and compose profiles).
    pub(crate) target: Target,
}

impl Target {
    /// A profile's environment.
    pub fn profile(stack: &str, env: Option<&str>) -> Self {
        Target {
            stack: Some(stack.to_string()),
            env: env.map(str::to_string),
            ..Default::default()
        }
    }

    /// The profile named (the default one when neither a profile nor files are named).
    pub fn find_profile(&self) -> Result<Option<Profile>> {
        if !self.files.is_empty() {
            return Ok(None);
        }
        let name = self.stack.as_deref().unwrap_or(deck_stack::DEFAULT_PROFILE);
        Ok(Some(deck_stack::find(name)?))
    }

    fn options(&self, profile: Option<&Profile>, env: Option<&str>) -> Result<LoadOptions> {
        let mut opts = match (profile, env) {
            (Some(p), Some(env)) => p.load_options(env, self.project_dir.as_deref())?,
            _ => {
                let mut o = LoadOptions::new(self.files.iter().cloned());
                o.project_dir = self.project_dir.clone();
                o
            }
        };
        if !self.env_files.is_empty() {
            opts.env_files = self.env_files.clone();
        }
        if self.project_name.is_some() {
            opts.project_name = self.project_name.clone();
        }
        if !self.profiles.is_empty() {
            opts.profiles = self.profiles.clone();
        }
        Ok(opts)
    }

    /// Loads the files of one environment (the named one, else the profile's default); every
    /// error with its file, line and key.
    pub fn load(&self) -> Result<Stack> {
        let profile = self.find_profile()?;
        let env = profile
            .as_ref()
            .map(|p| self.env.clone().unwrap_or_else(|| p.default_env.clone()));
        self.load_env(profile, env)
    }

    /// Loads the files of `env` of a profile already found (or the -f files without one).
    pub(crate) fn load_env(&self, profile: Option<Profile>, env: Option<String>) -> Result<Stack> {
        let opts = self.options(profile.as_ref(), env.as_deref())?;
        let loaded = deck_compose::load(&opts).map_err(load_error)?;
        Ok(Stack {
            project: loaded.project,
            warnings: loaded.warnings,
            env,
            profile,
            target: self.clone(),
        })
    }

    /// Like `load`, but without a named environment the one the stack's containers were made
    /// for is loaded when it runs (so that `ps` after `switch prod` looks at prod). Reads the
    /// files once more only when the running environment differs from the default.
    pub async fn load_running(&self, app: &App) -> Result<Stack> {
        let stack = self.load()?;
        let (Some(profile), None) = (&stack.profile, &self.env) else {
            return Ok(stack);
        };
        let Ok(engine) = app.engine_for(&stack).await else {
            return Ok(stack);
        };
        match deck_switch::current_env(&engine, &stack.project.name).await {
            Ok(Some(running)) if Some(&running) != stack.env.as_ref() && profile.envs.contains_key(&running) => {
                let profile = stack.profile.clone();
                self.load_env(profile, Some(running))
            }
            _ => Ok(stack),
        }
    }
}

impl Stack {
    /// The environment's spec in its profile (none with -f files).
    pub fn env_spec(&self) -> Option<&deck_stack::EnvSpec> {
        self.profile.as_ref()?.envs.get(self.env.as_deref()?)
    }

    /// Whether the environment is deployed on a Docker Swarm.
    pub fn swarm(&self) -> bool {
        self.env_spec().is_some_and(|e| e.swarm)
    }

    /// Refuses what works on one engine's containers only when the environment is a swarm
    /// stack (its tasks are not compose containers): nothing is done.
    pub fn require_local(&self, action: &str) -> Result<()> {
        if !self.swarm() {
            return Ok(());
        }
        Err(Error::new(
            deck_error::Code::Refused,
            format!(
                "{action} is not done on a swarm stack yet: the {} environment of {} runs as swarm services (see `sirius-deck ps`)",
                self.env.as_deref().unwrap_or("?"),
                self.name()
            ),
        ))
    }

    /// The stack's name: its profile's, or the compose project's.
    pub fn name(&self) -> &str {
        self.profile.as_ref().map_or(&self.project.name, |p| &p.name)
    }

    /// The profile, for actions that only work on one (switch).
    pub fn require_profile(&self, action: &str) -> Result<&Profile> {
        self.profile
            .as_ref()
            .ok_or_else(|| Error::invalid(format!("{action} works on a stack profile (--stack), not on -f files")))
    }

    pub fn require_service(&self, service: &str) -> Result<()> {
        if self.project.services.contains_key(service) {
            return Ok(());
        }
        Err(Error::invalid(match self.project.disabled_services.get(service) {
            Some(d) => format!(
                "service '{service}' is in profile {}, which is not active: add --profile {}",
                d.profiles.join(", "),
                d.profiles.first().map_or("", String::as_str)
            ),
            None => format!(
                "no service '{service}' in {}; it has: {}",
                self.project.name,
                self.project.services.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }))
    }

    /// What a backup of this stack covers, and the stack as the backup crate sees it.
    pub fn backup_stack(&self) -> Result<deck_backup::Stack<'_>> {
        let (spec, path) = match &self.profile {
            Some(p) => (p.backup.clone(), p.path.display().to_string()),
            None => (deck_stack::BackupSpec::default(), "the compose files".to_string()),
        };
        Ok(deck_backup::Stack {
            project: &self.project,
            stack: self.name(),
            env: self.env.as_deref(),
            coverage: deck_backup::coverage(&self.project, &spec, &path)?,
        })
    }
}
