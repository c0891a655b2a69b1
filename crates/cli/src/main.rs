//! `sirius-deck`: the command line over the Sirius Deck core.

use clap::{Args, Parser, Subcommand, ValueEnum};
use deck_compose::{config_json, load, to_yaml, Diagnostic, LoadOptions, Loaded};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sirius-deck",
    version,
    about = "Run and watch a local multi-container stack (Sirius first) from its own compose files.",
    long_about = "Run and watch a local multi-container stack (Sirius first) from its own compose files.\n\n\
A stack is chosen with --stack (a stack profile: which compose files make each environment) and \
--env (dev, prod, ...), or with -f files as with docker compose. Without either, the built-in \
default profile is used.\n\nExamples:\n  sirius-deck stacks\n  sirius-deck config --stack sirius --env prod\n  \
sirius-deck -f docker-compose.yaml -f docker-compose.dev.yaml config --format json",
    after_help = "Exit status: 0 fine, 1 invalid input (every error is listed), 2 usage."
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(UserError(msg)) => {
            eprintln!("sirius-deck: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), UserError> {
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
            let loaded = load_target(&cli.target)?;
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
    }
}

/// The options of the target: -f files, or a stack profile and environment.
fn load_options(t: &Target) -> Result<LoadOptions, UserError> {
    let mut opts = if t.files.is_empty() {
        let name = t.stack.as_deref().unwrap_or(deck_stack::DEFAULT_PROFILE);
        let profile = deck_stack::find(name)?;
        let env = t.env.clone().unwrap_or_else(|| profile.default_env.clone());
        profile.load_options(&env, t.project_dir.as_deref())?
    } else {
        let mut o = LoadOptions::new(t.files.iter().cloned());
        o.project_dir = t.project_dir.clone();
        o
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
    Ok(opts)
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

fn load_target(t: &Target) -> Result<Loaded, UserError> {
    let opts = load_options(t)?;
    match load(&opts) {
        Ok(loaded) => {
            print_diagnostics(&loaded.warnings);
            Ok(loaded)
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
