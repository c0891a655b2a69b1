//! `.env` files with compose's own rules (compose-go `dotenv`), which differ from dotenvy's:
//! `export` prefix, single quotes literal, double quotes with escapes and interpolation,
//! ` #` comments only on unquoted values, a bare `KEY` inheriting from the environment, `$$`.

use crate::interp::{interpolate, InterpError};
use indexmap::IndexMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvError {
    pub line: usize,
    /// The variable being read, when known.
    pub key: Option<String>,
    pub message: String,
}

/// Parses an env file. `lookup` answers for the process environment, which is consulted
/// before the file's own earlier variables when interpolating (as compose-go does).
/// Variables that are referenced but unset are pushed onto `unset`.
pub fn parse_env_file(
    src: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<IndexMap<String, String>, EnvError> {
    let mut vars: IndexMap<String, String> = IndexMap::new();
    let mut total = 0usize;
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut line = 1;

    while i < chars.len() {
        // Start of a line: skip blank space and comments.
        let line_start = line;
        let end = line_end(&chars, i);
        let text: String = chars[i..end].iter().collect();
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i = end + 1;
            line += 1;
            continue;
        }
        let body = trimmed
            .strip_prefix("export ")
            .or_else(|| trimmed.strip_prefix("export\t"))
            .map(str::trim_start)
            .unwrap_or(trimmed);
        let (key, value_start) = match body.find(['=', ':']) {
            Some(p) if body.as_bytes()[p] == b'=' || body[p + 1..].starts_with([' ', '\t']) => {
                (body[..p].trim_end().to_string(), Some(p + 1))
            }
            _ => (body.trim_end().to_string(), None),
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "_.-[]".contains(c)) {
            return Err(EnvError {
                line: line_start,
                key: None,
                message: format!(
                    "'{}' is not a valid variable name: write KEY=VALUE, with letters, digits and '_' in KEY",
                    key.chars().take(40).collect::<String>()
                ),
            });
        }
        let Some(value_start) = value_start else {
            // A bare KEY takes its value from the environment, or is left out.
            if let Some(v) = lookup(&key) {
                vars.insert(key, v);
            }
            i = end + 1;
            line += 1;
            continue;
        };
        // Position of the value in `chars`.
        let offset = text.chars().count() - body.chars().count() + body[..value_start].chars().count();
        let mut j = i + offset;
        while j < end && (chars[j] == ' ' || chars[j] == '\t') {
            j += 1;
        }
        let err = |line, message: String| EnvError {
            line,
            key: Some(key.clone()),
            message,
        };
        let lookup_with_file = |name: &str| lookup(name).or_else(|| vars.get(name).cloned());
        let value = match chars.get(j) {
            Some(&q) if (q == '\'' || q == '"') && j < end => {
                let mut k = j + 1;
                let mut raw = String::new();
                let mut closed = false;
                while k < chars.len() {
                    let c = chars[k];
                    if c == '\n' {
                        line += 1;
                    }
                    if q == '"' && c == '\\' && k + 1 < chars.len() {
                        let n = chars[k + 1];
                        match n {
                            'n' => raw.push('\n'),
                            'r' => raw.push('\r'),
                            't' => raw.push('\t'),
                            '$' => raw.push_str("$$"),
                            '\\' | '"' | '\'' => raw.push(n),
                            _ => {
                                raw.push('\\');
                                raw.push(n);
                            }
                        }
                        k += 2;
                        continue;
                    }
                    if c == q {
                        closed = true;
                        break;
                    }
                    raw.push(c);
                    k += 1;
                }
                if !closed {
                    return Err(err(
                        line_start,
                        format!("the value has an opening {q} but no closing one"),
                    ));
                }
                let after_end = line_end(&chars, k + 1);
                let after: String = chars[k + 1..after_end].iter().collect();
                let after = after.trim();
                if !after.is_empty() && !after.starts_with('#') {
                    return Err(err(
                        line,
                        format!("unexpected text after the closing {q}: put comments after ' #'"),
                    ));
                }
                i = after_end + 1;
                line += 1;
                if q == '\'' {
                    raw
                } else {
                    interpolate(&raw, &lookup_with_file, unset).map_err(|e| interp_err(&key, line_start, e))?
                }
            }
            _ => {
                let rest: String = chars[j..end].iter().collect();
                // An inline comment starts at a '#' preceded by white space.
                let cut = rest
                    .char_indices()
                    .find(|&(p, c)| c == '#' && p > 0 && rest[..p].ends_with([' ', '\t']))
                    .map_or(rest.len(), |(p, _)| p);
                let v = rest[..cut].trim();
                i = end + 1;
                line += 1;
                interpolate(v, &lookup_with_file, unset).map_err(|e| interp_err(&key, line_start, e))?
            }
        };
        total += key.len() + value.len();
        if total > MAX_TOTAL {
            return Err(err(
                line_start,
                format!(
                    "the variables grow past {} MiB after interpolation: does each one refer to the one before it twice?",
                    MAX_TOTAL >> 20
                ),
            ));
        }
        vars.insert(key, value);
    }
    Ok(vars)
}

/// All of a file's variables together, after interpolation, may not be larger than this.
const MAX_TOTAL: usize = 16 << 20;

fn interp_err(key: &str, line: usize, e: InterpError) -> EnvError {
    EnvError {
        line,
        key: Some(key.to_string()),
        message: e.to_string(),
    }
}

fn line_end(chars: &[char], from: usize) -> usize {
    chars[from.min(chars.len())..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> IndexMap<String, String> {
        let lookup = |k: &str| (k == "FROM_SHELL").then(|| "shell".to_string());
        parse_env_file(src, &lookup, &mut Vec::new()).expect("parses")
    }

    fn one(src: &str) -> String {
        parse(src).get("K").cloned().unwrap_or_else(|| "<unset>".into())
    }

    /// Cases from the compose documentation's ".env file syntax" section.
    #[test]
    fn table() {
        let cases: &[(&str, &str)] = &[
            ("K=VAL", "VAL"),
            ("K = VAL ", "VAL"),
            ("export K=VAL", "VAL"),
            ("K=", ""),
            ("K=VAL # comment", "VAL"),
            ("K=VAL#not-a-comment", "VAL#not-a-comment"),
            ("K='VAL # not a comment'", "VAL # not a comment"),
            ("K=\"VAL # not a comment\"", "VAL # not a comment"),
            ("K='$FROM_SHELL'", "$FROM_SHELL"),
            ("K=\"$FROM_SHELL\"", "shell"),
            ("K=$FROM_SHELL", "shell"),
            ("K=${FROM_SHELL}-x", "shell-x"),
            ("K=\"a\\nb\"", "a\nb"),
            ("K='a\\nb'", "a\\nb"),
            ("K=\"a\\\"b\"", "a\"b"),
            ("K=\"\\$FROM_SHELL\"", "$FROM_SHELL"),
            ("K=$$literal", "$literal"),
            ("K=\"multi\nline\"", "multi\nline"),
            ("K=${UNSET:-default}", "default"),
            ("K: VAL", "VAL"),
            ("FROM_SHELL\nK=$FROM_SHELL", "shell"),
            ("A=one\nK=${A}-two", "one-two"),
            ("K=\"quoted\" # comment", "quoted"),
        ];
        for (src, want) in cases {
            assert_eq!(&one(src), want, "source {src:?}");
        }
    }

    #[test]
    fn bare_key_inherits_or_is_left_out() {
        let vars = parse("FROM_SHELL\nNOT_SET\n");
        assert_eq!(vars.get("FROM_SHELL").map(String::as_str), Some("shell"));
        assert!(!vars.contains_key("NOT_SET"));
    }

    #[test]
    fn environment_beats_earlier_file_values_in_interpolation() {
        let vars = parse("FROM_SHELL=file\nK=$FROM_SHELL\n");
        assert_eq!(vars.get("K").map(String::as_str), Some("shell"));
    }

    #[test]
    fn errors_name_the_line() {
        let lookup = |_: &str| None;
        let e = parse_env_file("A=1\n\nB='open\n", &lookup, &mut Vec::new()).expect_err("unclosed");
        assert_eq!(e.line, 3);
        let e = parse_env_file("A=1\nbad key=1\n", &lookup, &mut Vec::new()).expect_err("bad key");
        assert_eq!(e.line, 2);
        let e = parse_env_file("X=${NEED:?set NEED}\n", &lookup, &mut Vec::new()).expect_err("required");
        assert!(e.message.contains("set NEED"));
    }

    #[test]
    fn line_numbers_after_multiline_values() {
        let lookup = |_: &str| None;
        let e = parse_env_file("A=\"x\ny\"\nB='z'junk\n", &lookup, &mut Vec::new()).expect_err("junk");
        assert_eq!(e.line, 3);
    }
}
