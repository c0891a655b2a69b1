use crate::{output, Result};
use deck_app::{App, BackupList, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Backup folder replacing the configured one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(app: &App, target: &Target, a: Args) -> Result<()> {
    let stack = crate::load(target)?;
    let list = deck_app::backups(app, &stack)?;
    if a.json {
        output::json(&list);
    } else {
        print_list(&list);
    }
    Ok(())
}

fn print_list(list: &BackupList) {
    use deck_app::Verified;
    if list.sets.is_empty() {
        println!("no backup sets yet (sirius-deck backup takes one)");
    } else {
        println!(
            "{:<30} {:<7} {:<5} {:>10} {:<9} {:<40} VERIFIED",
            "ID", "KIND", "ENV", "SIZE", "AGE", "COVERS"
        );
    }
    for s in &list.sets {
        let covers: Vec<&str> = s.items.iter().map(|i| i.id.as_str()).collect();
        let when = s.verified_unix.map(output::age).unwrap_or_default();
        let verified = match s.verified {
            Verified::WhenWritten => "when written".to_string(),
            Verified::Ok => format!("ok, {when}"),
            Verified::Failed => format!("FAILED {when}: {}", s.problem.as_deref().unwrap_or("")),
        };
        println!(
            "{:<30} {:<7} {:<5} {:>10} {:<9} {:<40} {verified}",
            s.id,
            s.kind.to_string(),
            s.env.as_deref().unwrap_or("-"),
            output::human(s.size),
            output::age(s.created_unix),
            covers.join(", ")
        );
    }
    for (id, why) in &list.unreadable {
        println!("{id}: not a usable set: {why}");
    }
    for i in &list.interrupted {
        println!("{}", i.describe());
    }
}
