//! Secrets: spotting them written in plain text, and keeping their values out of output.

use crate::diag::Diags;
use crate::model::Project;
use crate::yaml::{Node, Value};

/// Whether a variable name says it holds a secret: a word PASSWORD, PASSWD, SECRET, TOKEN,
/// KEY or CREDENTIALS, unless it names where the secret is (`…_FILE`, `…_PATH`).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(['_', '-', '.']).filter(|w| !w.is_empty()).collect();
    if matches!(
        words.last(),
        Some(&("FILE" | "PATH" | "DIR" | "ID" | "NAME" | "URL" | "HOST" | "PORT"))
    ) {
        return false;
    }
    words.iter().any(|w| {
        matches!(
            *w,
            "PASSWORD" | "PASSWD" | "PASS" | "SECRET" | "TOKEN" | "KEY" | "APIKEY" | "CREDENTIALS" | "PRIVATE"
        ) || w.ends_with("PASSWORD")
            || w.ends_with("SECRET")
            || w.ends_with("TOKEN")
    })
}

/// The password of a URL's user info, if it has one: `scheme://user:PASS@host`.
fn url_password(s: &str) -> Option<(usize, usize)> {
    let start = s.find("://")? + 3;
    let rest = &s[start..];
    let at = rest.find('@')?;
    let userinfo = &rest[..at];
    if userinfo.contains('/') {
        return None;
    }
    let colon = userinfo.find(':')?;
    let (from, to) = (start + colon + 1, start + at);
    (to > from).then_some((from, to))
}

/// Warns about secrets written as literal values in a compose file (before interpolation),
/// where they end up in version control. `${VAR}` references are fine.
pub fn lint_plain_secrets(root: &Node, diags: &mut Diags) {
    let Some(services) = root.get("services").and_then(Node::as_map) else {
        return;
    };
    for (svc, e) in services {
        for section in ["environment", "build.args"] {
            let node = section.split('.').try_fold(&e.node, |n, k| n.get(k));
            let Some(node) = node else { continue };
            let pairs: Vec<(String, &Node)> = match &node.value {
                Value::Map(m) => m.iter().map(|(k, e)| (k.clone(), &e.node)).collect(),
                Value::Seq(items) => items
                    .iter()
                    .filter_map(|i| {
                        i.as_str()
                            .and_then(|t| t.split_once('='))
                            .map(|(k, _)| (k.to_string(), i))
                    })
                    .collect(),
                _ => continue,
            };
            for (key, vnode) in pairs {
                let Some(text) = vnode.as_str() else { continue };
                let value = text
                    .split_once('=')
                    .filter(|_| vnode_is_item(node))
                    .map_or(text, |(_, v)| v);
                if value.contains('$') || value.is_empty() {
                    continue;
                }
                let path = format!("services.{svc}.{section}.{key}");
                if is_secret_name(&key) {
                    diags.warn(
                        vnode.mark,
                        &path,
                        format!("a secret is written in plain text here: take it from the environment (`{key}: ${{{key}}}`, set in .env) or use a file-backed secret"),
                    );
                } else if url_password(value).is_some() {
                    diags.warn(
                        vnode.mark,
                        &path,
                        format!("this URL carries a password in plain text: take it from the environment (`${{{key}}}`, set in .env)"),
                    );
                }
            }
        }
    }
}

fn vnode_is_item(section: &Node) -> bool {
    matches!(section.value, Value::Seq(_))
}

pub const MASK: &str = "********";

/// The values (4 characters or more) of the variables whose names say they hold a secret.
pub fn values_of_secret_names(env: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    env.iter()
        .filter(|(k, v)| is_secret_name(k) && v.len() >= 4)
        .map(|(_, v)| v.clone())
        .collect()
}

/// Replaces secret values in a serialised project: values of secret-looking variables, the
/// password part of URLs, and any other occurrence of those values.
pub fn mask(project: &Project, value: &mut serde_json::Value) {
    mask_value(value, None, &known(project));
}

/// The secret values that can be masked in any output without masking something else: not a
/// part of the project's name, a service's or container's name, an image, or a value that is
/// not secret (a password `postgres` beside the user `postgres` would mask every
/// `sirius-postgres`: it stays visible, and is still masked where its key says it is secret).
pub fn distinctive(project: &Project, known: Vec<String>) -> Vec<String> {
    let mut names: Vec<&str> = vec![project.name.as_str()];
    for (name, s) in &project.services {
        names.push(name);
        names.extend(s.container_name.as_deref());
        names.extend(s.image.as_deref());
        names.extend(
            s.environment
                .iter()
                .filter(|(k, _)| !is_secret_name(k))
                .filter_map(|(_, v)| v.as_deref()),
        );
    }
    known
        .into_iter()
        .filter(|k| !names.iter().any(|n| n.contains(k.as_str())))
        .collect()
}

/// Every secret value a project holds: the values of secret-looking variables (in the env
/// files and environment, and in services' `environment` and build args), the password part
/// of URLs, and the contents of its file-backed secrets. Longest first.
pub fn known(project: &Project) -> Vec<String> {
    let mut known: Vec<String> = project.secret_values.clone();
    for def in project.secrets.values() {
        if let Some(content) = &def.content {
            known.push(content.trim().to_string());
        }
        let Some(file) = &def.file else { continue };
        // A secret's file, as small as secrets are; anything else is not read.
        if std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.len() <= 64 << 10) {
            if let Ok(text) = std::fs::read_to_string(file) {
                known.push(text.trim().to_string());
            }
        }
    }
    for s in project.services.values() {
        let vars = s.environment.iter().chain(s.build.iter().flat_map(|b| b.args.iter()));
        for (k, v) in vars {
            if let Some(v) = v {
                if is_secret_name(k) && v.len() >= 4 {
                    known.push(v.clone());
                }
                if let Some((a, b)) = url_password(v) {
                    if b - a >= 4 {
                        known.push(v[a..b].to_string());
                    }
                }
            }
        }
    }
    known.retain(|k| k.len() >= 4);
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
    known.dedup();
    known
}

fn mask_value(v: &mut serde_json::Value, key: Option<&str>, known: &[String]) {
    use serde_json::Value as J;
    match v {
        J::String(s) => {
            if key.is_some_and(is_secret_name) && !s.is_empty() {
                *s = MASK.to_string();
                return;
            }
            if let Some((a, b)) = url_password(s) {
                s.replace_range(a..b, MASK);
            }
            for k in known {
                if s.contains(k.as_str()) {
                    *s = s.replace(k.as_str(), MASK);
                }
            }
        }
        J::Array(items) => items.iter_mut().for_each(|i| mask_value(i, None, known)),
        J::Object(m) => m.iter_mut().for_each(|(k, i)| mask_value(i, Some(k), known)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for yes in [
            "POSTGRES_PASSWORD",
            "NEXTAUTH_SECRET",
            "API_KEY",
            "GITHUB_TOKEN",
            "DISCORD_CLIENT_SECRET",
            "db_password",
            "KEY",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_secret_name(yes), "{yes}");
        }
        for no in [
            "SIRIUS_API_KEY_FILE",
            "POSTGRES_USER",
            "KEYBOARD",
            "MONKEY",
            "DISCORD_CLIENT_ID",
            "NODE_ENV",
            "TOKEN_URL",
        ] {
            assert!(!is_secret_name(no), "{no}");
        }
    }

    #[test]
    fn url_passwords() {
        let s = "amqp://guest:secretpw@rabbit:5672/";
        let (a, b) = url_password(s).expect("has one");
        assert_eq!(&s[a..b], "secretpw");
        assert!(url_password("http://host:80/path").is_none());
        assert!(url_password("http://user@host").is_none());
        assert!(url_password("postgres://u:p@h/db?x=a/b").is_some());
    }
}
