use crate::{output, Result};
use deck_app::App;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    json: bool,
}

/// Lists the Docker engines (the docker CLI's contexts), each asked whether it answers; the
/// one in use is marked with `*`.
pub async fn run(app: &App, a: Args) -> Result<()> {
    let engines = deck_app::engines(app).await;
    if a.json {
        output::json(&engines);
        return Ok(());
    }
    let width = engines.iter().map(|e| e.endpoint.name.len()).max().unwrap_or(0);
    let host_width = engines.iter().map(|e| e.endpoint.host.len()).max().unwrap_or(0);
    for e in &engines {
        let mark = if e.chosen { '*' } else { ' ' };
        let tls = if e.endpoint.tls.is_some() { " (TLS)" } else { "" };
        let state = match (&e.version, &e.error) {
            (Some(v), _) => format!("reachable, Docker {v}"),
            (None, Some(why)) => format!("unreachable: {why}"),
            (None, None) => "unreachable".into(),
        };
        println!(
            "{mark} {:<width$}  {:<host_width$}  {state}{tls}",
            e.endpoint.name, e.endpoint.host
        );
    }
    Ok(())
}
