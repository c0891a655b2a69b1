use crate::Result;
use deck_app::SettingsChange;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Folder for backup sets.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// How many of a stack's own sets to keep.
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
    /// Also delete sets older than N days (0: no age limit).
    #[arg(long, value_name = "DAYS")]
    max_age_days: Option<u32>,
    /// How many safety sets to keep.
    #[arg(long, value_name = "N")]
    keep_safety: Option<usize>,
}

pub fn run(app: &deck_app::App, a: Args) -> Result<()> {
    let change = SettingsChange {
        dir: a.dir.map(|d| d.display().to_string()),
        keep: a.keep,
        max_age_days: a.max_age_days,
        keep_safety: a.keep_safety,
    };
    let changed =
        change.dir.is_some() || change.keep.is_some() || change.max_age_days.is_some() || change.keep_safety.is_some();
    let s = if changed {
        let s = deck_app::save_settings(&change)?;
        eprintln!("sirius-deck: saved {}", deck_backup::Settings::path().display());
        s
    } else {
        deck_app::settings(app)?
    };
    println!("dir = {}", s.dir.display());
    println!("keep = {}", s.keep);
    println!(
        "max_age_days = {}",
        s.max_age_days.map_or("none".to_string(), |d| d.to_string())
    );
    println!("keep_safety = {}", s.keep_safety);
    Ok(())
}
