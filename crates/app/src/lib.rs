//! The one API of Sirius Deck: every user action as one async function, shared by the command
//! line (`crates/cli`) and the window (`src-tauri`), which only map arguments in and results
//! out. An action takes the [`App`] (one connected engine, the settings, the running
//! operation), the [`Stack`] it acts on (profile, loaded files, the environment running) and one
//! progress [`Sink`]; it returns a typed result or an [`Error`] whose [`Code`] the front ends
//! branch on. Every type that crosses to the window is exported to TypeScript from here or
//! from the core type itself (`ui/src/bindings/`).

mod backups;
mod engines;
mod error;
mod files;
mod gauges;
mod interrupted;
mod lifecycle;
mod profiles;
mod switch;
mod target;
mod view;

pub use backups::{
    backup, backups, restore, restore_plan, save_settings, settings, verify, BackupItem, BackupList, BackupSet,
    RestoreRequest, SettingsChange, Verified,
};
pub use deck_backup::{Choice, Interrupted, InterruptedOp, Resolution};
pub use deck_engine::Endpoint;
pub use deck_engine::{EdgeCheck, Event, Op, Phase, Reach, Sink};
pub use deck_error::Code;
pub use deck_stack::{Detected, NewStack};
pub use engines::{engines, EngineInfo};
pub use error::{Error, Result};
pub use files::{stack_files, watch_files, FileWatch};
pub use gauges::Gauges;
pub use interrupted::{interrupted, recover};
pub use lifecycle::{
    build, connectivity, control, create, down, drift, env_value, health, inspect, logs, near_memory_limit, ps, repair,
    tasks, terminal, up, usage, watch, watch_swarm, DownSummary, PsRow, RepairResult, SwarmWatch, TaskRow,
};
pub use profiles::{add_stack, detect_stack, remove_stack, rename_stack};
pub use switch::{switch, switch_plan};
pub use target::{Stack, Target};
pub use view::{stacks, view, Edge, ServiceNode, StackSummary, StackView};

use deck_engine::Engine;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// What lives as long as the program: the engine chosen (a Docker context, else the one the
/// docker CLI would use), connected (pinged and version-negotiated) once on first use, where
/// backups go, and the cancellable operation in flight.
#[derive(Default)]
pub struct App {
    /// The engines connected so far (a few), each for its endpoint as it was resolved.
    engines: Mutex<Vec<Engine>>,
    /// The Docker context chosen (`--context`, the window's engine picker); none: the docker
    /// CLI's own choice.
    context: Mutex<Option<String>>,
    /// A backup folder replacing the configured one (the CLI's `--dir`).
    backup_dir: Option<PathBuf>,
    running: Canceller,
}

/// Cancels the operation in flight from anywhere (a signal handler, a window command).
#[derive(Clone, Default)]
pub struct Canceller(Arc<Mutex<Option<CancellationToken>>>);

impl Canceller {
    /// Cancels the running backup or restore (what it stopped is started again, nothing is
    /// written); nothing running is fine.
    pub fn cancel(&self) {
        if let Ok(slot) = self.0.lock() {
            if let Some(t) = slot.as_ref() {
                t.cancel();
            }
        }
    }
}

impl App {
    pub fn new() -> Self {
        App::default()
    }

    /// Backups go to `dir` instead of the configured folder.
    pub fn with_backup_dir(mut self, dir: Option<PathBuf>) -> Result<Self> {
        if let Some(d) = dir {
            let abs =
                std::path::absolute(&d).map_err(|e| Error::invalid(format!("backup folder {}: {e}", d.display())))?;
            self.backup_dir = Some(abs);
        }
        Ok(self)
    }

    /// Talks to the engine of a Docker context (none: the docker CLI's own choice).
    pub fn with_context(self, context: Option<String>) -> Self {
        self.use_context(context);
        self
    }

    /// Talks to another engine from now on (connected on its first use).
    pub fn use_context(&self, context: Option<String>) {
        if let Ok(mut chosen) = self.context.lock() {
            *chosen = context;
        }
    }

    /// The context chosen (none: the docker CLI's own choice).
    pub fn context(&self) -> Option<String> {
        self.context.lock().ok().and_then(|c| c.clone())
    }

    /// The engine, connected on first use; an unreachable engine is not remembered, so the
    /// next call tries again.
    pub async fn engine(&self) -> Result<Engine> {
        self.connect(self.context()).await
    }

    /// The engine a stack runs on: the one the user chose, else its environment's context
    /// (a swarm's manager), else the docker CLI's own choice.
    pub async fn engine_for(&self, stack: &Stack) -> Result<Engine> {
        self.connect(
            self.context()
                .or_else(|| stack.env_spec().and_then(|e| e.context.clone())),
        )
        .await
    }

    /// The engine an environment runs on in a switch between engines: its own context (a
    /// swarm's manager), else the one the user chose, else the docker CLI's own choice.
    pub async fn engine_of_env(&self, env: Option<&deck_stack::EnvSpec>) -> Result<Engine> {
        self.connect(env.and_then(|e| e.context.clone()).or_else(|| self.context()))
            .await
    }

    /// This machine's engine as the docker CLI chooses it (whatever was chosen for stacks):
    /// where a swarm stack's images are built and copied from.
    pub async fn local_engine(&self) -> Result<Engine> {
        Ok(Engine::connect_to(&deck_engine::endpoint::resolve(None)?).await?)
    }

    /// The engine of a context (none: the docker CLI's choice), resolved anew each time (a
    /// context changed with the docker CLI is followed) and connected once per endpoint. A
    /// connection that fails is not kept, and holds no other caller up.
    async fn connect(&self, wanted: Option<String>) -> Result<Engine> {
        const KEPT: usize = 4;
        let endpoint = deck_engine::endpoint::resolve(wanted.as_deref())?;
        let known = |all: &Vec<Engine>| all.iter().find(|e| e.endpoint() == &endpoint).cloned();
        if let Some(e) = self.engines.lock().ok().and_then(|all| known(&all)) {
            return Ok(e);
        }
        let engine = Engine::connect_to(&endpoint).await?;
        if let Ok(mut all) = self.engines.lock() {
            if let Some(e) = known(&all) {
                return Ok(e);
            }
            if all.len() == KEPT {
                all.remove(0);
            }
            all.push(engine.clone());
        }
        Ok(engine)
    }

    /// The backup settings as saved, with this program's folder override.
    pub fn backup_settings(&self) -> Result<deck_backup::Settings> {
        let mut s = deck_backup::Settings::load()?;
        if let Some(d) = &self.backup_dir {
            s.dir = d.clone();
        }
        Ok(s)
    }

    /// The stack's folder under the backup folder: its sets, and the journals of operations
    /// in progress.
    fn stack_dir(&self, stack: &Stack) -> Result<PathBuf> {
        Ok(self.backup_settings()?.dir.join(&stack.project.name))
    }

    async fn backups_of(&self, stack: &Stack) -> Result<deck_backup::Backups> {
        let engine = self.engine_for(stack).await?;
        let settings = self.backup_settings()?;
        Ok(if stack.swarm() {
            deck_backup::Backups::on_swarm(engine, settings)
        } else {
            deck_backup::Backups::new(engine, settings)
        })
    }

    /// Marks a cancellable operation (backup, restore) as running until the guard is dropped;
    /// one at a time.
    fn start_cancellable(&self) -> Result<Running<'_>> {
        let mut slot = self
            .running
            .0
            .lock()
            .map_err(|_| Error::new(Code::Internal, "state lock poisoned"))?;
        if slot.is_some() {
            return Err(Error::new(
                Code::Busy,
                "a backup or restore is already running; wait for it or cancel it",
            ));
        }
        let token = CancellationToken::new();
        *slot = Some(token.clone());
        Ok(Running { app: self, token })
    }

    /// Cancels the running backup or restore; nothing running is fine.
    pub fn cancel(&self) {
        self.running.cancel();
    }

    pub fn canceller(&self) -> Canceller {
        self.running.clone()
    }
}

struct Running<'a> {
    app: &'a App,
    token: CancellationToken,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.app.running.0.lock() {
            *slot = None;
        }
    }
}
