//! The window's commands: each one line over the application API (`deck-app`), plus what only
//! a window has (the remembered stack, notification choices, log streams by id).

use crate::live::{self, Shell};
use crate::terminals::TermOutput;
use deck_app::{
    App, BackupList, BackupSet, Detected, DownSummary, EngineInfo, Error, Event, InterruptedOp, NewStack, RepairResult,
    Resolution, RestoreRequest, SettingsChange, Sink, Stack, StackSummary, StackView, Target,
};
use deck_backup::{RestoreSummary, Settings};
use deck_engine::{
    Action, EdgeCheck, HealthCheck, Inspection, LogLine, PlannedChange, ServiceDrift, TermSize, UpOptions, UpSummary,
};
use deck_switch::{SwitchOptions, SwitchSummary};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use ts_rs::TS;

/// The stacks, and the one to open: the last used, or the default.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Stacks {
    pub stacks: Vec<StackSummary>,
    pub open_stack: String,
    pub open_env: String,
    /// The window's theme, as chosen last.
    pub theme: live::Theme,
}

/// An opened stack: its planned diagram, and whether its incidents raise notifications.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct OpenedStack {
    pub view: StackView,
    pub notifications: bool,
    /// The engine (Docker context) the stack is watched on: the one chosen for it last, else
    /// the docker CLI's own choice.
    pub engine: String,
}

/// The window names stacks by their profile's name only, never by a path: what it can start is
/// what the user put in the profiles folder (or what is built in).
fn target(stack: &str, env: &str) -> Result<Target, Error> {
    known(stack)?;
    Ok(Target::profile(stack, Some(env)))
}

fn known(stack: &str) -> Result<(), Error> {
    if !deck_stack::available().iter().any(|s| s == stack) {
        return Err(Error::invalid(format!(
            "'{stack}' is not the name of a stack profile: choose one from the list"
        )));
    }
    Ok(())
}

fn load(stack: &str, env: &str) -> Result<Stack, Error> {
    target(stack, env)?.load()
}

/// Runs an action with its progress streamed to the window over `channel`.
async fn streamed<T>(channel: Channel<Event>, work: impl AsyncFnOnce(&Sink) -> Result<T, Error>) -> Result<T, Error> {
    let (sink, mut rx) = Sink::channel();
    let forward = tauri::async_runtime::spawn(async move {
        while let Some(e) = rx.recv().await {
            tracing::debug!(event = ?e, "progress");
            let _ = channel.send(e);
        }
    });
    let result = work(&sink).await;
    drop(sink);
    let _ = forward.await;
    result
}

/// Where one of the system's dialogs sends what the user chose (nothing: it was closed).
type Chosen = tokio::sync::oneshot::Sender<Option<tauri_plugin_dialog::FilePath>>;

/// Opens a dialog of the system's (`ask` opens it, told where to send the choice) and waits:
/// the path chosen, or nothing when the dialog was closed.
async fn chosen(what: &str, ask: impl FnOnce(Chosen)) -> Result<Option<std::path::PathBuf>, Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    ask(tx);
    let Some(picked) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    picked
        .into_path()
        .map(Some)
        .map_err(|e| Error::invalid(format!("the {what} chosen cannot be used: {e}")))
}

fn app<'a>(shell: &'a State<'_, Shell>) -> &'a App {
    &shell.app
}

commands! {
    async fn list_stacks(handle: AppHandle;;) -> Stacks {
        let stacks = deck_app::stacks();
        let (open_stack, open_env) = live::remembered(&handle, &stacks);
        Ok(Stacks { stacks, open_stack, open_env, theme: live::theme(&handle) })
    }

    /// Keeps the window's theme for the next launch.
    async fn set_theme(handle: AppHandle; theme: live::Theme;) -> () {
        live::set_theme(&handle, theme)
    }

    /// Opens a stack: its planned diagram, and (when its files load) the live watch of it.
    async fn open_stack(handle: AppHandle, shell: State<'_, Shell>; stack: String, env: String;) -> OpenedStack {
        let (view, loaded) = deck_app::view(&target(&stack, &env)?)?;
        shell.app.use_context(live::stack_engine(&handle, &stack));
        let engine = match shell.app.context() {
            Some(e) => e,
            None => deck_engine::endpoint::resolve(None)?.name,
        };
        live::remember(&handle, &stack, &env);
        // Files first: a reload of the stack open before can no longer replace this watch.
        shell.follow_files(&handle, &stack, &env);
        shell.watch(&handle, &stack, loaded);
        Ok(OpenedStack { view, notifications: shell.notifications(&handle, &stack), engine })
    }

    /// The Docker engines to choose from (the docker CLI's contexts), each asked whether it
    /// answers (5 s at most).
    async fn engines_list(shell: State<'_, Shell>;;) -> Vec<EngineInfo> {
        Ok(deck_app::engines(app(&shell)).await)
    }

    /// Chooses the engine of a stack (a Docker context), remembered for it; the page opens the
    /// stack again to watch it there.
    async fn engine_choose(handle: AppHandle, shell: State<'_, Shell>; stack: String, engine: String;) -> () {
        known(&stack)?;
        deck_engine::endpoint::resolve(Some(&engine))?;
        live::remember_engine(&handle, &stack, &engine)?;
        shell.app.use_context(Some(engine));
        Ok(())
    }

    /// Asks the user for a folder of compose files in the system's own dialog; resolves to the
    /// files found there and the environments they suggest (nothing when the dialog was
    /// closed). The folder is kept for `stack_add`: the page never names a folder itself.
    async fn stack_folder_choose(handle: AppHandle, shell: State<'_, Shell>;;) -> Option<Detected> {
        use tauri_plugin_dialog::DialogExt;
        let ask = |tx: Chosen| {
            handle
                .dialog()
                .file()
                .set_title("The folder of the stack's compose files")
                .set_directory(std::env::var_os("HOME").map_or_else(|| "/".into(), std::path::PathBuf::from))
                .pick_folder(move |picked| {
                    let _ = tx.send(picked);
                })
        };
        let Some(folder) = chosen("folder", ask).await? else {
            return Ok(None);
        };
        let detected = deck_app::detect_stack(&folder)?;
        shell.choose_folder(folder);
        Ok(Some(detected))
    }

    /// Adds the stack of the folder chosen last (`stack_folder_choose`): its name, each
    /// environment's compose files, the one opened first. Checked and loaded before anything
    /// is written.
    async fn stack_add(shell: State<'_, Shell>; name: String, envs: std::collections::BTreeMap<String, Vec<String>>, default_env: String;) -> StackSummary {
        let Some(folder) = shell.chosen_folder() else {
            return Err(Error::invalid("choose the stack's folder first (Add a stack…)"));
        };
        let new = NewStack { name, folder: folder.display().to_string(), envs, default_env };
        deck_app::add_stack(&new)
    }

    /// Renames one of the user's stacks (refused while it has containers).
    async fn stack_rename(shell: State<'_, Shell>; stack: String, to: String;) -> StackSummary {
        deck_app::rename_stack(app(&shell), &stack, &to).await
    }

    /// Removes one of the user's stacks (its profile file; its compose files stay); resolves to
    /// the profile's folder when it was kept because other files are in it.
    async fn stack_remove(shell: State<'_, Shell>; stack: String;) -> Option<String> {
        let kept = deck_app::remove_stack(app(&shell), &stack).await?;
        Ok(kept.map(|k| k.display().to_string()))
    }

    /// Opens one of the stack's own files (a compose file, its .env, its profile) in the
    /// user's editor, at `line` where the editor takes one.
    async fn open_file(; stack: String, env: String, file: String, line: Option<u32>;) -> () {
        let file = std::path::absolute(&file).unwrap_or_else(|_| file.into());
        if !deck_app::stack_files(&target(&stack, &env)?)?.contains(&file) {
            return Err(Error::invalid(format!("{} is not a file of the stack {stack}", file.display())));
        }
        live::open_in_editor(&file, line)
    }

    async fn stack_up(shell: State<'_, Shell>; stack: String, env: String; on_event: Event) -> UpSummary {
        let s = load(&stack, &env)?;
        streamed(on_event, async |sink| deck_app::up(app(&shell), &s, UpOptions::default(), sink).await).await
    }

    async fn stack_down(shell: State<'_, Shell>; stack: String, env: String; on_event: Event) -> DownSummary {
        let s = load(&stack, &env)?;
        streamed(on_event, async |sink| deck_app::down(app(&shell), &s, false, sink).await).await
    }

    async fn service_control(shell: State<'_, Shell>; stack: String, env: String, service: String, action: Action;) -> () {
        deck_app::control(app(&shell), &load(&stack, &env)?, &service, action).await
    }

    async fn service_health(shell: State<'_, Shell>; stack: String, env: String, service: String;) -> Vec<HealthCheck> {
        deck_app::health(app(&shell), &load(&stack, &env)?, &service).await
    }

    async fn set_notifications(handle: AppHandle, shell: State<'_, Shell>; stack: String, enabled: bool;) -> () {
        shell.set_notifications(&handle, &stack, enabled)
    }

    /// Whether each service (or `service` alone) reaches what it depends on, asked from inside it.
    async fn stack_connectivity(shell: State<'_, Shell>; stack: String, env: String, service: Option<String>;) -> Vec<EdgeCheck> {
        deck_app::connectivity(app(&shell), &load(&stack, &env)?, service.as_deref()).await
    }

    /// What each of a service's containers runs (secret values masked).
    async fn service_inspect(shell: State<'_, Shell>; stack: String, env: String, service: String;) -> Vec<Inspection> {
        deck_app::inspect(app(&shell), &load(&stack, &env)?, &service).await
    }

    /// The value of one masked variable of a container of the stack (the person clicked Show).
    async fn env_reveal(shell: State<'_, Shell>; stack: String, env: String, container: String, name: String;) -> String {
        deck_app::env_value(app(&shell), &load(&stack, &env)?, &container, &name).await
    }

    /// Streams the logs of `services` (all when empty); resolves to the stream's id for `logs_stop`.
    async fn logs_follow(shell: State<'_, Shell>; stack: String, env: String, services: Vec<String>, tail: Option<u32>; on_line: LogLine) -> u32 {
        let s = load(&stack, &env)?;
        let lines = deck_app::logs(app(&shell), &s, &services, true, Some(tail.unwrap_or(1000) as usize)).await?;
        shell.follow_logs(lines, on_line)
    }

    async fn logs_stop(shell: State<'_, Shell>; id: u32;) -> () {
        shell.stop_logs(id);
        Ok(())
    }

    /// Saves log lines (what the log view shows) to a file the user chooses in the system's
    /// dialog; resolves to its path, or nothing when the dialog was closed.
    async fn logs_export(handle: AppHandle; text: String, suggested_name: String;) -> Option<String> {
        use tauri_plugin_dialog::DialogExt;
        let ask = |tx: Chosen| {
            handle
                .dialog()
                .file()
                .set_title("Save the log lines shown")
                .set_file_name(&suggested_name)
                .add_filter("Log", &["log", "txt"])
                .save_file(move |picked| {
                    let _ = tx.send(picked);
                })
        };
        let Some(path) = chosen("file", ask).await? else {
            return Ok(None);
        };
        std::fs::write(&path, text)
            .map_err(|e| Error::invalid(format!("cannot write {}: {e}; choose another folder", path.display())))?;
        Ok(Some(path.display().to_string()))
    }

    /// Opens a shell (with a TTY of `size`) in the service's running container; its output
    /// streams over `on_output`. Resolves to the shell's id for input, resize and close.
    async fn terminal_open(shell: State<'_, Shell>; stack: String, env: String, service: String, size: TermSize; on_output: TermOutput) -> u32 {
        let s = load(&stack, &env)?;
        let (terminal, output) = deck_app::terminal(app(&shell), &s, &service, size).await?;
        shell.terminals.add(terminal, output, on_output)
    }

    /// Types into an open shell.
    async fn terminal_input(shell: State<'_, Shell>; id: u32, data: String;) -> () {
        shell.terminals.input(id, &data).await
    }

    async fn terminal_resize(shell: State<'_, Shell>; id: u32, size: TermSize;) -> () {
        shell.terminals.resize(id, size).await
    }

    /// Ends a shell (its panel was closed).
    async fn terminal_close(shell: State<'_, Shell>; id: u32;) -> () {
        shell.terminals.close(id).await;
        Ok(())
    }

    async fn backups_list(shell: State<'_, Shell>; stack: String, env: String;) -> BackupList {
        deck_app::backups(app(&shell), &load(&stack, &env)?)
    }

    async fn backup_create(shell: State<'_, Shell>; stack: String, env: String; on_event: Event) -> BackupSet {
        let s = load(&stack, &env)?;
        streamed(on_event, async |sink| deck_app::backup(app(&shell), &s, &[], sink).await).await
    }

    /// Stops the running backup or restore (what it stopped runs again, nothing is written).
    async fn backup_cancel(shell: State<'_, Shell>;;) -> () {
        app(&shell).cancel();
        Ok(())
    }

    async fn backup_verify(shell: State<'_, Shell>; stack: String, env: String, id: String; on_event: Event) -> BackupSet {
        let s = load(&stack, &env)?;
        streamed(on_event, async |sink| deck_app::verify(app(&shell), &s, &id, sink).await).await
    }

    async fn backup_restore(shell: State<'_, Shell>; stack: String, env: String, request: RestoreRequest; on_event: Event) -> RestoreSummary {
        let s = load(&stack, &env)?;
        streamed(on_event, async |sink| deck_app::restore(app(&shell), &s, &request, sink).await).await
    }

    /// Settles an operation a killed run left unfinished, as the user chose; resolves to what
    /// was done, in words.
    async fn interrupted_resolve(shell: State<'_, Shell>; stack: String, env: String, op: InterruptedOp, resolution: Resolution; on_event: Event) -> String {
        let s = load(&stack, &env)?;
        streamed(on_event, async |sink| deck_app::recover(app(&shell), &s, op, resolution, sink).await).await
    }

    /// Saves the backup settings but the folder: the window sets that only through the
    /// system's own dialog (`backup_folder_choose`), never from a path the page gives.
    async fn backup_settings_save(;change: SettingsChange;) -> Settings {
        if change.dir.is_some() {
            return Err(Error::invalid("the backup folder is chosen with Choose…, in the system's own dialog"));
        }
        deck_app::save_settings(&change)
    }

    /// Asks the user for the backup folder in the system's own dialog, opened at the current
    /// one; saves the choice. Resolves to the saved settings, or nothing when the dialog was
    /// closed.
    async fn backup_folder_choose(handle: AppHandle, shell: State<'_, Shell>;;) -> Option<Settings> {
        use tauri_plugin_dialog::DialogExt;
        let current = deck_app::settings(app(&shell))?.dir;
        let ask = |tx: Chosen| {
            handle
                .dialog()
                .file()
                .set_title("Where Sirius Deck keeps backups")
                .set_directory(&current)
                .pick_folder(move |picked| {
                    let _ = tx.send(picked);
                })
        };
        let Some(dir) = chosen("folder", ask).await? else {
            return Ok(None);
        };
        let change = SettingsChange {
            dir: Some(dir.display().to_string()),
            ..Default::default()
        };
        deck_app::save_settings(&change).map(Some)
    }

    async fn stack_switch(shell: State<'_, Shell>; stack: String, to: String, options: SwitchOptions; on_event: Event) -> SwitchSummary {
        let s = target(&stack, &to)?.load()?;
        streamed(on_event, async |sink| deck_app::switch(app(&shell), &s, &to, &options, sink).await).await
    }

    /// What a switch to `to` would do to each service (kept running, recreated, created,
    /// removed), changing nothing.
    async fn stack_switch_plan(shell: State<'_, Shell>; stack: String, to: String, options: SwitchOptions;) -> Vec<PlannedChange> {
        let s = target(&stack, &to)?.load()?;
        deck_app::switch_plan(app(&shell), &s, &to, &options).await
    }

    /// Whether each service runs what environment `env` asks for.
    async fn stack_drift(shell: State<'_, Shell>; stack: String, env: String;) -> Vec<ServiceDrift> {
        deck_app::drift(app(&shell), &load(&stack, &env)?).await
    }

    /// What the window shows: whether it is visible at all, and the service shown in detail.
    /// Nothing is sampled or sent to a hidden window; it gets the state when shown again.
    async fn window_shows(shell: State<'_, Shell>; visible: bool, detailed: Option<String>;) -> () {
        shell.set_screen(live::OnScreen { visible, detailed });
        Ok(())
    }

    /// The page drew its first diagram: the launch time is logged and printed, once.
    async fn window_drawn(; page: live::PageStart;) -> () {
        live::drawn(&page);
        Ok(())
    }

    /// Rebuilds (when its target is wrong) and recreates a drifted service.
    async fn service_repair(shell: State<'_, Shell>; stack: String, env: String, service: String; on_event: Event) -> RepairResult {
        let s = load(&stack, &env)?;
        streamed(on_event, async |sink| deck_app::repair(app(&shell), &s, &service, false, sink).await).await
    }
}
