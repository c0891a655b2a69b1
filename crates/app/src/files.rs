//! A stack's own files, followed: its profile, its compose files and env files (the project's
//! `.env` when none is named). Editors save by writing in place or by replacing the file, so
//! the folders holding them are watched and their events kept only for these files.

use crate::error::{Error, Result};
use crate::target::Target;
use deck_error::Code;
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Changes closer together than this are one change (an editor's save is several events).
const SETTLE: Duration = Duration::from_millis(100);

/// The files a stack is loaded from, whether they exist or not (one may be added back).
pub fn stack_files(target: &Target) -> Result<BTreeSet<PathBuf>> {
    let mut files: BTreeSet<PathBuf> = target.files.iter().chain(&target.env_files).cloned().collect();
    if let Some(profile) = target.find_profile()? {
        files.insert(profile.path.clone());
        let env = target.env.clone().unwrap_or_else(|| profile.default_env.clone());
        if let Ok(opts) = profile.load_options(&env, target.project_dir.as_deref()) {
            files.extend(opts.files);
            if opts.env_files.is_empty() {
                files.extend(opts.project_dir.map(|d| d.join(".env")));
            }
            files.extend(opts.env_files);
        }
    }
    Ok(files
        .into_iter()
        .map(|f| std::path::absolute(&f).unwrap_or(f))
        .collect())
}

/// Follows a stack's files until dropped: one message per change, once the change settles.
pub struct FileWatch {
    _watcher: notify::RecommendedWatcher,
    changes: mpsc::Receiver<()>,
}

impl FileWatch {
    /// Waits for the next change of the files (a burst of events counts once).
    pub async fn changed(&mut self) -> Option<()> {
        self.changes.recv().await?;
        // Quiet for SETTLE: the save is complete.
        while let Ok(Some(())) = tokio::time::timeout(SETTLE, self.changes.recv()).await {}
        Some(())
    }
}

/// Starts following the files of `target`.
pub fn watch_files(target: &Target) -> Result<FileWatch> {
    let files = stack_files(target)?;
    let folders: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(PathBuf::from)).collect();
    let (tx, changes) = mpsc::channel(16);
    let wanted = files.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        if event.paths.iter().any(|p| wanted.contains(p)) {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| Error::new(Code::Internal, format!("cannot follow the stack's files: {e}")))?;
    for folder in folders.iter().filter(|f| f.is_dir()) {
        watcher
            .watch(folder, RecursiveMode::NonRecursive)
            .map_err(|e| Error::new(Code::Internal, format!("cannot follow {}: {e}", folder.display())))?;
    }
    Ok(FileWatch {
        _watcher: watcher,
        changes,
    })
}
