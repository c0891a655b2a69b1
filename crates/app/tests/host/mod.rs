//! What the application's tests share: the API as a front end would call it, with no window
//! and no command line, on the real engine and the real lab stack.

#![allow(dead_code)]

use deck_app::{App, Event, Sink, Stack, Target};
use std::path::{Path, PathBuf};

/// The application with its backups kept in `backups`.
pub fn app(backups: &Path) -> App {
    App::new()
        .with_backup_dir(Some(backups.to_path_buf()))
        .expect("a backup folder")
}

/// A fresh folder for a test's backups.
pub fn backups_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sirius-deck-test-app-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The built-in lab profile in `env`.
pub fn lab_stack(env: &str) -> Stack {
    Target::profile("sirius-lab", Some(env))
        .load()
        .expect("the lab profile loads")
}

/// A profile at `path` in `env`.
pub fn profile(path: &Path, env: &str) -> Stack {
    Target::profile(&path.display().to_string(), Some(env))
        .load()
        .expect("the profile loads")
}

/// Runs an action with a sink, and returns its result and every event it reported.
pub async fn with_events<T>(work: impl AsyncFnOnce(&Sink) -> T) -> (T, Vec<Event>) {
    let (sink, mut rx) = Sink::channel();
    let result = work(&sink).await;
    drop(sink);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (result, events)
}

/// The lab stack down with its volumes, then up in `env` with known rows.
pub async fn fresh_lab(app: &App, env: &str) {
    let stack = lab_stack(env);
    deck_app::down(app, &stack, true, &Sink::none()).await.expect("down");
    deck_app::up(app, &stack, Default::default(), &Sink::none())
        .await
        .expect("up");
}
