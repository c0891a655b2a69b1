//! The compose specification's own JSON schema (the copy in compose-go v2.4.8, the version
//! inside Docker Compose 2.26 as Debian ships it), applied to the merged files as compose
//! applies it: a key the schema does not know, a value of the wrong type, a `null` where a
//! value is needed, an unknown `pull_policy`, a duplicate in `security_opt`, a `depends_on`
//! entry without `condition` ... are refused, each with its file, line and key, before
//! anything is typed. Values are typed as Go's YAML parser types them (`goval`).

use crate::diag::Diags;
use crate::goval::{resolve_plain, GoScalar};
use crate::yaml::{Mark, Node, Value};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::ValidationError;
use serde_json::Value as J;
use std::sync::OnceLock;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: J = serde_json::from_str(include_str!("compose-spec.json")).expect("the bundled schema is JSON");
        jsonschema::options()
            .should_validate_formats(false)
            .build(&schema)
            .expect("the bundled schema compiles")
    })
}

/// The tree as JSON, scalars typed as `yaml.v3` types them; `Err` with the mark of a value
/// JSON cannot hold (`.inf`, `.nan`) or a key that is not a string.
fn to_json(node: &Node) -> Result<J, (Mark, String)> {
    Ok(match &node.value {
        Value::Null => J::Null,
        Value::Scalar { text, quoted: true } => J::String(text.clone()),
        Value::Scalar { text, .. } => match resolve_plain(text) {
            GoScalar::Null => J::Null,
            GoScalar::Bool(b) => J::Bool(b),
            GoScalar::Int(i) => i64::try_from(i)
                .map(J::from)
                .or_else(|_| u64::try_from(i).map(J::from))
                .unwrap_or_else(|_| J::String(text.clone())),
            GoScalar::Float(f) if f.is_finite() => J::from(f),
            GoScalar::Float(_) => {
                return Err((node.mark, format!("'{text}' is not a number compose can use: quote it")));
            }
            GoScalar::Date(d) => J::String(d),
            GoScalar::Str(s) => J::String(s),
        },
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, e)| Ok((k.clone(), to_json(&e.node)?)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Validates the merged tree; every problem goes to `diags` unless an error at the same place
/// is already there (the typed reading names most problems more precisely).
pub(crate) fn validate(root: &Node, diags: &mut Diags) {
    let json = match to_json(root) {
        Ok(j) => j,
        Err((mark, msg)) => {
            diags.error(mark, "", msg);
            return;
        }
    };
    if validator().is_valid(&json) {
        return; // the common case, and much faster than collecting errors
    }
    for error in validator().iter_errors(&json) {
        let (segments, message) = explain(&error);
        let (mut mark, mut key) = locate(root, &segments);
        if let ValidationErrorKind::AdditionalProperties { unexpected } = innermost(&error).kind() {
            // Point at the unknown key itself.
            if let Some(first) = unexpected.first() {
                let mut path = segments.clone();
                path.push(first.clone());
                (mark, key) = locate(root, &path);
            }
        }
        if !diags.errors.iter().any(|d| d.line == Some(mark.line) && d.key == key) {
            diags.error(mark, &key, message);
        }
    }
}

fn segments_of(error: &ValidationError) -> Vec<String> {
    error
        .instance_path()
        .as_str()
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// For a value that matches none of the allowed forms, the error of the form it was meant to
/// be: the branch where its type was right.
fn innermost<'e, 'a>(error: &'e ValidationError<'a>) -> &'e ValidationError<'a> {
    match error.kind() {
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let path = error.instance_path().as_str();
            let type_matched = |branch: &&Vec<ValidationError<'static>>| -> bool {
                !branch.is_empty()
                    && !branch.iter().any(|e| {
                        matches!(e.kind(), ValidationErrorKind::Type { .. }) && e.instance_path().as_str() == path
                    })
            };
            match context.iter().find(type_matched).and_then(|b| b.first()) {
                Some(e) => innermost(e),
                None => error,
            }
        }
        _ => error,
    }
}

fn type_name(t: &str) -> &'static str {
    match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        _ => "empty",
    }
}

/// Where the problem is (path segments) and what to say.
fn explain(top: &ValidationError<'_>) -> (Vec<String>, String) {
    let error = innermost(top);
    let segments = segments_of(error);
    let message = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names = unexpected
                .iter()
                .map(|u| format!("'{u}'"))
                .collect::<Vec<_>>()
                .join(", ");
            if segments.len() == 1 && segments[0] == "services" {
                format!("{names}: a service name may only use letters, digits, '.', '_' and '-'")
            } else if segments.is_empty() {
                format!("{names} is not a top-level key that compose knows")
            } else {
                format!("{names} is not a key of {} that compose knows", dotted(&segments))
            }
        }
        ValidationErrorKind::Type { kind } => {
            let want = match kind {
                TypeKind::Single(t) => type_name(t.as_str()).to_string(),
                TypeKind::Multiple(ts) => ts
                    .iter()
                    .map(|t| type_name(t.as_str()))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            format!("must be {want}, not {}", kind_of(error.instance()))
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(|o| o.to_string()).collect())
                .unwrap_or_default();
            format!("must be one of {}, not {}", opts.join(", "), error.instance())
        }
        ValidationErrorKind::Required { property } => format!("needs {property}"),
        ValidationErrorKind::UniqueItems => "lists the same item twice: keep one".to_string(),
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => {
            format!("{} is not a form compose accepts here", kind_of(error.instance()))
        }
        ValidationErrorKind::Pattern { pattern } => format!("{} does not match {pattern}", error.instance()),
        _ => error.to_string(),
    };
    (segments, message)
}

fn kind_of(v: &J) -> &'static str {
    match v {
        J::Null => "empty",
        J::Bool(_) => "true or false",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "a mapping",
    }
}

/// `services.web.ports[0]`
fn dotted(segments: &[String]) -> String {
    let mut out = String::new();
    for s in segments {
        if s.parse::<usize>().is_ok() {
            out.push_str(&format!("[{s}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(s);
        }
    }
    out
}

/// The mark and dotted key of the deepest node on `segments` (a key's own line for a value of
/// a mapping).
fn locate(root: &Node, segments: &[String]) -> (Mark, String) {
    let mut node = root;
    let mut mark = root.mark;
    let mut depth = 0;
    for s in segments {
        let next = match &node.value {
            Value::Map(m) => m.get(s).map(|e| (e.key_mark, &e.node)),
            Value::Seq(items) => s.parse::<usize>().ok().and_then(|i| items.get(i)).map(|n| (n.mark, n)),
            _ => None,
        };
        let Some((m, n)) = next else { break };
        mark = m;
        node = n;
        depth += 1;
    }
    (mark, dotted(&segments[..depth]))
}
