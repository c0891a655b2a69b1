use crate::{output, Result};
use deck_app::{App, Target};
use deck_engine::UpOptions;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Build images even when they exist.
    #[arg(long)]
    build: bool,
    /// Build without the layer cache (implies --build).
    #[arg(long)]
    no_cache: bool,
    /// Seconds to wait for each service to be ready (default: from its health check).
    #[arg(long, value_name = "SECONDS")]
    wait_timeout: Option<u64>,
    /// Remove containers of this stack whose service is no longer in the files.
    #[arg(long)]
    remove_orphans: bool,
    /// One JSON event per line instead of text.
    #[arg(long)]
    json: bool,
    /// Only these services (and what they depend on).
    services: Vec<String>,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load(target)?;
    crate::warn_interrupted(app, &stack);
    let opts = UpOptions {
        build: a.build,
        no_cache: a.no_cache,
        wait_timeout: a.wait_timeout.map(Duration::from_secs),
        remove_orphans: a.remove_orphans,
        services: a.services,
        ..Default::default()
    };
    let summary = output::with_progress(a.json, async |sink| deck_app::up(app, &stack, opts, sink).await).await?;
    if !a.json {
        eprintln!(
            "sirius-deck: {} is up: {} service(s) ready in {:.1}s",
            stack.project.name,
            summary.services.len(),
            summary.elapsed_ms as f64 / 1000.0
        );
    }
    Ok(())
}
