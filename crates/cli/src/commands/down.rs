use crate::{output, Result};
use deck_app::{App, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Also delete the stack's named volumes: their data is lost.
    #[arg(long)]
    volumes: bool,
    /// One JSON event per line instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load_running(app, target).await?;
    let summary =
        output::with_progress(a.json, async |sink| deck_app::down(app, &stack, a.volumes, sink).await).await?;
    if !a.json {
        if !summary.volumes_removed.is_empty() {
            eprintln!("sirius-deck: volumes deleted: {}", summary.volumes_removed.join(", "));
        }
        if !summary.volumes_kept.is_empty() {
            eprintln!(
                "sirius-deck: volumes kept: {} (down --volumes deletes them)",
                summary.volumes_kept.join(", ")
            );
        }
    }
    Ok(())
}
