//! A switch between an environment on one engine (local dev) and one on a swarm (prod), or
//! back: the two do not share volumes, so the data is carried. The target is checked (and its
//! images built) while the source still runs; then the source's services that hold no data
//! are stopped, so that nothing is written after the backup; a backup set of the source is
//! taken and verified; the source goes down (its volumes kept: the way back); the target comes
//! up and the set is restored into it (with a safety set of whatever data it had); then the
//! proof of what each container or task runs. When the target does not come up, or the
//! restore fails, the target is taken down and the source started again on its own volumes.

use crate::{build_needs, build_planned, BuildNeed, SwitchError, SwitchOptions, SwitchSummary};
use deck_backup::{Backups, RestoreOptions, Stack};
use deck_compose::Project;
use deck_engine::{Change, DownOptions, Engine, EngineError, PlannedChange, ServiceDrift, Sink, UpOptions, Verdict};
use deck_stack::Profile;
use std::collections::BTreeSet;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// One end of a switch across engines: an environment, loaded, and where it runs.
pub struct Side<'a> {
    pub env: &'a str,
    pub project: &'a Project,
    /// Its engine: the swarm's manager for a swarm environment.
    pub engine: &'a Engine,
    pub swarm: bool,
    /// Backups of the stack where this side's data is.
    pub backups: &'a Backups,
}

pub struct Across<'a> {
    pub profile: &'a Profile,
    pub from: Side<'a>,
    pub to: Side<'a>,
    /// This machine's engine: images are built here (and copied to a swarm's nodes).
    pub local: &'a Engine,
}

impl Side<'_> {
    fn stack<'p>(&'p self, profile: &'p Profile) -> Result<Stack<'p>, SwitchError> {
        Ok(Stack {
            project: self.project,
            stack: &profile.name,
            env: Some(self.env),
            coverage: deck_backup::coverage(self.project, &profile.backup, &profile.path.display().to_string())?,
        })
    }

    async fn up(&self, profile: &Profile, local: &Engine, progress: &Sink) -> Result<(), EngineError> {
        let opts = UpOptions {
            env: Some(self.env.to_string()),
            remove_orphans: true,
            registry: profile.envs.get(self.env).and_then(|e| e.registry.clone()),
            ..Default::default()
        };
        if self.swarm {
            self.engine
                .deploy(self.project, local, &opts, progress)
                .await
                .map(|_| ())
        } else {
            self.engine.up(self.project, &opts, progress).await.map(|_| ())
        }
    }

    /// Takes the environment down; its volumes stay.
    async fn down(&self, progress: &Sink) -> Result<(), EngineError> {
        if self.swarm {
            self.engine.remove_stack(self.project, progress).await
        } else {
            self.engine
                .down(
                    &self.project.name,
                    Some(self.project),
                    &DownOptions::default(),
                    progress,
                )
                .await
        }
    }

    /// The proof of what each of its containers (or tasks) runs.
    async fn drift(&self, local: &Engine) -> Result<Vec<ServiceDrift>, EngineError> {
        if self.swarm {
            self.engine.swarm_drift(self.project, local, Some(self.env)).await
        } else {
            self.engine.drift(self.project, Some(self.env)).await
        }
    }
}

impl Across<'_> {
    pub async fn switch(&self, opts: &SwitchOptions, progress: &Sink) -> Result<SwitchSummary, SwitchError> {
        let started = Instant::now();
        let (from, to) = (&self.from, &self.to);
        let source = from.stack(self.profile)?;
        let target = to.stack(self.profile)?;

        // Everything that can be known before anything changes.
        let (from_at, to_at) = (&from.engine.endpoint().name, &to.engine.endpoint().name);
        if !from.backups.runs(from.project).await? {
            return Err(SwitchError::Invalid(format!(
                "{} does not run on {from_at}, so there is no data to carry to {}: start {} there with `sirius-deck -e {} up`",
                from.env, to.env, to.env, to.env
            )));
        }
        if to.backups.runs(to.project).await? {
            return Err(SwitchError::Invalid(format!(
                "{} runs already on {to_at}, with data of its own that the switch would replace: take it down first (`sirius-deck -e {} down`), or restore a set into it",
                to.env, to.env
            )));
        }
        for db in &source.coverage.databases {
            if !from.backups.service_runs(from.project, &db.service).await? {
                return Err(SwitchError::Invalid(format!(
                    "{} is not running in {}, and its database is dumped from its own container: start it first (`sirius-deck -e {} up`)",
                    db.service, from.env, from.env
                )));
            }
        }
        to.backups.check_restorable(to.project, &target.coverage)?;
        // Nothing writes to the data once it is backed up: every service that holds none is
        // stopped first (dependents first); they run again if the backup cannot be taken.
        let holders: BTreeSet<&String> = source
            .coverage
            .databases
            .iter()
            .map(|d| &d.service)
            .chain(source.coverage.volumes.iter().flat_map(|v| &v.users))
            .collect();
        let quiet: Vec<String> = from
            .project
            .startup_order()
            .into_iter()
            .rev()
            .filter(|s| !holders.contains(s))
            .collect();
        from.backups.check_stoppable(from.project, &quiet)?;
        progress.step(format!("checking {} on {to_at} before anything changes", to.env));
        let up_opts = UpOptions {
            env: Some(to.env.to_string()),
            ..Default::default()
        };
        let plan = build_needs(self.local, to.project, opts.no_cache).await;
        if opts.no_build {
            let missing: Vec<String> = plan
                .iter()
                .filter(|(_, n)| **n != BuildNeed::Reuse)
                .map(|(s, _)| format!("{s}: its image is not built here, or not proven to come from its target, and no build was asked for"))
                .collect();
            if !missing.is_empty() {
                return Err(SwitchError::Preflight(missing));
            }
        }
        // Built while the source still runs.
        let (built, rebuilt) = build_planned(self.local, to.project, &plan, &up_opts, progress).await?;
        if to.swarm {
            to.engine
                .swarm_preflight(to.project, self.local, &up_opts, progress)
                .await
                .map_err(|e| SwitchError::Preflight(vec![e.to_string()]))?;
        } else {
            let problems = to.engine.preflight(to.project, true).await?;
            if !problems.is_empty() {
                return Err(SwitchError::Preflight(problems.iter().map(|p| p.to_string()).collect()));
            }
        }

        let carried = async {
            progress.step(format!(
                "stopping {} on {from_at}, so that nothing is written after the backup",
                quiet.join(", ")
            ));
            from.backups.stop_services(from.project, &quiet, progress).await?;
            progress.step(format!("backing up {}'s data, to carry it to {}", from.env, to.env));
            from.backups.safety(&source, progress).await
        }
        .await;
        let set = match carried {
            Ok(set) => set,
            Err(e) => {
                let again = from
                    .backups
                    .start_services(from.project, Some(from.env), &quiet, progress)
                    .await;
                return Err(match again {
                    Ok(()) => SwitchError::Invalid(format!("the backup of {} failed, and it runs as before: {e}", from.env)),
                    Err(r) => SwitchError::Failed {
                        to: to.env.into(),
                        reason: format!(
                            "the backup of {} failed ({e}), and starting its stopped services again failed too ({r}): start them with `sirius-deck -e {} up`",
                            from.env, from.env
                        ),
                    },
                });
            }
        };

        // The source goes (its volumes stay), the target comes, with the data.
        let moved = async {
            progress.step(format!("taking {} down on {from_at} (its volumes are kept)", from.env));
            from.down(progress).await.map_err(|e| e.to_string())?;
            progress.step(format!("starting {} on {to_at}", to.env));
            to.up(self.profile, self.local, progress)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(set) = &set {
                progress.step(format!("restoring set {} into {}", set.id, to.env));
                to.backups
                    .restore(
                        &target,
                        &set.id,
                        &RestoreOptions::default(),
                        progress,
                        &CancellationToken::new(),
                    )
                    .await
                    .map_err(|e| format!("restoring the data of {} (set {}): {e}", from.env, set.id))?;
            }
            Ok::<(), String>(())
        }
        .await;
        if let Err(reason) = moved {
            if !opts.rollback {
                return Err(SwitchError::Failed {
                    to: to.env.into(),
                    reason,
                });
            }
            progress.step(format!(
                "{} did not come up with the data: rolling back to {}",
                to.env, from.env
            ));
            // The source starts again on its own volumes whatever became of the target.
            let removed = to.down(progress).await;
            let back = from.up(self.profile, self.local, progress).await;
            return Err(match (back, removed) {
                (Ok(()), Ok(())) => SwitchError::RolledBack {
                    from: from.env.into(),
                    to: to.env.into(),
                    reason,
                },
                (Ok(()), Err(r)) => SwitchError::RolledBack {
                    from: from.env.into(),
                    to: to.env.into(),
                    reason: format!(
                        "{reason} (and what came up of {} on {to_at} could not be taken down: {r})",
                        to.env
                    ),
                },
                (Err(r), _) => SwitchError::RollbackFailed {
                    from: from.env.into(),
                    to: to.env.into(),
                    reason,
                    rollback: r.to_string(),
                },
            });
        }

        // The proof; the switch is done whether or not it can be made.
        let drift = match to.drift(self.local).await {
            Ok(d) => d,
            Err(e) => {
                progress.step(format!("the proof of what each container runs could not be made: {e}"));
                Vec::new()
            }
        };
        for d in drift.iter().filter(|d| d.verdict == Verdict::Drift) {
            progress.step(format!("{}: DRIFT: {}", d.service, d.summary));
        }
        Ok(SwitchSummary {
            from: Some(from.env.into()),
            to: to.env.into(),
            safety: set.map(|s| s.id),
            built,
            rebuilt_no_cache: rebuilt,
            plan: to
                .project
                .startup_order()
                .into_iter()
                .map(|service| PlannedChange {
                    service,
                    change: Change::Created,
                    reason: Some(format!("moved to {to_at}")),
                })
                .collect(),
            drift,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}
