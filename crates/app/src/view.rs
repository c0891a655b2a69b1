//! The stacks there are, and one stack as the window draws it before anything runs.

use crate::error::Result;
use crate::target::{Stack, Target};
use deck_compose::{Condition, Diagnostic};
use deck_stack::Layer;
use serde::Serialize;
use ts_rs::TS;

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct StackSummary {
    pub name: String,
    pub description: String,
    pub envs: Vec<String>,
    pub default_env: String,
    pub is_default: bool,
    /// Why the profile cannot be read, when it cannot.
    pub invalid: Option<String>,
    /// One of the user's own profiles (which can be renamed and removed), not a built-in one.
    pub own: bool,
}

/// Every stack profile: built in, and in the user's profiles folder.
pub fn stacks() -> Vec<StackSummary> {
    deck_stack::available().iter().map(|name| summary(name)).collect()
}

/// One profile as the stack picker lists it (with why it cannot be opened, if so).
pub(crate) fn summary(name: &str) -> StackSummary {
    let is_default = name == deck_stack::DEFAULT_PROFILE;
    let own = deck_stack::user_dir().join(name).join("profile.toml").is_file();
    match deck_stack::find(name) {
        Ok(p) => StackSummary {
            name: name.to_string(),
            description: p.description,
            envs: p.envs.keys().cloned().collect(),
            default_env: p.default_env,
            is_default,
            invalid: None,
            own,
        },
        Err(e) => StackSummary {
            name: name.to_string(),
            description: String::new(),
            envs: vec![],
            default_env: String::new(),
            is_default,
            invalid: Some(e.to_string()),
            own,
        },
    }
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Edge {
    pub target: String,
    pub condition: Condition,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ServiceNode {
    pub name: String,
    pub layer: Layer,
    pub image: Option<String>,
    pub build_target: Option<String>,
    pub ports: Vec<String>,
    pub depends_on: Vec<Edge>,
    pub has_healthcheck: bool,
    pub one_shot: bool,
    /// How many containers it runs (`scale` / `deploy.replicas`).
    pub replicas: u32,
    #[ts(type = "number | null")]
    pub memory_limit: Option<u64>,
    pub cpu_limit: Option<f64>,
}

/// A stack as the window draws it: the planned services in start-up order, or the errors that
/// stop its files loading.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct StackView {
    pub stack: String,
    pub env: String,
    pub project: String,
    pub services: Vec<ServiceNode>,
    /// Warnings, or (when `invalid`) every error, with file and line.
    pub diagnostics: Vec<Diagnostic>,
    /// The files have errors: `services` is empty and `diagnostics` says why.
    pub invalid: bool,
}

/// The planned diagram of one environment of a profile, and the stack loaded (none when its
/// files have errors: the view then lists them). A profile that cannot be found is an error.
pub fn view(target: &Target) -> Result<(StackView, Option<Stack>)> {
    let profile = target.find_profile()?;
    let name = profile.as_ref().map(|p| p.name.clone()).unwrap_or_default();
    let env = target
        .env
        .clone()
        .or_else(|| profile.as_ref().map(|p| p.default_env.clone()))
        .unwrap_or_default();
    let loaded_env = profile.as_ref().map(|_| env.clone());
    let stack = match target.load_env(profile.clone(), loaded_env) {
        Ok(s) => s,
        Err(e) if !e.diagnostics.is_empty() => {
            let view = StackView {
                stack: name,
                env,
                project: String::new(),
                services: vec![],
                diagnostics: e.diagnostics,
                invalid: true,
            };
            return Ok((view, None));
        }
        Err(e) => return Err(e),
    };
    let project = &stack.project;
    let layers = profile.as_ref().map(|p| p.layers(project)).unwrap_or_default();
    let one_shots = project.one_shots();
    let services = project
        .startup_order()
        .into_iter()
        .map(|name| {
            let s = &project.services[&name];
            ServiceNode {
                layer: layers.get(&name).copied().unwrap_or(Layer::Processing),
                image: s.image.clone(),
                build_target: s.build.as_ref().and_then(|b| b.target.clone()),
                replicas: s.replicas(),
                ports: s
                    .ports
                    .iter()
                    .filter_map(|p| p.published.as_ref().map(|h| format!("{h}:{}", p.target)))
                    .collect(),
                depends_on: s
                    .depends_on
                    .iter()
                    .map(|(t, d)| Edge {
                        target: t.clone(),
                        condition: d.condition,
                    })
                    .collect(),
                has_healthcheck: s.healthcheck.as_ref().is_some_and(|h| !h.is_disabled()),
                one_shot: one_shots.contains(&name),
                memory_limit: s.memory_limit(),
                cpu_limit: s.cpu_limit(),
                name,
            }
        })
        .collect();
    let view = StackView {
        stack: name,
        env,
        project: project.name.clone(),
        services,
        diagnostics: stack.warnings.clone(),
        invalid: false,
    };
    Ok((view, Some(stack)))
}
