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
    switchable(stack, to)?;
    let backups = app.backups_of(stack).await?;
    let load = loader(stack);
    Ok(switcher(app, stack, to, &backups, &load).await?.plan(to, opts).await?)
}

/// A switch works between environments of containers on one engine: to or from a swarm
/// environment it is refused before anything changes.
fn switchable(stack: &Stack, to: &str) -> Result<()> {
    stack.require_local("a switch")?;
    if stack
        .profile
        .as_ref()
        .and_then(|p| p.envs.get(to))
        .is_some_and(|e| e.swarm)
    {
        return Err(crate::Error::new(
            deck_error::Code::Refused,
            format!(
                "a switch to {to}, a swarm environment, is not done yet: take the stack down (`sirius-deck down`), then `sirius-deck -e {to} up`"
            ),
        ));
    }
    Ok(())
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
