use crate::{output, Result};
use deck_app::{App, Error, InterruptedOp, Resolution, Target};

#[derive(clap::Args)]
pub struct Args {
    /// The interrupted operation to settle (needed only when more than one was interrupted).
    #[arg(value_enum)]
    op: Option<Op>,
    /// Finish what it set out to do.
    #[arg(long, group = "choice")]
    resume: bool,
    /// Go back to how things were before it began.
    #[arg(long, group = "choice")]
    roll_back: bool,
    /// Leave everything as it is now and forget it.
    #[arg(long, group = "choice")]
    discard: bool,
    /// Backup folder replacing the configured one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// One JSON event per line (or the list, without a choice) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum Op {
    Backup,
    Restore,
    Switch,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load(target)?;
    let found = deck_app::interrupted(app, &stack)?;
    let resolution = match (a.resume, a.roll_back, a.discard) {
        (true, _, _) => Some(Resolution::Resume),
        (_, true, _) => Some(Resolution::RollBack),
        (_, _, true) => Some(Resolution::Discard),
        _ => None,
    };
    let Some(resolution) = resolution else {
        if a.json {
            output::json(&found);
        } else if found.is_empty() {
            println!("nothing of {} was interrupted", stack.project.name);
        } else {
            for i in &found {
                println!("{}", i.describe());
            }
        }
        return Ok(());
    };
    let op = match (a.op, found.as_slice()) {
        (Some(Op::Backup), _) => InterruptedOp::Backup,
        (Some(Op::Restore), _) => InterruptedOp::Restore,
        (Some(Op::Switch), _) => InterruptedOp::Switch,
        (None, []) => {
            return Err(Error::invalid(format!(
                "nothing of {} was interrupted",
                stack.project.name
            )));
        }
        (None, [one]) => one.op,
        (None, _) => {
            return Err(Error::invalid(format!(
                "{} operations were interrupted: name the one to settle (backup, restore or switch)",
                found.len()
            )));
        }
    };
    let _signals = crate::cancel_on_signal(app);
    let done = output::with_progress(a.json, async |sink| {
        deck_app::recover(app, &stack, op, resolution, sink).await
    })
    .await?;
    if !a.json {
        eprintln!("sirius-deck: {done}");
    }
    Ok(())
}
