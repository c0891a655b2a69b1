//! Errors and warnings that point at a file, a line and a key.

use crate::yaml::Mark;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the user's files. Messages never contain the values of variables, so
/// that a diagnostic can be shown anywhere without leaking a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Diagnostic {
    pub severity: Severity,
    #[ts(type = "string | null")]
    pub file: Option<PathBuf>,
    #[ts(type = "number | null")]
    pub line: Option<usize>,
    /// Dotted path of the key, e.g. `services.sirius-ui.depends_on`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: ")?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}", self.message)
    }
}

/// Collects findings while loading, so that every error is reported in one run.
#[derive(Debug, Default)]
pub struct Diags {
    pub files: Vec<PathBuf>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Diags {
    fn make(&self, severity: Severity, mark: Option<Mark>, key: &str, message: String) -> Diagnostic {
        Diagnostic {
            severity,
            file: mark.and_then(|m| self.files.get(m.file).cloned()),
            line: mark.map(|m| m.line),
            key: key.to_string(),
            message,
        }
    }

    pub fn error(&mut self, mark: Mark, key: &str, message: impl Into<String>) {
        let d = self.make(Severity::Error, Some(mark), key, message.into());
        self.errors.push(d);
    }

    pub fn warn(&mut self, mark: Mark, key: &str, message: impl Into<String>) {
        let d = self.make(Severity::Warning, Some(mark), key, message.into());
        self.warnings.push(d);
    }

    /// Orders findings by file (in load order) and line, for reading.
    pub fn sort(&mut self) {
        let files = &self.files;
        let order = |d: &Diagnostic| {
            let f = d
                .file
                .as_ref()
                .and_then(|f| files.iter().position(|x| x == f))
                .unwrap_or(usize::MAX);
            (f, d.line.unwrap_or(0))
        };
        self.errors.sort_by_key(order);
        self.warnings.sort_by_key(order);
    }

    /// An error about a file as a whole, or about no file at all.
    pub fn error_in(&mut self, file: Option<&Path>, line: Option<usize>, key: &str, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            severity: Severity::Error,
            file: file.map(Path::to_path_buf),
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }

    pub fn warn_in(&mut self, file: Option<&Path>, line: Option<usize>, key: &str, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            severity: Severity::Warning,
            file: file.map(Path::to_path_buf),
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }
}

/// Loading failed: every error found, and the warnings found on the way.
#[derive(Debug, thiserror::Error)]
#[error("{} error(s) in the compose files:\n{}", errors.len(), errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
pub struct LoadError {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}
