//! Which Docker engine to talk to, found as the docker CLI finds it: a context named on the
//! command line, else `DOCKER_HOST` (with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`), else
//! `DOCKER_CONTEXT`, else the current context of `~/.docker/config.json`, else the local socket.
//! Contexts are read from the docker CLI's own store (`~/.docker/contexts`, or under
//! `DOCKER_CONFIG`), so `docker context ls` and Sirius Deck list the same engines.

use crate::EngineError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// The name of the context made of the environment (`DOCKER_HOST`, else the local socket).
pub const DEFAULT_CONTEXT: &str = "default";
const LOCAL_SOCKET: &str = "unix:///var/run/docker.sock";

/// One engine the user can choose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Endpoint {
    /// The context's name (`default` for the environment's engine).
    pub name: String,
    /// `unix://`, `tcp://` or `ssh://` address.
    pub host: String,
    pub description: String,
    /// The folder of `ca.pem`, `cert.pem` and `key.pem` when the engine is reached over TLS.
    #[ts(type = "string | null")]
    pub tls: Option<PathBuf>,
    /// The context the docker CLI would use now (without `--context`).
    pub current: bool,
}

impl Endpoint {
    /// Whether the engine runs on another machine (its bind mounts are that machine's paths).
    pub fn is_remote(&self) -> bool {
        !self.host.starts_with("unix://") && !self.host.starts_with("npipe://")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Meta {
    name: String,
    #[serde(default)]
    metadata: MetaData,
    #[serde(default)]
    endpoints: std::collections::HashMap<String, MetaEndpoint>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetaData {
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetaEndpoint {
    #[serde(default)]
    host: String,
    #[serde(default, rename = "SkipTLSVerify")]
    skip_tls_verify: bool,
}

/// The docker CLI's configuration folder: `DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
            .join(".docker"),
    }
}

/// The login the docker CLI keeps for `registry` (`docker login`: `auths` in its
/// `config.json`, as `user:password` in base64); none (an empty one) when it has none. A
/// credential helper's logins (`credsStore`) are not read.
pub fn registry_credentials(registry: &str) -> bollard::auth::DockerCredentials {
    use base64::Engine as _;
    let host = registry.split('/').next().unwrap_or(registry);
    let login = std::fs::read(config_dir().join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|c| c["auths"][host]["auth"].as_str().map(str::to_string))
        .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
        .and_then(|a| String::from_utf8(a).ok());
    let (username, password) = login
        .as_deref()
        .and_then(|l| l.split_once(':'))
        .map_or((None, None), |(u, p)| (Some(u.to_string()), Some(p.to_string())));
    bollard::auth::DockerCredentials {
        username,
        password,
        serveraddress: Some(host.to_string()),
        ..Default::default()
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// The context in use without `--context`, as the docker CLI decides it.
fn current_name(config: &Path) -> String {
    if env("DOCKER_HOST").is_some() {
        return DEFAULT_CONTEXT.into();
    }
    if let Some(c) = env("DOCKER_CONTEXT") {
        return c;
    }
    std::fs::read(config.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("currentContext")?.as_str().map(str::to_string))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| DEFAULT_CONTEXT.into())
}

fn digest(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The engine of the environment: `DOCKER_HOST` (TLS when `DOCKER_TLS_VERIFY` is set, with
/// the certificates of `DOCKER_CERT_PATH` or `~/.docker`), else the local socket.
fn default_endpoint(config: &Path) -> Endpoint {
    let host = env("DOCKER_HOST").unwrap_or_else(|| LOCAL_SOCKET.into());
    let tls = (env("DOCKER_TLS_VERIFY").is_some() && host.starts_with("tcp://"))
        .then(|| env("DOCKER_CERT_PATH").map_or_else(|| config.to_path_buf(), PathBuf::from));
    Endpoint {
        name: DEFAULT_CONTEXT.into(),
        description: if env("DOCKER_HOST").is_some() {
            "DOCKER_HOST".into()
        } else {
            "the local engine".into()
        },
        host,
        tls,
        current: false,
    }
}

/// A context of the store, from its `meta.json`.
fn read_context(config: &Path, meta: &Path) -> Result<Endpoint, String> {
    let text = std::fs::read(meta).map_err(|e| format!("{}: {e}", meta.display()))?;
    let m: Meta = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", meta.display()))?;
    let docker = m
        .endpoints
        .get("docker")
        .ok_or_else(|| format!("{}: context {} has no docker endpoint", meta.display(), m.name))?;
    if docker.skip_tls_verify {
        return Err(format!(
            "context {} skips TLS verification, which Sirius Deck does not do: give it the engine's CA (`docker context update {} --docker host=…,ca=…,cert=…,key=…`)",
            m.name, m.name
        ));
    }
    let tls_dir = config.join("contexts/tls").join(digest(&m.name)).join("docker");
    Ok(Endpoint {
        tls: (docker.host.starts_with("tcp://") && tls_dir.join("ca.pem").is_file()).then_some(tls_dir),
        name: m.name,
        host: docker.host.clone(),
        description: m.metadata.description,
        current: false,
    })
}

/// Every engine the user can choose: `default` first, then the docker CLI's contexts by name;
/// the one in use marked. A context that cannot be read is left out (and logged).
pub fn contexts() -> Vec<Endpoint> {
    let config = config_dir();
    let current = current_name(&config);
    let mut out = vec![default_endpoint(&config)];
    let mut stored: Vec<Endpoint> = std::fs::read_dir(config.join("contexts/meta"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| match read_context(&config, &d.path().join("meta.json")) {
            Ok(e) => Some(e),
            Err(why) => {
                tracing::warn!("{why}");
                None
            }
        })
        .collect();
    stored.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(stored);
    for e in &mut out {
        e.current = e.name == current;
    }
    out
}

/// The engine named (a context), else the one the docker CLI would use now.
pub fn resolve(name: Option<&str>) -> Result<Endpoint, EngineError> {
    let config = config_dir();
    let name = name.map_or_else(|| current_name(&config), str::to_string);
    if name == DEFAULT_CONTEXT {
        return Ok(Endpoint {
            current: true,
            ..default_endpoint(&config)
        });
    }
    let meta = config.join("contexts/meta").join(digest(&name)).join("meta.json");
    if !meta.is_file() {
        let known: Vec<String> = contexts().into_iter().map(|e| e.name).collect();
        return Err(EngineError::NoContext {
            name,
            known: known.join(", "),
        });
    }
    read_context(&config, &meta).map_err(|reason| EngineError::Unreachable {
        host: name.clone(),
        reason,
        hint: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_is_read_from_the_docker_store() {
        let dir = std::env::temp_dir().join(format!("deck-contexts-{}", std::process::id()));
        let meta = dir.join("contexts/meta").join(digest("far"));
        std::fs::create_dir_all(&meta).expect("test file");
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"far","Metadata":{"Description":"over there"},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}"#,
        )
        .expect("test file");
        let e = read_context(&dir, &meta.join("meta.json")).expect("test file");
        assert_eq!(
            (e.name.as_str(), e.host.as_str(), e.description.as_str()),
            ("far", "tcp://10.0.0.5:2376", "over there")
        );
        assert!(e.tls.is_none() && e.is_remote());
        let tls = dir.join("contexts/tls").join(digest("far")).join("docker");
        std::fs::create_dir_all(&tls).expect("test file");
        std::fs::write(tls.join("ca.pem"), "x").expect("test file");
        assert_eq!(
            read_context(&dir, &meta.join("meta.json")).expect("test file").tls,
            Some(tls)
        );
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"far","Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":true}}}"#,
        )
        .expect("test file");
        assert!(read_context(&dir, &meta.join("meta.json"))
            .expect_err("refused")
            .contains("skips TLS verification"));
        std::fs::remove_dir_all(&dir).expect("test file");
        // The docker CLI names a context's folder by the SHA-256 of its name.
        assert_eq!(
            digest("default"),
            "37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f"
        );
    }
}
