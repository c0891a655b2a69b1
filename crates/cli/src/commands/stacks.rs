use crate::Result;
use deck_app::{App, Error, NewStack};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Add a stack from a folder of compose files: each environment's files are those found
    /// (`compose.yaml` or `docker-compose.yml`, with `*.dev.*` for dev and `*.prod.*` for prod)
    /// unless given with --files; each environment must load before the profile is written.
    Add {
        folder: PathBuf,
        /// The stack's name (default: the folder's).
        #[arg(long)]
        name: Option<String>,
        /// An environment and its compose files, base first: `--files dev=compose.yaml,compose.dev.yaml`.
        #[arg(long = "files", value_name = "ENV=FILES")]
        envs: Vec<String>,
        /// The environment opened first (default: dev when there is one).
        #[arg(long)]
        default_env: Option<String>,
    },
    /// Rename one of your stacks (refused while it has containers).
    Rename { stack: String, to: String },
    /// Remove one of your stacks: its profile file only (its compose files stay); refused while
    /// it has containers.
    Remove { stack: String },
}

pub async fn run(app: &App, a: Args) -> Result<()> {
    match a.action {
        None => list(),
        Some(Action::Add {
            folder,
            name,
            envs,
            default_env,
        }) => {
            let folder =
                std::path::absolute(&folder).map_err(|e| Error::invalid(format!("{}: {e}", folder.display())))?;
            let detected = deck_app::detect_stack(&folder)?;
            let mut chosen = BTreeMap::new();
            for e in &envs {
                let Some((env, files)) = e.split_once('=') else {
                    return Err(Error::invalid(format!(
                        "--files {e}: write it as --files ENV=FILE,FILE"
                    )));
                };
                chosen.insert(env.to_string(), files.split(',').map(str::to_string).collect());
            }
            let envs = if chosen.is_empty() { detected.envs } else { chosen };
            if envs.is_empty() {
                return Err(Error::invalid(format!(
                    "no compose file in {}: name them with --files dev=FILE",
                    folder.display()
                )));
            }
            let default_env = default_env
                .or_else(|| envs.contains_key("dev").then(|| "dev".to_string()))
                .or_else(|| envs.keys().next().cloned())
                .unwrap_or_default();
            let new = NewStack {
                name: name.unwrap_or(detected.name),
                folder: folder.display().to_string(),
                envs,
                default_env,
            };
            let added = deck_app::add_stack(&new)?;
            println!("added {} (envs: {})", added.name, added.envs.join(", "));
            Ok(())
        }
        Some(Action::Rename { stack, to }) => {
            deck_app::rename_stack(app, &stack, &to).await?;
            println!("{stack} is now {to}");
            Ok(())
        }
        Some(Action::Remove { stack }) => {
            match deck_app::remove_stack(app, &stack).await? {
                Some(kept) => println!("removed {stack} (its folder {} keeps its other files)", kept.display()),
                None => println!("removed {stack}"),
            }
            Ok(())
        }
    }
}

fn list() -> Result<()> {
    for s in deck_app::stacks() {
        match &s.invalid {
            Some(why) => println!("{}\t(invalid: {why})", s.name),
            None => {
                let default = if s.is_default { " (default)" } else { "" };
                let project = deck_stack::find(&s.name)
                    .map(|p| p.project_dir.display().to_string())
                    .unwrap_or_default();
                println!(
                    "{}{default}\t{}\tenvs: {}\tproject: {project}",
                    s.name,
                    s.description,
                    s.envs.join(", ")
                );
            }
        }
    }
    Ok(())
}
