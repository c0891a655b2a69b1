//! `sirius-deck`: the command line over the Sirius Deck core.

mod backups;
mod progress;

use clap::{Args, Parser, Subcommand, ValueEnum};
use deck_compose::{config_json, load, to_yaml, Diagnostic, LoadOptions, Loaded};
use deck_engine::{DownOptions, Engine, UpOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "sirius-deck",
    version,
    about = "Run and watch a local multi-container stack (Sirius first) from its own compose files.",
    long_about = "Run and watch a local multi-container stack (Sirius first) from its own compose files.\n\n\
A stack is chosen with --stack (a stack profile: which compose files make each environment) and \
--env (dev, prod, ...), or with -f files as with docker compose. Without either, the built-in \
default profile is used.\n\nExamples:\n  sirius-deck up                      # the default stack, its default environment\n  \
sirius-deck --stack sirius-lab --env prod up\n  sirius-deck ps\n  sirius-deck down\n  sirius-deck stacks\n  \
sirius-deck config --stack sirius --env prod\n  sirius-deck -f docker-compose.yaml -f docker-compose.dev.yaml config --format json",
    after_help = "Exit status: 0 fine, 1 invalid input (every error is listed), 2 usage."
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Target {
    /// Stack profile: a built-in name, one under ~/.config/sirius-deck/profiles, or a path.
    #[arg(
        long,
        short = 's',
        global = true,
        env = "SIRIUS_DECK_STACK",
        conflicts_with = "files"
    )]
    stack: Option<String>,
    /// Environment of the stack profile (e.g. dev or prod); default: the profile's own.
    #[arg(long, short = 'e', global = true, conflicts_with = "files")]
    env: Option<String>,
    /// Compose file, as with docker compose -f; repeat for overrides, base first.
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Env file replacing the project's .env; repeat for several (later wins).
    #[arg(long = "env-file", global = true, value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// Project name (default: COMPOSE_PROJECT_NAME, `name:` in the files, or the folder).
    #[arg(short = 'p', long = "project-name", global = true, value_name = "NAME")]
    project_name: Option<String>,
    /// Compose profile to enable (services with `profiles:`); repeat for several.
    #[arg(long = "profile", global = true, value_name = "PROFILE")]
    profiles: Vec<String>,
    /// Project directory, replacing the stack profile's (or the first file's folder).
    #[arg(long = "project-dir", global = true, value_name = "DIR")]
    project_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the merged, normalised model in the shape of `docker compose config`.
    Config {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Yaml)]
        format: Format,
        /// Print the values of secret-looking variables instead of masking them.
        #[arg(long)]
        show_secrets: bool,
        /// Print only the service names, in start-up order.
        #[arg(long)]
        services: bool,
        /// Only validate: print nothing but warnings and errors.
        #[arg(short, long)]
        quiet: bool,
    },
    /// List the stack profiles that --stack can name.
    Stacks,
    /// Build (if needed), create and start the stack in dependency order; return when every
    /// service is ready.
    Up {
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
    },
    /// Stop and remove the stack's containers and networks, in reverse dependency order.
    /// Volumes are kept unless --volumes.
    Down {
        /// Also delete the stack's named volumes: their data is lost.
        #[arg(long)]
        volumes: bool,
        /// One JSON event per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show each service: state, health, image, build target, ports, restarts, exit code.
    Ps {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print incidents as they happen: a service unhealthy, exited, out of memory, restarting
    /// in a loop, and recovered. Runs until interrupted.
    Watch {
        /// Also raise desktop notifications.
        #[arg(long)]
        notify: bool,
        /// One JSON object per incident.
        #[arg(long)]
        json: bool,
    },
    /// Print the logs of the stack's services (all when none is named), merged.
    Logs {
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
    },
    /// Back up the stack's data: a pg_dump of each PostgreSQL service and a tar of each named
    /// volume (as its profile's [backup] section says), verified before it is listed.
    Backup {
        /// Only these items (db:<service>, volume:<key>, or the bare names).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Write the set under this folder instead of the configured one.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// One JSON object per progress step.
        #[arg(long)]
        json: bool,
    },
    /// List the stack's backup sets: size, age, what each covers, whether it verified.
    Backups {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Read every file of a set against its manifest (size, SHA-256, content).
    Verify {
        /// The set: its id, a unique prefix of it, or `latest`.
        id: String,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Restore a set: verified first, a safety set of the current data taken, services using
    /// the data stopped, data replaced, everything started again; rolled back on failure.
    Restore {
        /// The set: its id, a unique prefix of it, or `latest`.
        id: String,
        /// Only these items (db:<service>, volume:<key>, or the bare names).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Do not take a safety set first (the restore then cannot be undone).
        #[arg(long)]
        no_safety: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show or change where backups go and how many are kept (saved for the CLI and the window).
    BackupSettings {
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
    },
    /// Switch the running stack to another environment (dev, prod): checked first, safety
    /// backup (default into prod), images built with the right target, old environment down
    /// (volumes kept), new one up, rolled back if it does not come up; then what every
    /// container runs is checked against what the environment asks for.
    Switch {
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
        /// Leave the failed environment as it is instead of going back.
        #[arg(long)]
        no_rollback: bool,
        /// One JSON object per progress step.
        #[arg(long)]
        json: bool,
    },
    /// Fix a service that drifted from what its environment asks for: rebuild its image without
    /// cache (when its build target is wrong, or with --rebuild) and recreate its container.
    Repair {
        service: String,
        /// Rebuild the image without cache even when only the container drifted.
        #[arg(long)]
        rebuild: bool,
        #[arg(long)]
        json: bool,
    },
    /// Build the images of services that have a build section.
    Build {
        /// Build without the layer cache.
        #[arg(long)]
        no_cache: bool,
        /// One JSON event per line instead of text.
        #[arg(long)]
        json: bool,
        /// Only these services.
        services: Vec<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

/// A failure that the user can fix from what it says; exit status 1.
struct UserError(String);

impl<E: std::fmt::Display> From<E> for UserError {
    fn from(e: E) -> Self {
        UserError(e.to_string())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(UserError(msg)) => {
            eprintln!("sirius-deck: {msg}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<(), UserError> {
    match cli.command {
        Command::Stacks => {
            for name in deck_stack::available() {
                match deck_stack::find(&name) {
                    Ok(p) => {
                        let envs: Vec<&str> = p.envs.keys().map(String::as_str).collect();
                        let default = if name == deck_stack::DEFAULT_PROFILE {
                            " (default)"
                        } else {
                            ""
                        };
                        println!(
                            "{name}{default}\t{}\tenvs: {}\tproject: {}",
                            p.description,
                            envs.join(", "),
                            p.project_dir.display()
                        );
                    }
                    Err(e) => println!("{name}\t(invalid: {e})"),
                }
            }
            Ok(())
        }
        Command::Config {
            format,
            show_secrets,
            services,
            quiet,
        } => {
            let (loaded, _) = load_target(&cli.target)?;
            if quiet {
                return Ok(());
            }
            if services {
                for s in loaded.project.startup_order() {
                    println!("{s}");
                }
                return Ok(());
            }
            let value = config_json(&loaded.project, show_secrets);
            match format {
                Format::Yaml => print!("{}", to_yaml(&value)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default()),
            }
            Ok(())
        }
        Command::Up {
            build,
            no_cache,
            wait_timeout,
            remove_orphans,
            json,
            services,
        } => {
            let (loaded, env) = load_target(&cli.target)?;
            let engine = Engine::connect().await?;
            let opts = UpOptions {
                build: build || no_cache,
                no_cache,
                env,
                wait_timeout: wait_timeout.map(Duration::from_secs),
                remove_orphans,
                services,
            };
            let (tx, printer) = progress::printer(json);
            let result = engine.up(&loaded.project, &opts, Some(tx)).await;
            let _ = printer.await;
            let summary = result?;
            if !json {
                eprintln!(
                    "sirius-deck: {} is up: {} service(s) ready in {:.1}s",
                    loaded.project.name,
                    summary.services.len(),
                    summary.elapsed_ms as f64 / 1000.0
                );
            }
            Ok(())
        }
        Command::Down { volumes, json } => {
            let (loaded, _, _) = load_running(&cli.target).await?;
            let engine = Engine::connect().await?;
            if volumes {
                let names = engine.project_volumes(&loaded.project.name).await?;
                if !names.is_empty() {
                    eprintln!(
                        "sirius-deck: --volumes deletes these volumes and all their data: {}",
                        names.join(", ")
                    );
                }
            }
            let (tx, printer) = progress::printer(json);
            let result = engine
                .down(
                    &loaded.project.name,
                    Some(&loaded.project),
                    &DownOptions { volumes },
                    Some(tx),
                )
                .await;
            let _ = printer.await;
            result?;
            if !json && !volumes {
                let kept = engine.project_volumes(&loaded.project.name).await?;
                if !kept.is_empty() {
                    eprintln!(
                        "sirius-deck: volumes kept: {} (down --volumes deletes them)",
                        kept.join(", ")
                    );
                }
            }
            Ok(())
        }
        Command::Ps { json } => {
            let (loaded, env, _) = load_running(&cli.target).await?;
            let engine = Engine::connect().await?;
            let status = engine.status(&loaded.project).await?;
            let mut usage = std::collections::BTreeMap::new();
            for s in &status {
                if let Some(c) = s.container.as_ref().filter(|c| c.state == "running") {
                    if let Some(u) = engine.usage(&c.id).await {
                        usage.insert(s.service.clone(), u);
                    }
                }
            }
            let drift = engine.drift(&loaded.project, env.as_deref()).await?;
            let rows = progress::rows(&loaded.project, &status, &usage, &drift);
            if json {
                println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
            } else {
                progress::print_table(&rows);
            }
            Ok(())
        }
        Command::Watch { notify, json } => {
            let (loaded, _, _) = load_running(&cli.target).await?;
            let engine = Engine::connect().await?;
            let stack = cli.target.stack.clone().unwrap_or_else(|| loaded.project.name.clone());
            let mut watch = engine.watch_incidents(&loaded.project, deck_engine::TrackerConfig::default());
            if !json {
                eprintln!("sirius-deck: watching {} (Ctrl-C to stop)", loaded.project.name);
            }
            while let Some(incident) = watch.incidents.recv().await {
                if json {
                    println!("{}", serde_json::to_string(&incident).unwrap_or_default());
                } else {
                    let (title, body) = incident.text(&stack);
                    println!("{}  {title}: {body}", progress::clock());
                }
                if notify {
                    if let Err(e) = deck_engine::notify_desktop(&stack, &incident, None).await {
                        eprintln!("sirius-deck: cannot raise a desktop notification: {e}");
                    }
                }
            }
            Ok(())
        }
        Command::Logs {
            follow,
            tail,
            timestamps,
            services,
        } => {
            let (loaded, _, _) = load_running(&cli.target).await?;
            let engine = Engine::connect().await?;
            for s in &services {
                if !loaded.project.services.contains_key(s) {
                    return Err(UserError(format!("no service '{s}' in {}", loaded.project.name)));
                }
            }
            let mut lines = engine.logs(&loaded.project, &services, follow, tail).await?;
            let width = loaded.project.services.keys().map(String::len).max().unwrap_or(0);
            while let Some(l) = lines.recv().await {
                let ts = if timestamps {
                    format!("{} ", l.timestamp.unwrap_or_default())
                } else {
                    String::new()
                };
                println!("{:<width$} | {ts}{}", l.service, l.line);
            }
            Ok(())
        }
        Command::Backup { only, dir, json } => {
            let (loaded, env, profile) = load_running(&cli.target).await?;
            let (name, spec, path) = backup_spec(&loaded, profile.as_ref());
            let mut st = backups::stack(&loaded, &name, env.as_deref(), &spec, &path)?;
            st.coverage = st.coverage.only(&only)?;
            let b = deck_backup::Backups::new(Engine::connect().await?, backups::settings(dir)?);
            let cancel = backups::cancel_on_signal();
            let set = backups::run(json, async |r| b.create(&st, r, &cancel).await).await?;
            if !json {
                eprintln!(
                    "sirius-deck: backup set {} written and verified: {} in {}",
                    set.id,
                    backups::human(set.size),
                    deck_backup::display_path(&set.path)
                );
            }
            Ok(())
        }
        Command::Backups { dir, json } => {
            let (loaded, _) = load_target(&cli.target)?;
            let settings = backups::settings(dir)?;
            let dir = settings.dir.join(&loaded.project.name);
            let (sets, broken) = deck_backup::list_sets(&dir)?;
            let interrupted = deck_backup::interrupted_sets(&dir);
            backups::print_list(&sets, &broken, &interrupted, json);
            Ok(())
        }
        Command::Verify { id, dir, json } => {
            let (loaded, _) = load_target(&cli.target)?;
            let b = deck_backup::Backups::new(Engine::connect().await?, backups::settings(dir)?);
            let set = backups::run(json, async |r| b.verify(&loaded.project.name, &id, r).await).await?;
            match set.check.and_then(|c| c.problem) {
                None => {
                    if !json {
                        eprintln!(
                            "sirius-deck: set {} verified: {} file(s), {}, every checksum and content as written",
                            set.id,
                            set.manifest.items.len(),
                            backups::human(set.size)
                        );
                    }
                    Ok(())
                }
                Some(p) => Err(UserError(format!("set {} is damaged: {p}", set.id))),
            }
        }
        Command::Restore {
            id,
            only,
            no_safety,
            yes,
            dir,
            json,
        } => {
            let (loaded, env, profile) = load_running(&cli.target).await?;
            let (name, spec, path) = backup_spec(&loaded, profile.as_ref());
            let st = backups::stack(&loaded, &name, env.as_deref(), &spec, &path)?;
            let b = deck_backup::Backups::new(Engine::connect().await?, backups::settings(dir)?);
            let set = b.find(&loaded.project.name, &id)?;
            backups::confirm(&set, &only, &loaded.project.name, yes)?;
            let opts = deck_backup::RestoreOptions {
                only,
                safety: !no_safety,
            };
            let cancel = backups::cancel_on_signal();
            let summary = backups::run(json, async |r| b.restore(&st, &set.id, &opts, r, &cancel).await).await?;
            if !json {
                eprintln!(
                    "sirius-deck: restored {} from set {} in {:.1}s; every service is ready.{}",
                    summary.items.join(", "),
                    summary.set,
                    summary.elapsed_ms as f64 / 1000.0,
                    summary
                        .safety
                        .map(|s| format!(" To undo: sirius-deck restore {s}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::BackupSettings {
            dir,
            keep,
            max_age_days,
            keep_safety,
        } => {
            let mut s = deck_backup::Settings::load()?;
            let changed = dir.is_some() || keep.is_some() || max_age_days.is_some() || keep_safety.is_some();
            if let Some(d) = dir {
                s.dir = std::path::absolute(&d).map_err(|e| UserError(format!("--dir {}: {e}", d.display())))?;
            }
            if let Some(k) = keep {
                s.keep = k;
            }
            if let Some(d) = max_age_days {
                s.max_age_days = (d > 0).then_some(d);
            }
            if let Some(k) = keep_safety {
                s.keep_safety = k;
            }
            if changed {
                s.save()?;
                eprintln!("sirius-deck: saved {}", deck_backup::Settings::path().display());
            }
            println!("dir = {}", s.dir.display());
            println!("keep = {}", s.keep);
            println!(
                "max_age_days = {}",
                s.max_age_days.map_or("none".to_string(), |d| d.to_string())
            );
            println!("keep_safety = {}", s.keep_safety);
            Ok(())
        }
        Command::Switch {
            to,
            backup,
            no_backup,
            no_cache,
            no_rollback,
            json,
        } => {
            let name = cli.target.stack.as_deref().unwrap_or(deck_stack::DEFAULT_PROFILE);
            if !cli.target.files.is_empty() {
                return Err(UserError(
                    "switch works on a stack profile (--stack), not on -f files".into(),
                ));
            }
            let profile = deck_stack::find(name)?;
            profile.env(&to)?;
            let engine = Engine::connect().await?;
            let backups = deck_backup::Backups::new(engine.clone(), backups::settings(None)?);
            let switcher = deck_switch::Switcher {
                engine: &engine,
                backups: &backups,
                profile: &profile,
            };
            let opts = deck_switch::SwitchOptions {
                backup: if backup {
                    Some(true)
                } else if no_backup {
                    Some(false)
                } else {
                    None
                },
                no_cache,
                rollback: !no_rollback,
            };
            let (tx, printer) = progress::printer(json);
            let (reporter, steps) = backups::printer(json);
            let result = switcher.switch(&to, &opts, Some(tx), &reporter).await;
            drop(reporter);
            let _ = printer.await;
            let _ = steps.await;
            let summary = result?;
            if json {
                println!("{}", serde_json::to_string(&summary).unwrap_or_default());
            } else {
                progress::print_drift(&summary.drift);
                eprintln!(
                    "sirius-deck: {} switched from {} to {} in {:.1}s{}",
                    profile.name,
                    summary.from.as_deref().unwrap_or("nothing running"),
                    summary.to,
                    summary.elapsed_ms as f64 / 1000.0,
                    summary
                        .safety
                        .map(|s| format!("; data backed up first in set {s}"))
                        .unwrap_or_default()
                );
            }
            let drifted: Vec<&str> = summary
                .drift
                .iter()
                .filter(|d| d.verdict == deck_engine::Verdict::Drift)
                .map(|d| d.service.as_str())
                .collect();
            if !drifted.is_empty() {
                return Err(UserError(format!(
                    "switched, but {} do(es) not run what {} asks for: sirius-deck repair <service>",
                    drifted.join(", "),
                    summary.to
                )));
            }
            Ok(())
        }
        Command::Repair { service, rebuild, json } => {
            let (loaded, env, _) = load_running(&cli.target).await?;
            if !loaded.project.services.contains_key(&service) {
                return Err(UserError(format!("no service '{service}' in {}", loaded.project.name)));
            }
            let engine = Engine::connect().await?;
            let before = engine.drift(&loaded.project, env.as_deref()).await?;
            let fix = before.iter().find(|d| d.service == service).and_then(|d| d.fix);
            let rebuild = rebuild || fix == Some(deck_engine::Fix::Rebuild);
            let (tx, printer) = progress::printer(json);
            let result = engine
                .repair(&loaded.project, &service, env.as_deref(), rebuild, Some(tx))
                .await;
            let _ = printer.await;
            result?;
            let after = engine.drift(&loaded.project, env.as_deref()).await?;
            progress::print_drift(&after);
            match after.iter().find(|d| d.service == service) {
                Some(d) if d.verdict == deck_engine::Verdict::Drift => {
                    Err(UserError(format!("{service} still drifts: {}", d.summary())))
                }
                _ => Ok(()),
            }
        }
        Command::Build {
            no_cache,
            json,
            services,
        } => {
            let (loaded, env) = load_target(&cli.target)?;
            let engine = Engine::connect().await?;
            let opts = UpOptions {
                no_cache,
                env,
                ..Default::default()
            };
            let (tx, printer) = progress::printer(json);
            let result = engine.build(&loaded.project, &services, &opts, Some(tx)).await;
            let _ = printer.await;
            result?;
            Ok(())
        }
    }
}

/// The options of the target: -f files, or a stack profile and environment (whose name is
/// returned too).
fn load_options(t: &Target) -> Result<(LoadOptions, Option<String>, Option<deck_stack::Profile>), UserError> {
    let (mut opts, env, profile) = if t.files.is_empty() {
        let name = t.stack.as_deref().unwrap_or(deck_stack::DEFAULT_PROFILE);
        let profile = deck_stack::find(name)?;
        let env = t.env.clone().unwrap_or_else(|| profile.default_env.clone());
        (
            profile.load_options(&env, t.project_dir.as_deref())?,
            Some(env),
            Some(profile),
        )
    } else {
        let mut o = LoadOptions::new(t.files.iter().cloned());
        o.project_dir = t.project_dir.clone();
        (o, None, None)
    };
    if !t.env_files.is_empty() {
        opts.env_files = t.env_files.clone();
    }
    if t.project_name.is_some() {
        opts.project_name = t.project_name.clone();
    }
    if !t.profiles.is_empty() {
        opts.profiles = t.profiles.clone();
    }
    Ok((opts, env, profile))
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

fn load_target(t: &Target) -> Result<(Loaded, Option<String>), UserError> {
    load_stack(t).map(|(loaded, env, _)| (loaded, env))
}

/// The stack's name, what its backups cover and where that is said (for errors).
fn backup_spec(loaded: &Loaded, profile: Option<&deck_stack::Profile>) -> (String, deck_stack::BackupSpec, String) {
    match profile {
        Some(p) => (p.name.clone(), p.backup.clone(), p.path.display().to_string()),
        None => (
            loaded.project.name.clone(),
            deck_stack::BackupSpec::default(),
            "the compose files".to_string(),
        ),
    }
}

/// Like `load_stack`, but without --env the environment is the one the stack's containers were
/// made for, when they run (so that `ps` after `switch prod` looks at prod).
async fn load_running(t: &Target) -> Result<(Loaded, Option<String>, Option<deck_stack::Profile>), UserError> {
    let loaded = load_stack(t)?;
    let (_, env, Some(profile)) = &loaded else {
        return Ok(loaded);
    };
    if t.env.is_some() {
        return Ok(loaded);
    }
    let Ok(engine) = Engine::connect().await else {
        return Ok(loaded);
    };
    match deck_switch::current_env(&engine, &loaded.0.project.name).await {
        Ok(Some(running)) if Some(&running) != env.as_ref() && profile.envs.contains_key(&running) => {
            let mut t = t.clone();
            t.env = Some(running);
            load_stack(&t)
        }
        _ => Ok(loaded),
    }
}

/// The loaded files, the environment and the stack profile they came from (none with -f).
fn load_stack(t: &Target) -> Result<(Loaded, Option<String>, Option<deck_stack::Profile>), UserError> {
    let (opts, env, profile) = load_options(t)?;
    match load(&opts) {
        Ok(loaded) => {
            print_diagnostics(&loaded.warnings);
            Ok((loaded, env, profile))
        }
        Err(e) => {
            print_diagnostics(&e.warnings);
            print_diagnostics(&e.errors);
            Err(UserError(format!(
                "{} error(s): nothing was changed. Fix the files named above and run again.",
                e.errors.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
