//! Switching the running stack to another environment of its profile.

use crate::error::Result;
use crate::target::Stack;
use crate::App;
use deck_backup::Backups;
use deck_compose::Project;
use deck_engine::{PlannedChange, Sink};
use deck_switch::{SwitchOptions, SwitchSummary, Switcher};

/// Switches the stack's profile to environment `to`: checked first, a safety backup (by default
/// into prod), images built with the right target, the services whose configuration differs
/// recreated in dependency order while the others keep running (or, with `full_restart`, the
/// old environment down and the new one up), rolled back when it does not come up; then the
/// proof of what each container runs (`SwitchSummary::drifted`).
pub async fn switch(app: &App, stack: &Stack, to: &str, opts: &SwitchOptions, sink: &Sink) -> Result<SwitchSummary> {
    // (Both environments run on the volumes of this engine.)
    for env in [stack.env.as_deref(), Some(to)] {
        crate::interrupted::check_start(app, stack, env, &[])?;
    }
    if let Some(from) = across_from(app, stack, to).await? {
        return switch_across(app, stack, &from, to, opts, sink).await;
    }
    switchable(stack, to)?;
    let backups = app.backups_of(stack).await?;
    let load = loader(stack);
    Ok(switcher(app, stack, to, &backups, &load)
        .await?
        .switch(to, opts, sink)
        .await?)
}

/// What a switch to `to` would do to each service (kept, recreated, created, removed),
/// changing nothing.
pub async fn switch_plan(app: &App, stack: &Stack, to: &str, opts: &SwitchOptions) -> Result<Vec<PlannedChange>> {
    if let Some(from) = across_from(app, stack, to).await? {
        let target = loader(stack)(to).map_err(crate::Error::invalid)?;
        return Ok(target
            .startup_order()
            .into_iter()
            .map(|service| PlannedChange {
                service,
                change: deck_engine::Change::Created,
                reason: Some(format!("moved from {from}, its data carried by a backup set")),
            })
            .collect());
    }
    switchable(stack, to)?;
    let backups = app.backups_of(stack).await?;
    let load = loader(stack);
    Ok(switcher(app, stack, to, &backups, &load).await?.plan(to, opts).await?)
}

/// A switch on one engine is between environments of containers there.
fn switchable(stack: &Stack, to: &str) -> Result<()> {
    stack.require_local("a switch")?;
    if env_spec(stack, to).is_some_and(|e| e.swarm) {
        return Err(crate::Error::new(
            deck_error::Code::Refused,
            format!(
                "{to} is a swarm environment, and the stack does not run on this machine's engine: start it here first (`sirius-deck up`), then switch"
            ),
        ));
    }
    Ok(())
}

fn env_spec<'a>(stack: &'a Stack, env: &str) -> Option<&'a deck_stack::EnvSpec> {
    stack.profile.as_ref()?.envs.get(env)
}

/// The environment a switch to `to` starts from when it crosses engines: to a swarm
/// environment, the one running on this machine's engine; to another, a swarm environment
/// of the profile whose stack is deployed (when nothing of the stack runs here). `None`: a
/// switch on one engine.
async fn across_from(app: &App, stack: &Stack, to: &str) -> Result<Option<String>> {
    let Some(profile) = stack.profile.as_ref() else {
        return Ok(None);
    };
    let to_swarm = env_spec(stack, to).is_some_and(|e| e.swarm);
    let here = deck_switch::current_env(&app.engine().await?, &stack.project.name).await?;
    if to_swarm {
        return match here {
            Some(env) if !env_spec(stack, &env).is_some_and(|e| e.swarm) => Ok(Some(env)),
            _ => Ok(None),
        };
    }
    if here.is_some() {
        return Ok(None);
    }
    // A swarm that cannot be asked now is not where the stack runs (a switch on this engine
    // goes on).
    for (name, spec) in profile.envs.iter().filter(|(_, e)| e.swarm) {
        let Ok(manager) = app.engine_of_env(Some(spec)).await else {
            continue;
        };
        if manager.stack_tasks(&stack.project).await.is_ok_and(|t| !t.is_empty()) {
            return Ok(Some(name.clone()));
        }
    }
    Ok(None)
}

/// A switch between an environment on this machine's engine and one on a swarm: the data is
/// carried by a backup set, restored on the other side (see `deck_switch::Across`).
async fn switch_across(
    app: &App,
    stack: &Stack,
    from: &str,
    to: &str,
    opts: &SwitchOptions,
    sink: &Sink,
) -> Result<SwitchSummary> {
    let profile = stack.require_profile("switch")?;
    let load = loader(stack);
    let (from_project, to_project) = (load(from), load(to));
    let (from_project, to_project) = (
        from_project.map_err(crate::Error::invalid)?,
        to_project.map_err(crate::Error::invalid)?,
    );
    let settings = app.backup_settings()?;
    let side_engine = |env: &str| app.engine_of_env(profile.envs.get(env));
    let (from_engine, to_engine) = (side_engine(from).await?, side_engine(to).await?);
    let swarm = |env: &str| profile.envs.get(env).is_some_and(|e| e.swarm);
    let backups = |engine: &deck_engine::Engine, env: &str| {
        if swarm(env) {
            Backups::on_swarm(engine.clone(), settings.clone())
        } else {
            Backups::new(engine.clone(), settings.clone())
        }
    };
    let (from_backups, to_backups) = (backups(&from_engine, from), backups(&to_engine, to));
    let local = app.local_engine().await?;
    let across = deck_switch::Across {
        profile,
        from: deck_switch::Side {
            env: from,
            project: &from_project,
            engine: &from_engine,
            swarm: swarm(from),
            backups: &from_backups,
        },
        to: deck_switch::Side {
            env: to,
            project: &to_project,
            engine: &to_engine,
            swarm: swarm(to),
            backups: &to_backups,
        },
        local: &local,
    };
    let _running = app.start_cancellable()?;
    Ok(across.switch(opts, sink).await?)
}

/// Loads another environment of the stack as it was loaded itself (same project name, folder,
/// env files and compose profiles).
fn loader(stack: &Stack) -> impl Fn(&str) -> std::result::Result<Project, String> + Sync + '_ {
    move |env| {
        stack
            .target
            .load_env(stack.profile.clone(), Some(env.to_string()))
            .map(|s| s.project)
            .map_err(|e| {
                let mut text = format!("the {env} environment: {}", e.message);
                for d in &e.diagnostics {
                    text.push_str(&format!("\n  {d}"));
                }
                text
            })
    }
}

async fn switcher<'a>(
    app: &'a App,
    stack: &'a Stack,
    to: &str,
    backups: &'a Backups,
    load: &'a (dyn Fn(&str) -> std::result::Result<Project, String> + Sync),
) -> Result<Switcher<'a>> {
    let profile = stack.require_profile("switch")?;
    profile.env(to)?;
    Ok(Switcher {
        engine: app.engine_for(stack).await?,
        backups,
        profile,
        load,
    })
}
