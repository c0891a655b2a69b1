//! The merged model printed in the shape of `docker compose config`.

use crate::model::Project;
use yaml_rust2::yaml::{Hash, Yaml};

/// The project as JSON, secrets masked unless `show_secrets`.
pub fn config_json(project: &Project, show_secrets: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(project).unwrap_or(serde_json::Value::Null);
    if !show_secrets {
        crate::secrets::mask(project, &mut v);
    }
    escape_dollars(&mut v);
    v
}

/// `$` printed as `$$`, as `docker compose config` prints it, so that the output read back by
/// compose (or Sirius Deck) gives the same values instead of interpolating them again.
fn escape_dollars(v: &mut serde_json::Value) {
    use serde_json::Value as J;
    match v {
        J::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        J::Array(a) => a.iter_mut().for_each(escape_dollars),
        J::Object(m) => {
            if m.keys().any(|k| k.contains('$')) {
                *m = std::mem::take(m)
                    .into_iter()
                    .map(|(k, v)| (k.replace('$', "$$"), v))
                    .collect();
            }
            m.values_mut().for_each(escape_dollars);
        }
        _ => {}
    }
}

/// JSON value to YAML text.
pub fn to_yaml(value: &serde_json::Value) -> String {
    fn convert(v: &serde_json::Value) -> Yaml {
        use serde_json::Value as J;
        match v {
            J::Null => Yaml::Null,
            J::Bool(b) => Yaml::Boolean(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Integer(i),
                None => Yaml::Real(format!("{:?}", n.as_f64().unwrap_or(0.0))),
            },
            J::String(s) => Yaml::String(s.clone()),
            J::Array(a) => Yaml::Array(a.iter().map(convert).collect()),
            J::Object(m) => {
                let mut h = Hash::new();
                for (k, v) in m {
                    h.insert(Yaml::String(k.clone()), convert(v));
                }
                Yaml::Hash(h)
            }
        }
    }
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    if emitter.dump(&convert(value)).is_err() {
        return String::new();
    }
    let body = out.strip_prefix("---\n").unwrap_or(&out).to_string();
    body + "\n"
}
