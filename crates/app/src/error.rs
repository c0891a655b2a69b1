//! The one error of the API: the code the core attached, the message for a person, and the
//! diagnostics (file, line, key) when the user's files are at fault.

use deck_compose::Diagnostic;
use deck_error::{Code, Coded};
use serde::Serialize;
use std::fmt;
use ts_rs::TS;

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export, rename = "ApiError")]
pub struct Error {
    pub code: Code,
    pub message: String,
    /// What is wrong in the files, each with its file, line and key (empty unless the files
    /// are at fault).
    pub diagnostics: Vec<Diagnostic>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: deck_error::redact::text(&message.into()).into_owned(),
            diagnostics: Vec::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(Code::Invalid, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every core error carries its code.
impl<E: Coded + fmt::Display> From<E> for Error {
    fn from(e: E) -> Self {
        Error::new(e.code(), e.to_string())
    }
}

/// Files that do not load: every error, with file and line.
pub fn load_error(e: deck_compose::LoadError) -> Error {
    let mut err = Error::invalid(format!(
        "{} error(s) in the compose files: nothing was changed. Fix what is named and try again.",
        e.errors.len()
    ));
    err.diagnostics = e.errors.into_iter().chain(e.warnings).collect();
    err
}
