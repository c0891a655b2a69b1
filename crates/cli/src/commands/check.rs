use crate::{output, Result};
use deck_app::{App, Code, Error, Reach, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Only the dependencies of this service.
    service: Option<String>,
    #[arg(long)]
    json: bool,
}

/// Checks that each service reaches what it depends on; fails when one does not.
pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load_running(app, target).await?;
    let checks = deck_app::connectivity(app, &stack, a.service.as_deref()).await?;
    if a.json {
        output::json(&checks);
    } else {
        let width = checks.iter().map(|c| c.from.len() + c.to.len()).max().unwrap_or(0) + 3;
        for c in &checks {
            let edge = format!("{} → {}", c.from, c.to);
            let said = match &c.reach {
                Reach::Reachable { port } => format!("reachable on {port}"),
                Reach::Refused { port } => format!("refused on {port}: nothing listens there"),
                Reach::NoName => format!("no name: {} does not resolve from {}", c.to, c.from),
                Reach::Unreachable { port, detail } => format!("unreachable on {port}: {detail}"),
                Reach::Unchecked { why } => format!("not checked: {why}"),
            };
            println!("{edge:<width$}  {said}");
        }
    }
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.reach.ok() && !matches!(c.reach, Reach::Unchecked { .. }))
        .map(|c| format!("{} → {}", c.from, c.to))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::new(
            Code::Failed,
            format!("not reachable: {}", failed.join(", ")),
        ))
    }
}
