//! The kind of a failure, attached where the failure happens (in the core crates), so that the
//! front ends branch on it instead of on message text: the CLI maps it to an exit status, the
//! window to what it shows and offers.

use serde::Serialize;
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Code {
    /// Bad input (files, profile, arguments, settings): nothing was changed.
    Invalid,
    /// The Docker engine cannot be reached (not running, wrong `DOCKER_HOST`, no permission).
    EngineUnreachable,
    /// Refused before anything changed: a preflight check, a confirmation not given, a set
    /// that does not belong to the stack.
    Refused,
    /// Another operation on the same stack holds it.
    Busy,
    /// Stopped on request; what it stopped was started again.
    Cancelled,
    /// The operation failed; what it changed was rolled back (the message says to what).
    RolledBack,
    /// The operation failed, and left things as the message says.
    Failed,
    /// Done, but a container does not run what its environment asks for.
    Drift,
    /// A bug or an unexpected condition of this program.
    Internal,
}

/// Errors that know their code.
pub trait Coded {
    fn code(&self) -> Code;
}
