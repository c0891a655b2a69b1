use crate::{output, Result};
use deck_app::{App, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Build without the layer cache.
    #[arg(long)]
    no_cache: bool,
    /// One JSON event per line instead of text.
    #[arg(long)]
    json: bool,
    /// Only these services.
    services: Vec<String>,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load(target)?;
    output::with_progress(a.json, async |sink| {
        deck_app::build(app, &stack, &a.services, a.no_cache, sink).await
    })
    .await
}
