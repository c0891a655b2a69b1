use crate::{output, Result};
use deck_app::{App, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Backup folder replacing the configured one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// Only these items (db:<service>, volume:<key>, or the bare names).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// One JSON object per progress step.
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load_running(app, target).await?;
    let _signals = crate::cancel_on_signal(app);
    let set = output::with_progress(a.json, async |sink| deck_app::backup(app, &stack, &a.only, sink).await).await?;
    if !a.json {
        eprintln!(
            "sirius-deck: backup set {} written and verified: {} in {}",
            set.id,
            output::human(set.size),
            set.path
        );
    }
    Ok(())
}
