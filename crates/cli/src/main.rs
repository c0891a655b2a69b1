//! `sirius-deck`: the command line over the Sirius Deck application API (`deck-app`). Each
//! command maps its arguments to one action and prints what comes back; exit statuses follow
//! the error's code.

mod commands;
mod output;

use clap::{Parser, Subcommand};
use deck_app::{App, Code, Stack, Target};
use std::path::PathBuf;
use std::process::ExitCode;

pub type Result<T> = deck_app::Result<T>;

const EXIT_STATUS: &str = "Exit status:
  0    fine
  1    invalid input (files, profile, arguments): every error is listed, nothing was changed
  2    usage (unknown command or option)
  3    the Docker engine cannot be reached: nothing was changed
  4    refused before anything changed (a check failed, another operation runs, not confirmed)
  5    failed: the message says what state it left
  6    failed and rolled back: the stack is as it was before
  7    done, but a container does not run what its environment asks for (drift)
  70   internal error
  130  cancelled (Ctrl-C): what was stopped runs again, nothing was written";

/// The exit status of an error's code (the table above).
fn exit_status(code: Code) -> u8 {
    match code {
        Code::Invalid => 1,
        Code::EngineUnreachable => 3,
        Code::Refused | Code::Busy => 4,
        Code::Failed => 5,
        Code::RolledBack => 6,
        Code::Drift => 7,
        Code::Internal => 70,
        Code::Cancelled => 130,
    }
}

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
    after_help = EXIT_STATUS
)]
struct Cli {
    /// The Docker engine: a context of the docker CLI (`docker context ls`, `sirius-deck
    /// engines`). Default: as the docker CLI chooses (DOCKER_HOST, DOCKER_CONTEXT, the current
    /// context, else the local socket).
    #[arg(long, short = 'c', global = true, value_name = "NAME")]
    context: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct TargetArgs {
    /// Stack profile: a built-in name, one under ~/.config/sirius-deck/profiles, or a path.
    #[arg(
        long,
        short = 's',
        global = true,
        env = "SIRIUS_DECK_STACK",
        conflicts_with = "files"
    )]
    stack: Option<String>,
    /// Environment of the stack profile (e.g. dev or prod); default: the one running, else the
    /// profile's own.
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

impl From<TargetArgs> for Target {
    fn from(t: TargetArgs) -> Self {
        Target {
            stack: t.stack,
            env: t.env,
            files: t.files,
            env_files: t.env_files,
            project_name: t.project_name,
            profiles: t.profiles,
            project_dir: t.project_dir,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print the merged, normalised model in the shape of `docker compose config`.
    Config(commands::config::Args),
    /// List the stack profiles that --stack can name; add one from a folder of compose files,
    /// rename or remove your own.
    Stacks(commands::stacks::Args),
    /// Build (if needed), create and start the stack in dependency order; return when every
    /// service is ready.
    Up(commands::up::Args),
    /// Create the stack's containers, networks and volumes (building images if needed) in
    /// dependency order, without starting anything, as `docker compose create`.
    Create(commands::create::Args),
    /// Stop and remove the stack's containers and networks, in reverse dependency order.
    /// Volumes are kept unless --volumes.
    Down(commands::down::Args),
    /// Show each service: state, health, image, build target, ports, restarts, exit code.
    Ps(commands::ps::Args),
    /// Print incidents as they happen: a service unhealthy, exited, out of memory, restarting
    /// in a loop, and recovered. Runs until interrupted.
    Watch(commands::watch::Args),
    /// Print the logs of the stack's services (all when none is named), merged.
    Logs(commands::logs::Args),
    /// Back up the stack's data: a pg_dump of each PostgreSQL service and a tar of each named
    /// volume (as its profile's [backup] section says), verified before it is listed.
    Backup(commands::backup::Args),
    /// List the stack's backup sets: size, age, what each covers, whether it verified.
    Backups(commands::backups::Args),
    /// Read every file of a set against its manifest (size, SHA-256, content).
    Verify(commands::verify::Args),
    /// Restore a set: verified first, a safety set of the current data taken, services using
    /// the data stopped, data replaced, everything started again; rolled back on failure.
    Restore(commands::restore::Args),
    /// Show the backups, restores and switches that a killed run left unfinished, what each
    /// left, and settle one: --resume, --roll-back or --discard.
    Recover(commands::recover::Args),
    /// Show or change where backups go and how many are kept (saved for the CLI and the window).
    BackupSettings(commands::backup_settings::Args),
    /// Switch the running stack to another environment (dev, prod): checked first, safety
    /// backup (default into prod), images built with the right target, old environment down
    /// (volumes kept), new one up, rolled back if it does not come up; then what every
    /// container runs is checked against what the environment asks for.
    Switch(commands::switch::Args),
    /// Fix a service that drifted from what its environment asks for: rebuild its image without
    /// cache (when its build target is wrong, or with --rebuild) and recreate its container.
    Repair(commands::repair::Args),
    /// Build the images of services that have a build section.
    Build(commands::build::Args),
    /// List the Docker engines to choose from with --context (the docker CLI's contexts), with
    /// each one's version, or why it cannot be reached.
    Engines(commands::engines::Args),
    /// Check that each service reaches what it depends on: a TCP connect from inside it to each
    /// dependency's name and port (reachable, refused, no name, unreachable).
    Check(commands::check::Args),
}

impl Command {
    /// The backup folder named with `--dir`, replacing the configured one.
    fn backup_dir(&self) -> Option<PathBuf> {
        match self {
            Command::Backup(a) => a.dir.clone(),
            Command::Backups(a) => a.dir.clone(),
            Command::Verify(a) => a.dir.clone(),
            Command::Restore(a) => a.dir.clone(),
            Command::Recover(a) => a.dir.clone(),
            _ => None,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_diagnostics(&e.diagnostics);
            eprintln!("sirius-deck: {}", e.message);
            ExitCode::from(exit_status(e.code))
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let app = App::new()
        .with_backup_dir(cli.command.backup_dir())?
        .with_context(cli.context);
    let target = Target::from(cli.target);
    let app = &app;
    let t = &target;
    match cli.command {
        Command::Config(a) => commands::config::run(t, a),
        Command::Stacks(a) => commands::stacks::run(app, a).await,
        Command::Up(a) => commands::up::run(app, t, a).await,
        Command::Create(a) => commands::create::run(app, t, a).await,
        Command::Down(a) => commands::down::run(app, t, a).await,
        Command::Ps(a) => commands::ps::run(app, t, a).await,
        Command::Watch(a) => commands::watch::run(app, t, a).await,
        Command::Logs(a) => commands::logs::run(app, t, a).await,
        Command::Backup(a) => commands::backup::run(app, t, a).await,
        Command::Backups(a) => commands::backups::run(app, t, a),
        Command::Verify(a) => commands::verify::run(app, t, a).await,
        Command::Restore(a) => commands::restore::run(app, t, a).await,
        Command::Recover(a) => commands::recover::run(app, t, a).await,
        Command::BackupSettings(a) => commands::backup_settings::run(app, a),
        Command::Switch(a) => commands::switch::run(app, t, a).await,
        Command::Repair(a) => commands::repair::run(app, t, a).await,
        Command::Build(a) => commands::build::run(app, t, a).await,
        Command::Check(a) => commands::check::run(app, t, a).await,
        Command::Engines(a) => commands::engines::run(app, a).await,
    }
}

fn print_diagnostics(diags: &[deck_compose::Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// Loads the named stack's files; warnings go to stderr.
pub fn load(target: &Target) -> Result<Stack> {
    let stack = target.load()?;
    print_diagnostics(&stack.warnings);
    Ok(stack)
}

/// Says on stderr which operations a killed run left unfinished on the stack, and how to
/// settle them.
pub fn warn_interrupted(app: &App, stack: &Stack) {
    for i in deck_app::interrupted(app, stack).unwrap_or_default() {
        eprintln!("sirius-deck: {}", i.describe());
    }
}

/// Like `load`, following the environment that runs when none is named.
pub async fn load_running(app: &App, target: &Target) -> Result<Stack> {
    let stack = target.load_running(app).await?;
    print_diagnostics(&stack.warnings);
    Ok(stack)
}

/// Cancels the running backup or restore on Ctrl-C or SIGTERM; a second signal ends the
/// program at once. Dropping the guard stops listening.
pub fn cancel_on_signal(app: &App) -> impl Drop {
    struct Guard(tokio::task::JoinHandle<()>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let canceller = app.canceller();
    let task = tokio::spawn(async move {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("sirius-deck: interrupted: stopping cleanly (services are started again)… (again to quit at once)");
        canceller.cancel();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        std::process::exit(130);
    });
    Guard(task)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
