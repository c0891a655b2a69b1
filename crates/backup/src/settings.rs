//! Where backup sets go and how many are kept: `~/.config/sirius-deck/backup.toml`, shared by
//! the CLI and the window. `SIRIUS_DECK_BACKUP_DIR` overrides the directory.

use crate::BackupError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
#[ts(export, rename = "BackupSettings")]
pub struct Settings {
    /// Where backup sets are written, one folder per stack.
    #[ts(type = "string")]
    pub dir: PathBuf,
    /// How many of a stack's own backup sets to keep (the newest); at least 1.
    pub keep: usize,
    /// Also delete sets older than this many days; the newest set is always kept.
    pub max_age_days: Option<u32>,
    /// How many safety sets (taken before a restore or a switch) to keep per stack.
    pub keep_safety: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dir: deck_stack::data_dir().join("backups"),
            keep: 10,
            max_age_days: None,
            keep_safety: 3,
        }
    }
}

impl Settings {
    /// The settings file.
    pub fn path() -> PathBuf {
        deck_stack::user_dir()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
            .join("backup.toml")
    }

    /// The saved settings (defaults when there are none), with `SIRIUS_DECK_BACKUP_DIR` applied.
    pub fn load() -> Result<Settings, BackupError> {
        let path = Self::path();
        let mut s = match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|e| BackupError::Invalid(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(source) => return Err(BackupError::Io { path, source }),
        };
        if let Some(dir) = std::env::var_os("SIRIUS_DECK_BACKUP_DIR").filter(|d| !d.is_empty()) {
            s.dir = PathBuf::from(dir);
        }
        Ok(s)
    }

    pub fn parse(text: &str) -> Result<Settings, String> {
        let s: Settings = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(1, |sp| text[..sp.start.min(text.len())].matches('\n').count() + 1);
            format!("line {line}: {}", e.message())
        })?;
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.dir.is_absolute() {
            return Err(format!("dir must be an absolute path, not '{}'", self.dir.display()));
        }
        if self.keep == 0 {
            return Err("keep must be at least 1 (the newest set is always kept)".into());
        }
        if self.max_age_days == Some(0) {
            return Err("max_age_days must be at least 1, or left out for no age limit".into());
        }
        Ok(())
    }

    /// Validates and writes the settings (to a temporary file, then renamed).
    pub fn save(&self) -> Result<(), BackupError> {
        self.validate().map_err(BackupError::Invalid)?;
        let path = Self::path();
        let text = toml::to_string_pretty(self).map_err(|e| BackupError::Invalid(e.to_string()))?;
        crate::store::write_atomic(&path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_say_what_to_fix() {
        assert!(Settings::parse("dir = \"relative\"\n")
            .expect_err("an error")
            .contains("absolute"));
        assert!(Settings::parse("dir = \"/b\"\nkeep = 0\n")
            .expect_err("an error")
            .contains("keep"));
        assert!(Settings::parse("dir = \"/b\"\nkept = 3\n")
            .expect_err("an error")
            .contains("line 2"));
        let s = Settings::parse("dir = \"/b\"\nmax_age_days = 30\n").expect("valid");
        assert_eq!((s.keep, s.max_age_days), (10, Some(30)));
    }
}
