use crate::{output, Result};
use deck_app::{App, Target};

#[derive(clap::Args)]
pub struct Args {
    service: String,
    /// Rebuild the image without cache even when only the container drifted.
    #[arg(long)]
    rebuild: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load_running(app, target).await?;
    let result = output::with_progress(a.json, async |sink| {
        deck_app::repair(app, &stack, &a.service, a.rebuild, sink).await
    })
    .await?;
    output::print_drift(&result.drift);
    Ok(())
}
