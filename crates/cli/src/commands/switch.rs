use crate::{output, Result};
use deck_app::{App, Code, Error, Target};
use deck_switch::SwitchOptions;

#[derive(clap::Args)]
pub struct Args {
    /// The environment to switch to.
    to: String,
    /// Take a safety backup first (default: only when switching into prod).
    #[arg(long, conflicts_with = "no_backup")]
    backup: bool,
    /// Do not take a safety backup.
    #[arg(long)]
    no_backup: bool,
    /// Build every image of the target environment without the layer cache.
    #[arg(long)]
    no_cache: bool,
    /// Build nothing: use the images there are; refused before anything changes when one is
    /// missing or not proven to come from the right target.
    #[arg(long, conflicts_with = "no_cache")]
    no_build: bool,
    /// Leave the failed environment as it is instead of going back.
    #[arg(long)]
    no_rollback: bool,
    /// Stop the whole old environment and start the new one, instead of keeping the services
    /// whose configuration is the same in both running.
    #[arg(long)]
    full_restart: bool,
    /// Print what the switch would do to each service (kept, recreated, created, removed) and
    /// change nothing.
    #[arg(long)]
    dry_run: bool,
    /// One JSON object per progress step.
    #[arg(long)]
    json: bool,
}

pub async fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load(target)?;
    let opts = SwitchOptions {
        backup: (a.backup || a.no_backup).then_some(a.backup),
        no_cache: a.no_cache,
        no_build: a.no_build,
        rollback: !a.no_rollback,
        full_restart: a.full_restart,
    };
    if a.dry_run {
        let plan = deck_app::switch_plan(app, &stack, &a.to, &opts).await?;
        if a.json {
            output::json(&plan);
        } else {
            for p in &plan {
                let change = serde_json::to_value(p.change)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                println!("{:<24} {change:<10} {}", p.service, p.reason.as_deref().unwrap_or(""));
            }
        }
        return Ok(());
    }
    let summary = output::with_progress(a.json, async |sink| {
        deck_app::switch(app, &stack, &a.to, &opts, sink).await
    })
    .await?;
    if a.json {
        output::json_line(&summary);
    } else {
        output::print_drift(&summary.drift);
        eprintln!(
            "sirius-deck: {} switched from {} to {} in {:.1}s{}",
            stack.name(),
            summary.from.as_deref().unwrap_or("nothing running"),
            summary.to,
            summary.elapsed_ms as f64 / 1000.0,
            summary
                .safety
                .as_ref()
                .map(|s| format!("; data backed up first in set {s}"))
                .unwrap_or_default()
        );
    }
    let drifted = summary.drifted();
    if !drifted.is_empty() {
        return Err(Error::new(
            Code::Drift,
            format!(
                "switched, but {} do(es) not run what {} asks for: sirius-deck repair <service>",
                drifted.join(", "),
                summary.to
            ),
        ));
    }
    Ok(())
}
