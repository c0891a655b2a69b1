use crate::{output, Result};
use deck_app::{App, Code, Error, RestoreRequest, Target};
use std::io::IsTerminal;

#[derive(clap::Args)]
pub struct Args {
    /// Backup folder replacing the configured one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// The set: its id, a unique prefix of it, or `latest`.
    id: String,
    /// Only these items (db:<service>, volume:<key>, or the bare names).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Do not take a safety set first (the restore then cannot be undone).
    #[arg(long)]
    no_safety: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load_running(app, target).await?;
    // Nothing to confirm when the engine cannot be reached.
    app.engine_for(&stack).await?;
    let mut req = RestoreRequest {
        id: a.id,
        options: deck_backup::RestoreOptions {
            only: a.only,
            safety: !a.no_safety,
        },
    };
    let (set, items) = deck_app::restore_plan(app, &stack, &req)?;
    eprintln!(
        "sirius-deck: restoring set {} ({}) replaces in {}: {}",
        set.id,
        output::age(set.created_unix),
        stack.project.name,
        items.join(", ")
    );
    confirm(a.yes)?;
    // The set found, so that `latest` cannot change between the question and the restore.
    req.id = set.id;
    let _signals = crate::cancel_on_signal(app);
    let summary = output::with_progress(a.json, async |sink| deck_app::restore(app, &stack, &req, sink).await).await?;
    if !a.json {
        eprintln!(
            "sirius-deck: restored {} from set {} in {:.1}s; every service is ready.{}",
            summary.items.join(", "),
            summary.set,
            summary.elapsed_ms as f64 / 1000.0,
            summary
                .safety
                .map(|s| format!(" To undo: sirius-deck restore {s}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Asks before a restore replaces data; `--yes` answers for scripts.
fn confirm(yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::new(
            Code::Refused,
            "restore replaces data: add --yes to confirm when not at a terminal",
        ));
    }
    eprint!("Type 'yes' to go on: ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::new(Code::Internal, e.to_string()))?;
    if answer.trim() != "yes" {
        return Err(Error::new(Code::Refused, "not restored: nothing was changed"));
    }
    Ok(())
}
