//! Operations a killed run left unfinished (a backup, a restore, a switch): listed for every
//! front end, and settled the way the user chooses.

use crate::error::{Error, Result};
use crate::target::Stack;
use crate::App;
use deck_backup::{Interrupted, InterruptedOp, Resolution};
use deck_engine::Sink;

/// The operations a killed run left unfinished on this stack, oldest first, without
/// connecting to the engine.
pub fn interrupted(app: &App, stack: &Stack) -> Result<Vec<Interrupted>> {
    Ok(deck_backup::interrupted(&app.stack_dir(stack)?))
}

/// Does what the user chose about an interrupted operation; returns what was done, in words.
pub async fn recover(
    app: &App,
    stack: &Stack,
    op: InterruptedOp,
    resolution: Resolution,
    sink: &Sink,
) -> Result<String> {
    let found = interrupted(app, stack)?;
    let Some(it) = found.iter().find(|i| i.op == op) else {
        return Err(Error::invalid(format!(
            "no {} of {} was interrupted{}",
            deck_backup::op_name(op),
            stack.project.name,
            if found.is_empty() {
                String::new()
            } else {
                format!(
                    " (interrupted: {})",
                    found
                        .iter()
                        .map(|i| deck_backup::op_name(i.op))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )));
    };
    if !it.choices.iter().any(|c| c.resolution == resolution) {
        return Err(Error::invalid(format!(
            "{} is not a choice for this interrupted {}: choose {}",
            resolution.flag(),
            deck_backup::op_name(op),
            it.choices
                .iter()
                .map(|c| c.resolution.flag())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    if op == InterruptedOp::Switch && resolution != Resolution::Discard {
        let journal = deck_backup::switch_journal(&app.stack_dir(stack)?)
            .ok_or_else(|| Error::invalid("the interrupted switch was settled meanwhile"))?;
        let to = match resolution {
            Resolution::Resume => journal.to,
            _ => journal.from.unwrap_or_default(),
        };
        let summary = crate::switch(app, stack, &to, &Default::default(), sink).await?;
        return Ok(format!("every service runs {} again", summary.to));
    }
    let st = stack.backup_stack()?;
    let backups = app.backups_of(stack).await?;
    let _running = app.start_cancellable()?;
    Ok(backups.resolve(&st, op, resolution, sink).await?)
}

/// Before services start (`services` empty: all of them) in environment `env`: refused while
/// an interrupted restore has left what they use half written, saying what to choose.
pub(crate) fn check_start(app: &App, stack: &Stack, env: Option<&str>, services: &[String]) -> Result<()> {
    match deck_backup::start_refused(&app.stack_dir(stack)?, env, services) {
        Some(why) => Err(Error::new(deck_error::Code::Refused, why)),
        None => Ok(()),
    }
}

/// After an `up` of the whole stack or a `down`, an interrupted switch is settled: the user
/// said what should run.
pub(crate) fn settle_switch(app: &App, stack: &Stack, sink: &Sink, by: &str) -> Result<()> {
    let dir = app.stack_dir(stack)?;
    if let Some(j) = deck_backup::switch_journal(&dir) {
        deck_backup::end_switch(&dir)?;
        sink.step(format!(
            "the interrupted switch from {} to {} is settled by this {by}",
            j.from.as_deref().unwrap_or("nothing running"),
            j.to
        ));
    }
    Ok(())
}
