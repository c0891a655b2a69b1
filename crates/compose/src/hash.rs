//! The configuration hash `docker compose` puts on a container
//! (`com.docker.compose.config-hash`): the SHA-256 of Go's `json.Marshal` of the service as
//! compose-go models it, without `build`, `pull_policy`, `scale` and `deploy.replicas`
//! (compose's `ServiceHash`). Sirius Deck prints its model in compose's JSON shapes (the
//! differential test checks that), so writing that JSON as Go writes it (struct fields in
//! Go's order, map keys sorted, Go's string escaping) gives the same hash: a stack started by
//! either tool is recognised as up to date by the other. Reference: Docker Compose 2.26 with
//! compose-go v2.4.8.

use crate::go_order::GO_STRUCTS;
use crate::model::Service;
use serde_json::Value as J;
use sha2::{Digest, Sha256};

/// compose's `ServiceHash` of `service`.
pub fn service_hash(service: &Service) -> String {
    Sha256::digest(service_hash_input(service).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The JSON that `service_hash` hashes.
fn service_hash_input(service: &Service) -> String {
    let mut v = serde_json::to_value(service).unwrap_or(J::Null);
    if let J::Object(m) = &mut v {
        for k in ["build", "pull_policy", "scale"] {
            m.remove(k);
        }
        if let Some(J::Object(d)) = m.get_mut("deploy") {
            d.remove("replicas");
        }
    }
    let mut out = String::new();
    write(&v, "ServiceConfig", &mut out);
    out
}

fn fields(name: &str) -> &'static [(&'static str, &'static str)] {
    GO_STRUCTS.iter().find(|(s, _)| *s == name).map_or(&[], |(_, f)| f)
}

/// Writes `v` as Go's `json.Marshal` writes a value of type `kind`: a struct name, `list:X`,
/// `map:X`, or "" for anything else.
fn write(v: &J, kind: &str, out: &mut String) {
    match v {
        J::Object(m) => {
            out.push('{');
            let mut first = true;
            let mut entry = |k: &str, val: &J, kind: &str, out: &mut String| {
                if !first {
                    out.push(',');
                }
                first = false;
                write_str(k, out);
                out.push(':');
                write(val, kind, out);
            };
            // Go writes a map's keys sorted.
            let mut sorted: Vec<(&String, &J)> = m.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            match kind.strip_prefix("map:") {
                Some(inner) => {
                    for (k, val) in sorted {
                        entry(k, val, inner, out);
                    }
                }
                None if !kind.is_empty() && !kind.starts_with("list:") => {
                    let fs = fields(kind);
                    for (name, child) in fs {
                        if let Some(val) = m.get(*name) {
                            entry(name, val, child, out);
                        }
                    }
                    // Anything the struct table does not know, after (never expected).
                    for (k, val) in m.iter().filter(|(k, _)| !fs.iter().any(|(n, _)| n == k)) {
                        entry(k, val, "", out);
                    }
                }
                None => {
                    for (k, val) in sorted {
                        entry(k, val, "", out);
                    }
                }
            }
            out.push('}');
        }
        J::Array(items) => {
            let inner = kind.strip_prefix("list:").unwrap_or("");
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, inner, out);
            }
            out.push(']');
        }
        J::String(s) => write_str(s, out),
        other => out.push_str(&other.to_string()),
    }
}

/// Go's JSON string escaping: `<`, `>`, `&`, U+2028 and U+2029 escaped as well.
fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_as_go_does() {
        let mut out = String::new();
        write_str("a<b>&\"c\"\n\u{1}", &mut out);
        assert_eq!(out, "\"a\\u003cb\\u003e\\u0026\\\"c\\\"\\n\\u0001\"");
    }
}
