//! Backup sets of a stack's data, taken and restored through the Docker Engine: a `pg_dump` of
//! each PostgreSQL service (run in its own container, with its own credentials) and a tar of
//! each named volume (read through the archive API), compressed with zstd, listed in a manifest
//! with each file's size and SHA-256. A set exists only once complete and verified; a restore
//! verifies first, takes a safety set, and rolls back to it when it fails.

mod create;
mod docker;
mod manifest;
mod pipe;
mod plan;
mod restore;
mod settings;
mod store;

pub use manifest::{Item, ItemKind, Kind, Manifest};
pub use plan::{coverage, Coverage, Database, Volume};
pub use restore::RestoreOptions;
pub use settings::Settings;
pub use store::{Check, Listing, SetInfo};

use deck_compose::Project;
use deck_engine::Engine;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::UnboundedSender;

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
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
    #[error("the restore failed and was undone: the data is as it was before (safety set {safety}). Why it failed: {reason}")]
    RolledBack { reason: String, safety: String },
    #[error("the restore failed ({reason}) and undoing it failed too ({rollback}). The data from before the restore is in safety set {safety}: run `sirius-deck restore {safety}` once the cause is fixed")]
    RollbackFailed {
        reason: String,
        rollback: String,
        safety: String,
    },
}

/// What a backup, verification or restore is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Backup,
    Safety,
    Verify,
    Restore,
    Rollback,
}

/// One item of the work ahead.
#[derive(Clone, Debug, Serialize)]
pub struct Planned {
    /// `db:<service>` or `volume:<key>`.
    pub item: String,
    pub description: String,
    /// Bytes expected (for a backup, the engine's estimate), when known.
    pub total: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// The work ahead.
    Plan {
        op: Op,
        set: String,
        items: Vec<Planned>,
    },
    /// Bytes of one item done so far (at most every few MiB, and at the end).
    Bytes {
        op: Op,
        item: String,
        done: u64,
        total: Option<u64>,
    },
    /// One item finished: bytes before and after compression.
    ItemDone {
        op: Op,
        item: String,
        raw: u64,
        stored: u64,
    },
    /// A service stopped, paused, started, became ready...
    Service {
        service: String,
        phase: String,
        detail: Option<String>,
    },
    Step {
        message: String,
    },
    Done {
        op: Op,
        set: String,
        elapsed_ms: u64,
    },
}

/// Where progress goes; nobody listening is fine.
#[derive(Clone, Default)]
pub struct Reporter(Option<UnboundedSender<Progress>>);

impl Reporter {
    pub fn new(tx: Option<UnboundedSender<Progress>>) -> Self {
        Reporter(tx)
    }

    pub fn send(&self, p: Progress) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(p);
        }
    }

    pub fn step(&self, message: impl Into<String>) {
        self.send(Progress::Step {
            message: message.into(),
        });
    }

    pub fn service(&self, service: &str, phase: &str, detail: Option<String>) {
        self.send(Progress::Service {
            service: service.into(),
            phase: phase.into(),
            detail,
        });
    }

    /// A byte counter for one item that reports every 4 MiB and when asked to flush.
    pub fn bytes(&self, op: Op, item: &str, total: Option<u64>) -> impl Fn(u64) + Send + Sync + 'static {
        let me = self.clone();
        let item = item.to_string();
        let last = std::sync::atomic::AtomicU64::new(0);
        move |done| {
            let prev = last.load(std::sync::atomic::Ordering::Relaxed);
            if done < prev + (4 << 20) && Some(done) != total && done != 0 {
                return;
            }
            last.store(done, std::sync::atomic::Ordering::Relaxed);
            me.send(Progress::Bytes {
                op,
                item: item.clone(),
                done,
                total,
            });
        }
    }

    /// Forwards the engine's events while it starts services.
    pub fn engine_events(&self) -> (UnboundedSender<deck_engine::Event>, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let me = self.clone();
        let task = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                match e {
                    deck_engine::Event::Service {
                        service, phase, detail, ..
                    } => me.service(&service, &phase.to_string(), detail),
                    deck_engine::Event::Failure(r) => me.step(r.to_string()),
                    _ => {}
                }
            }
        });
        (tx, task)
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

/// Backups of stacks on one engine, with the user's settings.
pub struct Backups {
    engine: Engine,
    settings: Settings,
}

impl Backups {
    pub fn new(engine: Engine, settings: Settings) -> Self {
        Backups { engine, settings }
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
    pub async fn verify(&self, project: &str, id: &str, progress: &Reporter) -> Result<SetInfo, BackupError> {
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

    /// Deletes one set.
    pub fn delete(&self, project: &str, id: &str) -> Result<(), BackupError> {
        let set = self.find(project, id)?;
        std::fs::remove_dir_all(&set.path).map_err(store::io_err(&set.path))
    }
}

/// Checks every file of a set (size, checksum, content); the first problem found.
async fn verify_set(set: &SetInfo, op: Op, progress: &Reporter) -> Result<(), String> {
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

/// The ids of interrupted backups left in a stack's folder.
pub fn interrupted_sets(dir: &Path) -> Vec<String> {
    create::interrupted(dir)
}

/// A path for messages: the user's home shown as `~`.
pub fn display_path(p: &Path) -> String {
    match std::env::var_os("HOME").map(PathBuf::from) {
        Some(home) if p.starts_with(&home) => format!("~/{}", p.strip_prefix(&home).unwrap_or(p).display()),
        _ => p.display().to_string(),
    }
}
