use crate::{output, Result};
use deck_app::{App, Target};
use deck_engine::UpOptions;

#[derive(clap::Args)]
pub struct Args {
    /// Build images even when they exist.
    #[arg(long)]
    build: bool,
    /// One JSON event per line instead of text.
    #[arg(long)]
    json: bool,
    /// Only these services (and what they depend on).
    services: Vec<String>,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load(target)?;
    let opts = UpOptions {
        build: a.build,
        services: a.services,
        ..Default::default()
    };
    let summary = output::with_progress(a.json, async |sink| deck_app::create(app, &stack, opts, sink).await).await?;
    if !a.json {
        eprintln!(
            "sirius-deck: {}: {} service(s) created, none started",
            stack.project.name,
            summary.services.len()
        );
    }
    Ok(())
}
