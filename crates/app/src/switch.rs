//! Switching the running stack to another environment of its profile.

use crate::error::Result;
use crate::target::Stack;
use crate::App;
use deck_engine::Sink;
use deck_switch::{SwitchOptions, SwitchSummary, Switcher};

/// Switches the stack's profile to environment `to`: checked first, a safety backup (by default
/// into prod), images built with the right target, the old environment down and the new one
/// up, rolled back when it does not come up; then the proof of what each container runs
/// (`SwitchSummary::drifted`).
pub async fn switch(app: &App, stack: &Stack, to: &str, opts: &SwitchOptions, sink: &Sink) -> Result<SwitchSummary> {
    let profile = stack.require_profile("switch")?;
    profile.env(to)?;
    let engine = app.engine().await?;
    let backups = app.backups_of().await?;
    let switcher = Switcher {
        engine,
        backups: &backups,
        profile,
    };
    Ok(switcher.switch(to, opts, sink).await?)
}
