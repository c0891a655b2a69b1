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

/// One redaction layer for every output of the program: the secret values of the stacks it has
/// loaded (registered by the loader) are replaced by a mask wherever they would be shown, in
/// progress events, errors, logs at every level, notifications, and the CLI's text and JSON.
pub mod redact {
    use std::borrow::Cow;
    use std::sync::RwLock;

    pub const MASK: &str = "********";

    static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

    /// Adds secret values (shorter than 4 characters are ignored: they would mask ordinary
    /// text).
    pub fn register(values: impl IntoIterator<Item = String>) {
        let Ok(mut known) = SECRETS.write() else { return };
        for v in values {
            let v = v.trim().to_string();
            if v.chars().count() >= 4 && !known.contains(&v) {
                known.push(v);
            }
        }
        // The longest first, so that a secret containing another is masked whole.
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// The text with every registered secret masked.
    pub fn text(s: &str) -> Cow<'_, str> {
        let Ok(known) = SECRETS.read() else {
            return Cow::Borrowed(s);
        };
        if !known.iter().any(|k| s.contains(k.as_str())) {
            return Cow::Borrowed(s);
        }
        let mut out = s.to_string();
        for k in known.iter() {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn registered_secrets_are_masked_longest_first() {
            super::register([
                "s3cret-value".to_string(),
                "s3cret-value-longer".to_string(),
                "ab".into(),
            ]);
            assert_eq!(super::text("x s3cret-value-longer y"), "x ******** y");
            assert_eq!(super::text("pw=s3cret-value"), "pw=********");
            assert_eq!(super::text("ab is too short to mask"), "ab is too short to mask");
        }
    }
}
