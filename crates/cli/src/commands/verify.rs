use crate::{output, Result};
use deck_app::{App, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Backup folder replacing the configured one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// The set: its id, a unique prefix of it, or `latest`.
    id: String,
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load(target)?;
    let set = output::with_progress(a.json, async |sink| deck_app::verify(app, &stack, &a.id, sink).await).await?;
    if !a.json {
        eprintln!(
            "sirius-deck: set {} verified: {} file(s), {}, every checksum and content as written",
            set.id,
            set.items.len(),
            output::human(set.size)
        );
    }
    Ok(())
}
