//! The user's own stacks, added from a folder of compose files, renamed and removed. A stack is
//! added only when each of its environments loads as `docker compose` would load it; one whose
//! containers exist is not removed (they would stay without a stack).

use crate::error::{load_error, Error, Result};
use crate::target::Target;
use crate::view::{summary, StackSummary};
use crate::App;
use deck_error::Code;
use deck_stack::{Detected, NewStack};
use std::path::{Path, PathBuf};

/// The compose files of a folder, and the environments they suggest.
pub fn detect_stack(folder: &Path) -> Result<Detected> {
    Ok(deck_stack::detect(folder)?)
}

/// Adds a stack from a folder: the name, folder and files checked, each environment loaded
/// (its errors with file and line), then its profile written under the user's profiles.
/// Nothing is written when anything is wrong.
pub fn add_stack(new: &NewStack) -> Result<StackSummary> {
    let (path, text) = deck_stack::profile_text(new)?;
    let profile = deck_stack::parse(&text, &path, false)?;
    for env in profile.envs.keys() {
        let opts = profile.load_options(env, None)?;
        deck_compose::load(&opts).map_err(|e| {
            let mut err = load_error(e);
            err.message = format!("the {env} environment does not load: {}", err.message);
            err
        })?;
    }
    deck_stack::write_profile(&path, &text)?;
    Ok(summary(&new.name))
}

/// Refuses while the stack has containers: renamed or removed, they would stay without a stack
/// (a project named after its folder changes name with it). A stack whose files do not load
/// has no project to ask about.
async fn require_down(app: &App, name: &str, what: &str) -> Result<()> {
    // A built-in stack, or a path, is refused before the engine is asked anything.
    deck_stack::own(name)?;
    let Ok(stack) = Target::profile(name, None).load() else {
        return Ok(());
    };
    let containers = app.engine_for(&stack).await?.containers(&stack.project.name).await?;
    if containers.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        Code::Refused,
        format!(
            "{name} still has {} container(s): take it down first (`sirius-deck down`), then {what} it; otherwise they would stay without a stack",
            containers.len()
        ),
    ))
}

/// Renames one of the user's stacks; refused while it has containers.
pub async fn rename_stack(app: &App, name: &str, to: &str) -> Result<StackSummary> {
    require_down(app, name, "rename").await?;
    deck_stack::rename(name, to)?;
    Ok(summary(to))
}

/// Removes one of the user's stacks (its profile file only; its compose files stay). Refused
/// while the stack has containers. Resolves to the profile's folder when it was kept because
/// other files are in it.
pub async fn remove_stack(app: &App, name: &str) -> Result<Option<PathBuf>> {
    require_down(app, name, "remove").await?;
    Ok(deck_stack::remove(name)?)
}
