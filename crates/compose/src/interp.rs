//! Variable interpolation with compose's own grammar (compose-go `template`).
//!
//! `$$`, `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:?msg}`, `${V?msg}`, `${V:+a}`, `${V+a}`, with
//! defaults, messages and replacements that may themselves contain interpolation.

/// Why a string could not be interpolated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpError {
    /// `${V:?msg}` / `${V?msg}` with V missing: the message written in the file.
    Required { var: String, message: String },
    /// Text that is not a valid template, such as `${}` or `${1}`.
    Invalid { reason: String },
}

impl std::fmt::Display for InterpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpError::Required { var, message } if message.is_empty() => {
                write!(f, "required variable {var} is missing a value")
            }
            InterpError::Required { var, message } => {
                write!(f, "required variable {var} is missing a value: {message}")
            }
            InterpError::Invalid { reason } => write!(f, "invalid interpolation: {reason}"),
        }
    }
}

/// Defaults inside defaults deeper than this are refused (real files nest two or three).
pub const MAX_NESTING: usize = 32;
/// A value longer than this after interpolation is refused.
pub const MAX_VALUE: usize = 1 << 20;

/// Interpolates `s`. Variables that are unset and have no default become empty; their names
/// are pushed onto `unset` so that the caller can warn about them. Errors never quote the text
/// (it may hold a secret).
pub fn interpolate(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpError> {
    nested(s, lookup, unset, 0)
}

fn nested(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    depth: usize,
) -> Result<String, InterpError> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    if depth > MAX_NESTING {
        return Err(InterpError::Invalid {
            reason: format!("defaults nested deeper than {MAX_NESTING} levels"),
        });
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        match after.chars().next() {
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('{') => {
                let body_len = closing_brace(&after[1..]).ok_or_else(|| InterpError::Invalid {
                    reason: format!(
                        "'${{' at character {} has no closing '}}'",
                        s[..s.len() - after.len()].chars().count()
                    ),
                })?;
                let body = &after[1..1 + body_len];
                out.push_str(&braced(body, lookup, unset, depth)?);
                rest = &after[1 + body_len + 1..];
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let len = name_len(after);
                let name = &after[..len];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => unset.push(name.to_string()),
                }
                rest = &after[len..];
            }
            // Anything else (`$1`, `$@`, a lone `$`): kept as written, as compose keeps it.
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if out.len() > MAX_VALUE {
        return Err(InterpError::Invalid {
            reason: format!("the value grows past {} MiB", MAX_VALUE >> 20),
        });
    }
    Ok(out)
}

fn name_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(_, c)| !(c == '_' || c.is_ascii_alphanumeric()))
        .map_or(s.len(), |(i, _)| i)
}

/// The byte length of a braced body, up to its matching `}` (nested `${…}` counted).
fn closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    depth: usize,
) -> Result<String, InterpError> {
    let interpolate = |s: &str, unset: &mut Vec<String>| nested(s, lookup, unset, depth + 1);
    let len = name_len(body);
    let name = &body[..len];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(InterpError::Invalid {
            reason: "'${' is not followed by a variable name".into(),
        });
    }
    let op = &body[len..];
    let value = lookup(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let (operator, word) = [":-", ":?", ":+", "-", "?", "+"]
        .into_iter()
        .find(|o| op.starts_with(o))
        .map(|o| (o, &op[o.len()..]))
        .unwrap_or(("", op));
    match operator {
        "" if word.is_empty() => Ok(value.unwrap_or_else(|| {
            unset.push(name.to_string());
            String::new()
        })),
        "" => Err(InterpError::Invalid {
            reason: format!("unknown operator after '${{{name}' (use :-, -, :?, ?, :+ or +)"),
        }),
        ":-" if non_empty => Ok(value.unwrap_or_default()),
        "-" if set => Ok(value.unwrap_or_default()),
        ":-" | "-" => interpolate(word, unset),
        ":?" if non_empty => Ok(value.unwrap_or_default()),
        "?" if set => Ok(value.unwrap_or_default()),
        ":?" | "?" => Err(InterpError::Required {
            var: name.to_string(),
            message: interpolate(word, unset)?,
        }),
        ":+" if non_empty => interpolate(word, unset),
        "+" if set => interpolate(word, unset),
        _ => Ok(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(s: &str) -> (Result<String, InterpError>, Vec<String>) {
        let env: HashMap<&str, &str> = [("SET", "value"), ("EMPTY", ""), ("NUM", "42")].into();
        let lookup = |k: &str| env.get(k).map(|v| v.to_string());
        let mut unset = Vec::new();
        (interpolate(s, &lookup, &mut unset), unset)
    }

    fn ok(s: &str) -> String {
        run(s).0.expect("interpolates")
    }

    /// Cases from the compose specification's "Interpolation" section.
    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("$SET", "value"),
            ("${SET}", "value"),
            ("a${SET}b", "avalueb"),
            ("$SET.x", "value.x"),
            ("$$SET", "$SET"),
            ("$${SET}", "${SET}"),
            ("${UNSET:-default}", "default"),
            ("${EMPTY:-default}", "default"),
            ("${EMPTY-default}", ""),
            ("${UNSET-default}", "default"),
            ("${SET:-default}", "value"),
            ("${SET:+replaced}", "replaced"),
            ("${EMPTY:+replaced}", ""),
            ("${EMPTY+replaced}", "replaced"),
            ("${UNSET+replaced}", ""),
            ("${UNSET:-${SET}}", "value"),
            ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
            ("${UNSET:-a:b/c}", "a:b/c"),
            ("${UNSET:-http://x:${NUM}/}", "http://x:42/"),
            ("${SET:?must be set}", "value"),
            ("${EMPTY?must be set}", ""),
            ("${UNSET:-}", ""),
            ("100$$", "100$"),
        ];
        for (input, want) in cases {
            assert_eq!(&ok(input), want, "input {input}");
        }
    }

    #[test]
    fn unset_warns_and_becomes_empty() {
        let (r, unset) = run("x${NOPE}y$ALSO");
        assert_eq!(r.expect("ok"), "xy");
        assert_eq!(unset, vec!["NOPE".to_string(), "ALSO".to_string()]);
        let (_, unset) = run("${NOPE:-d}");
        assert!(unset.is_empty());
    }

    #[test]
    fn required_carries_the_message() {
        let (r, _) = run("${UNSET:?UNSET is required. Run the installer}");
        assert_eq!(
            r,
            Err(InterpError::Required {
                var: "UNSET".into(),
                message: "UNSET is required. Run the installer".into()
            })
        );
        assert!(matches!(run("${EMPTY:?x}").0, Err(InterpError::Required { .. })));
        assert!(matches!(run("${UNSET?}").0, Err(InterpError::Required { .. })));
    }

    #[test]
    fn invalid_templates() {
        for bad in ["${", "${}", "${1A}", "${SET!x}", "${SET"] {
            assert!(matches!(run(bad).0, Err(InterpError::Invalid { .. })), "{bad}");
        }
    }

    #[test]
    fn a_dollar_before_anything_else_is_kept() {
        for text in ["$1", "a $ b", "$@", "5$", "$-x"] {
            assert_eq!(run(text).0.as_deref(), Ok(text), "{text}");
        }
    }
}
