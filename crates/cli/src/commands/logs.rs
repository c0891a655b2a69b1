use crate::Result;
use deck_app::{App, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Keep printing new lines.
    #[arg(long)]
    follow: bool,
    /// Only the last N lines of each service.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
    /// Show the engine's timestamp of each line.
    #[arg(short, long)]
    timestamps: bool,
    services: Vec<String>,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load_running(app, target).await?;
    let mut lines = deck_app::logs(app, &stack, &a.services, a.follow, a.tail).await?;
    let width = stack.project.services.keys().map(String::len).max().unwrap_or(0);
    while let Some(l) = lines.recv().await {
        let ts = if a.timestamps {
            format!("{} ", l.timestamp.unwrap_or_default())
        } else {
            String::new()
        };
        println!("{:<width$} | {ts}{}", l.service, l.line);
    }
    Ok(())
}
