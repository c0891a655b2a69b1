use crate::{output, Result};
use deck_app::{App, Target};
use deck_engine::{Observed, StackChange};

#[derive(clap::Args)]
pub struct Args {
    /// Also raise desktop notifications.
    #[arg(long)]
    notify: bool,
    /// One JSON object per incident.
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load_running(app, target).await?;
    let mut watch = deck_app::watch(app, &stack).await?;
    let mut watching = false;
    while let Some(event) = watch.events.recv().await {
        let incident = match event {
            Observed::Incident(incident) => incident,
            // Once it knows the stack's state (on stderr in both modes: JSON goes to stdout).
            Observed::Change(StackChange::Snapshot { .. }) if !watching => {
                watching = true;
                eprintln!("sirius-deck: watching {} (Ctrl-C to stop)", stack.project.name);
                continue;
            }
            Observed::Change(_) => continue,
        };
        if a.json {
            output::json_line(&incident);
        } else {
            let (title, body) = incident.text(stack.name());
            println!(
                "{}  {}",
                output::clock(),
                deck_error::redact::text(&format!("{title}: {body}"))
            );
        }
        if a.notify {
            if let Err(e) = deck_engine::notify_desktop(stack.name(), &incident, None).await {
                eprintln!("sirius-deck: cannot raise a desktop notification: {e}");
            }
        }
    }
    Ok(())
}
