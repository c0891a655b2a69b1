//! Switching a running stack from one environment to another (dev -> prod and back) in one
//! action: the target environment loaded and checked before anything stops; an optional safety
//! backup; images built with the right target before the old environment stops (rebuilt without
//! cache when a cached image cannot be proven to come from that target); the old environment
//! stopped in reverse dependency order with its volumes kept; the new one started in dependency
//! order; rolled back to the old one if it does not come up; and, at the end, proof of what each
//! container runs.

mod across;
pub use across::{Across, Side};

use deck_backup::{Backups, Stack};
use deck_compose::Project;
use deck_engine::{Change, DownOptions, Engine, EngineError, PlannedChange, ServiceDrift, Sink, UpOptions, Verdict};
use deck_stack::Profile;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Free space builds need in Docker's data folder.
pub const MIN_FREE_FOR_BUILDS: u64 = 2 << 30;

#[derive(Clone, Debug, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(export)]
pub struct SwitchOptions {
    /// Take a safety backup first; `None`: only when switching into prod.
    pub backup: Option<bool>,
    /// Build every image of the target without the layer cache.
    pub no_cache: bool,
    /// Build nothing: use the images there are, and refuse before anything changes when one is
    /// missing or cannot be proven to come from the target its environment asks for.
    pub no_build: bool,
    /// Go back to the previous environment when the new one does not come up.
    pub rollback: bool,
    /// Stop the whole old environment and start the new one (the behaviour before services
    /// whose configuration is the same in both were kept running).
    pub full_restart: bool,
}

impl Default for SwitchOptions {
    fn default() -> Self {
        SwitchOptions {
            backup: None,
            no_cache: false,
            no_build: false,
            rollback: true,
            full_restart: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SwitchSummary {
    pub from: Option<String>,
    pub to: String,
    /// The safety set taken first.
    pub safety: Option<String>,
    /// Images built, and those rebuilt without cache because their target was not proven.
    pub built: Vec<String>,
    pub rebuilt_no_cache: Vec<String>,
    /// What happened to each service: kept running, recreated, created, removed.
    pub plan: Vec<PlannedChange>,
    pub drift: Vec<ServiceDrift>,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

impl SwitchSummary {
    /// The services that do not run what the new environment asks for.
    pub fn drifted(&self) -> Vec<&str> {
        self.drift
            .iter()
            .filter(|d| d.verdict == Verdict::Drift)
            .map(|d| d.service.as_str())
            .collect()
    }
}

impl deck_error::Coded for SwitchError {
    fn code(&self) -> deck_error::Code {
        use deck_error::Code;
        match self {
            SwitchError::Invalid(_) => Code::Invalid,
            SwitchError::Preflight(_) => Code::Refused,
            SwitchError::RolledBack { .. } => Code::RolledBack,
            SwitchError::RollbackFailed { .. } | SwitchError::Failed { .. } => Code::Failed,
            SwitchError::Engine(e) => e.code(),
            SwitchError::Backup(e) => e.code(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// Found before anything changed.
    #[error("nothing was changed: {0}")]
    Invalid(String),
    #[error("nothing was changed, because:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Preflight(Vec<String>),
    #[error("{to} did not come up, so the stack was rolled back to {from}, which is running again. Why {to} failed:\n{reason}")]
    RolledBack { from: String, to: String, reason: String },
    #[error("{to} did not come up ({reason}), and rolling back to {from} failed too: {rollback}")]
    RollbackFailed {
        from: String,
        to: String,
        reason: String,
        rollback: String,
    },
    #[error("{to} did not come up (rollback was not asked for): {reason}")]
    Failed { to: String, reason: String },
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("safety backup: {0}")]
    Backup(#[from] deck_backup::BackupError),
}

/// One line saying what a switch keeps running and what it replaces.
pub fn describe(plan: &[PlannedChange], to: &str) -> String {
    let of = |c: Change| -> String {
        let names: Vec<&str> = plan
            .iter()
            .filter(|p| p.change == c)
            .map(|p| p.service.as_str())
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    };
    let mut line = format!(
        "switching to {to}: keeping {} running; recreating {}",
        of(Change::Kept),
        of(Change::Recreated)
    );
    for (c, what) in [
        (Change::Scaled, "scaling"),
        (Change::Created, "creating"),
        (Change::Removed, "removing"),
    ] {
        if plan.iter().any(|p| p.change == c) {
            line.push_str(&format!("; {what} {}", of(c)));
        }
    }
    line
}

/// The environment the stack runs: the one the most recently started container was created
/// for (a switch keeps the services whose configuration is the same in both environments, with
/// the label of the environment that created them, and recreates the others).
pub async fn current_env(engine: &Engine, project: &str) -> Result<Option<String>, EngineError> {
    Ok(engine
        .containers(project)
        .await?
        .into_iter()
        .filter(|c| c.state == deck_engine::ContainerState::Running && c.env.is_some())
        .max_by(|a, b| a.started_at.cmp(&b.started_at))
        .and_then(|c| c.env))
}

/// What each service with a build needs before the switch: nothing (its image is proven to
/// come from the right target), a build (no image), or a build without cache (an image whose
/// target cannot be proven).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildNeed {
    Reuse,
    Build,
    NoCache,
}

pub fn build_need(
    image_present: bool,
    recorded: Option<&str>,
    wanted: Option<&str>,
    force_no_cache: bool,
) -> BuildNeed {
    match (image_present, wanted) {
        (false, _) if force_no_cache => BuildNeed::NoCache,
        (false, _) => BuildNeed::Build,
        (true, _) if force_no_cache => BuildNeed::NoCache,
        (true, None) => BuildNeed::Reuse,
        (true, Some(w)) if recorded == Some(w) => BuildNeed::Reuse,
        (true, Some(_)) => BuildNeed::NoCache,
    }
}

fn free_bytes(path: &str) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

pub struct Switcher<'a> {
    pub engine: Engine,
    pub backups: &'a Backups,
    pub profile: &'a Profile,
    /// Loads one environment of the stack as its other commands do (same project name, folder
    /// and env files); an error in words, with its files and lines.
    pub load: &'a (dyn Fn(&str) -> Result<Project, String> + Sync),
}

/// What each service with a build needs on `engine` (one entry per image).
async fn build_needs(engine: &Engine, target: &Project, no_cache: bool) -> BTreeMap<String, BuildNeed> {
    let mut plan: BTreeMap<String, BuildNeed> = BTreeMap::new();
    for (name, svc) in &target.services {
        let Some(build) = &svc.build else { continue };
        let image = deck_engine::image_ref(target, name, svc);
        if plan
            .keys()
            .any(|n| deck_engine::image_ref(target, n, &target.services[n]) == image)
        {
            continue; // One build per image.
        }
        let present = engine.docker().inspect_image(&image).await.is_ok();
        let recorded = engine.image_target(&image).await;
        plan.insert(
            name.clone(),
            build_need(present, recorded.as_deref(), build.target.as_deref(), no_cache),
        );
    }
    plan
}

/// Builds what the plan says must be built (missing, or not proven to come from its
/// target: without cache); the services built, and those rebuilt without cache.
async fn build_planned(
    engine: &Engine,
    target: &Project,
    plan: &BTreeMap<String, BuildNeed>,
    up_opts: &UpOptions,
    progress: &Sink,
) -> Result<(Vec<String>, Vec<String>), EngineError> {
    let pick = |need: BuildNeed| -> Vec<String> {
        plan.iter()
            .filter(|(_, n)| **n == need)
            .map(|(s, _)| s.clone())
            .collect()
    };
    let (built, rebuilt) = (pick(BuildNeed::Build), pick(BuildNeed::NoCache));
    if !built.is_empty() {
        progress.step(format!("building {}", built.join(", ")));
        engine.build(target, &built, up_opts, progress).await?;
    }
    if !rebuilt.is_empty() {
        progress.step(format!(
            "rebuilding without cache (target not proven): {}",
            rebuilt.join(", ")
        ));
        let no_cache = UpOptions {
            no_cache: true,
            ..up_opts.clone()
        };
        engine.build(target, &rebuilt, &no_cache, progress).await?;
    }
    Ok((built, rebuilt))
}

impl Switcher<'_> {
    fn load_env(&self, env: &str) -> Result<Project, SwitchError> {
        (self.load)(env).map_err(SwitchError::Invalid)
    }

    async fn build_needs(&self, target: &Project, no_cache: bool) -> BTreeMap<String, BuildNeed> {
        build_needs(&self.engine, target, no_cache).await
    }

    /// Whether every service of `target` runs, as it asks: nothing to switch. (The newest
    /// container's environment alone does not say so: one stopped, or left by an interrupted
    /// run, still needs the switch.)
    async fn runs_as_asked(&self, target: &Project) -> Result<bool, SwitchError> {
        let containers = self.engine.containers(&target.name).await?;
        let all_run = !containers.is_empty()
            && containers
                .iter()
                .all(|c| c.state == deck_engine::ContainerState::Running);
        Ok(all_run
            && self
                .engine
                .plan(target, &BTreeSet::new())
                .await?
                .iter()
                .all(|p| p.change == Change::Kept))
    }

    /// What a switch to `to` would do to each service, changing nothing (`switch --dry-run`).
    pub async fn plan(&self, to: &str, opts: &SwitchOptions) -> Result<Vec<PlannedChange>, SwitchError> {
        let target = self.load_env(to)?;
        if opts.full_restart {
            return Ok(target
                .startup_order()
                .into_iter()
                .map(|service| PlannedChange {
                    service,
                    change: Change::Recreated,
                    reason: Some("full restart".into()),
                })
                .collect());
        }
        let needs = self.build_needs(&target, opts.no_cache).await;
        // Every service whose image is built first, not only the one the build is planned for.
        let built_images: BTreeSet<String> = needs
            .iter()
            .filter(|(_, n)| **n != BuildNeed::Reuse)
            .map(|(s, _)| deck_engine::image_ref(&target, s, &target.services[s]))
            .collect();
        let rebuilt: BTreeSet<String> = target
            .services
            .iter()
            .filter(|(n, s)| built_images.contains(&deck_engine::image_ref(&target, n, s)))
            .map(|(n, _)| n.clone())
            .collect();
        Ok(self.engine.plan(&target, &rebuilt).await?)
    }

    pub async fn switch(&self, to: &str, opts: &SwitchOptions, progress: &Sink) -> Result<SwitchSummary, SwitchError> {
        let started = Instant::now();
        if opts.no_build && opts.no_cache {
            return Err(SwitchError::Invalid(
                "--no-build and --no-cache contradict each other: choose one".into(),
            ));
        }
        let engine = &self.engine;
        let target = self.load_env(to)?;
        // A switch that a killed run left half done is finished (or undone) by switching to
        // its target (or back to where it came from): the stack runs some of each.
        let journal_dir = self.backups.dir(&target.name);
        let pending = deck_backup::switch_journal(&journal_dir);
        let from = match &pending {
            Some(j) if j.to == to => j.from.clone(),
            Some(j) => Some(j.to.clone()),
            None => current_env(engine, &target.name).await?,
        };
        if let Some(j) = &pending {
            progress.step(format!(
                "a switch from {} to {} was interrupted: {}",
                j.from.as_deref().unwrap_or("nothing running"),
                j.to,
                if j.to == to { "finishing it" } else { "going back" }
            ));
        } else if from.as_deref() == Some(to) && self.runs_as_asked(&target).await? {
            return Err(SwitchError::Invalid(format!("{} already runs {to}", self.profile.name)));
        }
        let previous = match &from {
            Some(f) => Some(self.load_env(f).map_err(|e| {
                SwitchError::Invalid(format!(
                    "the environment running now ({f}) cannot be loaded to roll back to: {e}"
                ))
            })?),
            None => None,
        };

        // Preflight: nothing stops before every check passes.
        progress.step(format!("checking {to} before anything changes"));
        let mut problems: Vec<String> = engine
            .preflight(&target, true)
            .await?
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        let plan = self.build_needs(&target, opts.no_cache).await;
        let builds: Vec<&String> = plan
            .iter()
            .filter(|(_, n)| **n != BuildNeed::Reuse)
            .map(|(s, _)| s)
            .collect();
        if opts.no_build {
            for (service, need) in plan.iter().filter(|(_, n)| **n != BuildNeed::Reuse) {
                let why = match need {
                    BuildNeed::Build => "its image is not built".to_string(),
                    _ => format!("its image cannot be proven to come from the target {to} asks for"),
                };
                problems.push(format!(
                    "{service}: {why}, and no build was asked for (switch without --no-build to build it)"
                ));
            }
        } else if !builds.is_empty() {
            let root = engine
                .docker()
                .info()
                .await
                .ok()
                .and_then(|i| i.docker_root_dir)
                .unwrap_or_else(|| "/var/lib/docker".into());
            if let Some(free) = free_bytes(&root) {
                if free < MIN_FREE_FOR_BUILDS {
                    problems.push(format!(
                        "only {} MiB free in {root}, and {} image(s) must be built: free at least {} MiB",
                        free >> 20,
                        builds.len(),
                        MIN_FREE_FOR_BUILDS >> 20
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(SwitchError::Preflight(problems));
        }

        // Safety backup of the data as it is, on by default into prod.
        let mut safety = None;
        let wants_backup = opts.backup.unwrap_or(to == "prod");
        if let (true, Some(prev)) = (wants_backup, previous.as_ref()) {
            progress.step("taking a safety backup of the data first");
            let mut coverage =
                deck_backup::coverage(prev, &self.profile.backup, &self.profile.path.display().to_string())?;
            if !opts.full_restart {
                // A volume that could only be archived with its services stopped, when the switch
                // keeps all of them running untouched: the switch cannot change it, and stopping
                // them would drop their clients. Databases are dumped live either way.
                let kept: BTreeSet<String> = self
                    .plan(to, opts)
                    .await?
                    .into_iter()
                    .filter(|p| p.change == Change::Kept)
                    .map(|p| p.service)
                    .collect();
                let (untouched, covered): (Vec<_>, Vec<_>) = coverage.volumes.into_iter().partition(|v| {
                    v.consistency != deck_stack::Consistency::Live
                        && !v.users.is_empty()
                        && v.users.iter().all(|u| kept.contains(u))
                });
                coverage.volumes = covered;
                if !untouched.is_empty() {
                    progress.step(format!(
                        "not in the safety set (kept running, untouched by this switch): {}",
                        untouched.iter().map(|v| v.key.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            let st = Stack {
                project: prev,
                stack: &self.profile.name,
                env: from.as_deref(),
                coverage,
            };
            safety = self.backups.safety(&st, progress).await?.map(|s| s.id);
        }

        // Build while the old environment still runs.
        let up_opts = UpOptions {
            env: Some(to.to_string()),
            ..Default::default()
        };
        let (built, rebuilt) = build_planned(engine, &target, &plan, &up_opts, progress).await?;

        // What changes: services whose configuration and image are the same in both
        // environments keep running, untouched; the others are recreated in dependency order
        // (or, with a full restart, the old environment goes down first, volumes kept).
        let plan = engine.plan(&target, &BTreeSet::new()).await?;
        deck_backup::begin_switch(&journal_dir, from.as_deref(), to)?;
        let up_opts = UpOptions {
            remove_orphans: true,
            ..up_opts
        };
        if opts.full_restart {
            if let Some(prev) = &previous {
                progress.step(format!("stopping {} (volumes kept)", from.as_deref().unwrap_or("?")));
                engine
                    .down(&prev.name, Some(prev), &DownOptions::default(), progress)
                    .await?;
            }
            progress.step(format!("starting {to}"));
        } else {
            progress.step(describe(&plan, to));
        }
        let up = engine.up(&target, &up_opts, progress).await;
        if let Err(e) = up {
            let reason = e.to_string();
            let (Some(prev), Some(from), true) = (&previous, &from, opts.rollback) else {
                deck_backup::end_switch(&journal_dir)?;
                return Err(SwitchError::Failed { to: to.into(), reason });
            };
            progress.step(format!("{to} did not come up: rolling back to {from}"));
            let full_restart = opts.full_restart;
            let back = async {
                if full_restart {
                    engine
                        .down(&target.name, Some(&target), &DownOptions::default(), progress)
                        .await?;
                }
                // What was kept is the same in both: only the recreated services go back.
                let opts = UpOptions {
                    env: Some(from.clone()),
                    remove_orphans: true,
                    ..Default::default()
                };
                engine.up(prev, &opts, progress).await
            }
            .await;
            deck_backup::end_switch(&journal_dir)?;
            return Err(match back {
                Ok(_) => SwitchError::RolledBack {
                    from: from.clone(),
                    to: to.into(),
                    reason,
                },
                Err(r) => SwitchError::RollbackFailed {
                    from: from.clone(),
                    to: to.into(),
                    reason,
                    rollback: r.to_string(),
                },
            });
        }

        deck_backup::end_switch(&journal_dir)?;
        // Proof: every container against what the environment asks for.
        let drift = engine.drift(&target, Some(to)).await?;
        for d in drift.iter().filter(|d| d.verdict == Verdict::Drift) {
            progress.step(format!("{}: DRIFT: {}", d.service, d.summary));
        }
        Ok(SwitchSummary {
            from,
            to: to.into(),
            safety,
            built,
            rebuilt_no_cache: rebuilt,
            plan,
            drift,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_reused_only_when_its_target_is_proven() {
        use BuildNeed::*;
        assert_eq!(build_need(true, Some("production"), Some("production"), false), Reuse);
        assert_eq!(
            build_need(true, Some("development"), Some("production"), false),
            NoCache
        );
        assert_eq!(
            build_need(true, None, Some("production"), false),
            NoCache,
            "built elsewhere"
        );
        assert_eq!(build_need(false, None, Some("production"), false), Build);
        assert_eq!(build_need(true, None, None, false), Reuse, "no target asked for");
        assert_eq!(
            build_need(true, Some("production"), Some("production"), true),
            NoCache,
            "forced"
        );
    }
}
