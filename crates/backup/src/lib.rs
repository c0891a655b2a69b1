//! Backup sets of a stack's data, taken and restored through the Docker Engine: a `pg_dump` of
//! each PostgreSQL service (run in its own container, with its own credentials) and a tar of
//! each named volume (read through the archive API), compressed with zstd, listed in a manifest
//! with each file's size and SHA-256. A set exists only once complete and verified; a restore
//! verifies first, takes a safety set, and rolls back to it when it fails.

mod create;
mod docker;
mod interrupted;
mod manifest;
mod pipe;
mod plan;
mod restore;
mod settings;
mod site;
mod store;

pub use interrupted::{
    begin_switch, end_switch, op_name, start_refused, switch_journal, Choice, Interrupted, InterruptedOp, Resolution,
    SwitchJournal,
};
pub use manifest::{Item, ItemKind, Kind, Manifest};
pub use plan::{coverage, Coverage, Database, Volume};
pub use restore::{RestoreOptions, RestoreSummary};
pub use settings::Settings;
pub use store::{Check, Listing, SetInfo};

use deck_compose::Project;
use deck_engine::{Engine, Op, Sink};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Engine(#[from] deck_engine::EngineError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Bad input or settings: nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// Refused before anything was changed.
    #[error("nothing was changed: {0}")]
    Refused(String),
    #[error("another backup or restore of this stack is running (lock held in {0}); wait for it to finish")]
    Busy(String),
    #[error("cancelled: no set was written, and the stack runs as before")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
    /// The set was written and verified; what it stopped or paused did not start again.
    #[error("backup set {set} was written and verified, but starting again the services it had stopped or paused failed (start them with `sirius-deck up`): {reason}")]
    NotReleased { set: String, reason: String },
    /// A restore failed after it began to replace the data, and no safety set was taken.
    #[error("the restore failed, and no safety set was taken to undo it: {reason}")]
    NotUndone { reason: String },
    #[error("the restore failed and was undone: the data is as it was before (safety set {safety}). Why it failed: {reason}")]
    RolledBack { reason: String, safety: String },
    #[error("the restore failed ({reason}) and undoing it failed too ({rollback}). The data from before the restore is in safety set {safety}: run `sirius-deck restore {safety}` once the cause is fixed")]
    RollbackFailed {
        reason: String,
        rollback: String,
        safety: String,
    },
}

impl deck_error::Coded for BackupError {
    fn code(&self) -> deck_error::Code {
        use deck_error::Code;
        match self {
            BackupError::Engine(e) => e.code(),
            BackupError::Invalid(_) => Code::Invalid,
            BackupError::Refused(_) => Code::Refused,
            BackupError::Busy(_) => Code::Busy,
            BackupError::Cancelled => Code::Cancelled,
            BackupError::RolledBack { .. } => Code::RolledBack,
            BackupError::Io { .. }
            | BackupError::Failed(_)
            | BackupError::NotReleased { .. }
            | BackupError::NotUndone { .. }
            | BackupError::RollbackFailed { .. } => Code::Failed,
        }
    }
}

/// The stack a backup is of: its loaded files, the profile's name, the environment, and what
/// its backups cover.
pub struct Stack<'a> {
    pub project: &'a Project,
    pub stack: &'a str,
    pub env: Option<&'a str>,
    pub coverage: Coverage,
}

/// Backups of stacks on one engine or on a swarm, with the user's settings.
pub struct Backups {
    site: site::Site,
    settings: Settings,
}

impl Backups {
    /// Backups of stacks whose containers run on `engine`.
    pub fn new(engine: Engine, settings: Settings) -> Self {
        Backups {
            site: site::Site::Engine(engine),
            settings,
        }
    }

    /// Backups of stacks deployed on the swarm `manager` manages: each database dumped and
    /// each volume read on the node its service's task runs on, reached as the manager is.
    pub fn on_swarm(manager: Engine, settings: Settings) -> Self {
        Backups {
            site: site::Site::Swarm {
                manager,
                nodes: Default::default(),
            },
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The folder of one stack's sets.
    pub fn dir(&self, project: &str) -> PathBuf {
        store::stack_dir(&self.settings.dir, project)
    }

    /// The sets of a stack, newest first, and the folders that are not readable sets.
    pub fn list(&self, project: &str) -> Result<store::Listing, BackupError> {
        store::list(&self.dir(project))
    }

    pub fn find(&self, project: &str, id: &str) -> Result<SetInfo, BackupError> {
        store::find(&self.dir(project), id)
    }

    /// Reads every file of a set against its manifest, and records the result beside it.
    pub async fn verify(&self, project: &str, id: &str, progress: &Sink) -> Result<SetInfo, BackupError> {
        let set = self.find(project, id)?;
        let problem = verify_set(&set, Op::Verify, progress).await.err();
        let check = Check {
            at_unix: store::now_unix(),
            problem,
        };
        let text = serde_json::to_vec_pretty(&check).unwrap_or_default();
        store::write_atomic(&set.path.join(store::CHECK_FILE), &text)?;
        Ok(SetInfo {
            check: Some(check),
            ..set
        })
    }

    /// Whether any service of the stack runs where its data is (a container; on a swarm, a
    /// task meant to run).
    pub async fn runs(&self, project: &Project) -> Result<bool, BackupError> {
        Ok(self.site.containers(project).await?.iter().any(|c| c.running))
    }

    /// Whether a service of the stack has a running container (on a swarm, task).
    pub async fn service_runs(&self, project: &Project, service: &str) -> Result<bool, BackupError> {
        Ok(self.site.running(project, service).await?.is_some())
    }

    /// Refuses, before anything changes, what a restore of `coverage` could not do here: on a
    /// swarm, write a volume whose services are not pinned to one node.
    pub fn check_restorable(&self, project: &Project, coverage: &Coverage) -> Result<(), BackupError> {
        coverage
            .volumes
            .iter()
            .try_for_each(|v| self.site.check_pinned(project, v))
    }

    /// Stops services of the stack in the order given (their containers; on a swarm, each
    /// scaled to 0), so that nothing is written while their data is carried elsewhere.
    /// Refuses services that stopping them cannot stop (on a swarm: a global service, which
    /// cannot be scaled to 0).
    pub fn check_stoppable(&self, project: &Project, services: &[String]) -> Result<(), BackupError> {
        self.site.check_stoppable(project, services)
    }

    pub async fn stop_services(
        &self,
        project: &Project,
        services: &[String],
        progress: &Sink,
    ) -> Result<(), BackupError> {
        self.site.stop(project, services, progress).await
    }

    /// Starts services of the stack again, each waited for until ready (`up`; on a swarm,
    /// those scaled to 0 go back to the replicas their files ask for).
    pub async fn start_services(
        &self,
        project: &Project,
        env: Option<&str>,
        services: &[String],
        progress: &Sink,
    ) -> Result<(), BackupError> {
        let opts = deck_engine::UpOptions {
            env: env.map(str::to_string),
            services: services.to_vec(),
            no_recreate: true,
            ..Default::default()
        };
        self.site.start(project, &opts, progress).await
    }

    /// Deletes one set.
    pub fn delete(&self, project: &str, id: &str) -> Result<(), BackupError> {
        let set = self.find(project, id)?;
        std::fs::remove_dir_all(&set.path).map_err(store::io_err(&set.path))
    }
}

/// Checks every file of a set (size, checksum, content); the first problem found.
async fn verify_set(set: &SetInfo, op: Op, progress: &Sink) -> Result<(), String> {
    let items = set.manifest.items.clone();
    let dir = set.path.clone();
    let reporter = progress.clone();
    tokio::task::spawn_blocking(move || {
        for item in &items {
            let count = reporter.bytes(op, &item.id(), Some(item.size));
            count(0);
            pipe::verify_file(&dir.join(&item.file), item, &mut |n| count(n))?;
            count(item.size);
        }
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The sets in a stack's folder (newest first) and the folders that are not readable sets,
/// without connecting to the engine.
pub fn list_sets(dir: &Path) -> Result<store::Listing, BackupError> {
    store::list(dir)
}

/// One set of a stack's folder (by id, unique prefix or `latest`), without connecting to the
/// engine.
pub fn find_set(dir: &Path, id: &str) -> Result<SetInfo, BackupError> {
    store::find(dir, id)
}

/// The operations a killed run left unfinished in a stack's folder (backups, restores,
/// switches), oldest first, without connecting to the engine.
pub fn interrupted(dir: &Path) -> Vec<Interrupted> {
    interrupted::list(dir)
}

/// A path for messages: the user's home shown as `~`.
pub fn display_path(p: &Path) -> String {
    match std::env::var_os("HOME").map(PathBuf::from) {
        Some(home) if p.starts_with(&home) => format!("~/{}", p.strip_prefix(&home).unwrap_or(p).display()),
        _ => p.display().to_string(),
    }
}
