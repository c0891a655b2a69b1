//! What a container runs, as the engine's inspect says, for a person to read: its environment
//! (secret-looking values masked), mounts, networks with addresses, ports, labels, the command
//! and entrypoint as run, and the build target of its image. A masked value is given only on
//! demand (`Engine::env_value`), never in the inspection itself.

use crate::{Context, EngineError};
use deck_compose::secrets::is_secret_name;
use serde::Serialize;
use std::collections::BTreeMap;
use ts_rs::TS;

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct Inspection {
    pub container: String,
    pub id: String,
    pub image: String,
    /// The build target of the image it runs (from the image's labels).
    pub build_target: Option<String>,
    pub entrypoint: Vec<String>,
    pub command: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub env: Vec<EnvVar>,
    pub mounts: Vec<MountInfo>,
    pub networks: Vec<NetworkInfo>,
    /// `host_ip:host_port->container_port/protocol`.
    pub ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    pub restart_policy: Option<String>,
}

/// One variable of a container's environment.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct EnvVar {
    pub name: String,
    /// The value as shown: `None` when the whole value is secret (a password, a key), the value
    /// with the stack's known secrets masked otherwise.
    pub value: Option<String>,
    /// Whether anything of it is masked (`Engine::env_value` gives the value itself).
    pub masked: bool,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct MountInfo {
    /// `volume`, `bind`, `tmpfs`.
    pub kind: String,
    /// The volume's name, or the host path.
    pub source: String,
    pub destination: String,
    pub read_only: bool,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct NetworkInfo {
    pub name: String,
    pub ip: Option<String>,
    pub aliases: Vec<String>,
}

/// A variable as shown: whole secrets hidden, known secrets inside a value (a URL's password)
/// masked.
fn shown(name: &str, value: &str) -> EnvVar {
    if is_secret_name(name) && !value.is_empty() {
        return EnvVar {
            name: name.to_string(),
            value: None,
            masked: true,
        };
    }
    let text = deck_error::redact::text(value);
    EnvVar {
        name: name.to_string(),
        masked: text != value,
        value: Some(text.into_owned()),
    }
}

impl crate::Engine {
    /// The inspection of a container (by name or id).
    pub async fn inspect(&self, container: &str) -> Result<Inspection, EngineError> {
        let i = self
            .docker
            .inspect_container(container, None)
            .await
            .context(|| format!("inspecting {container}"))?;
        let status = self.status_of(&i).await;
        let config = i.config.unwrap_or_default();
        let env = config
            .env
            .unwrap_or_default()
            .iter()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                shown(k, v)
            })
            .collect();
        let mounts = i
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(|m| MountInfo {
                kind: m.typ.unwrap_or_default(),
                source: m.name.filter(|n| !n.is_empty()).or(m.source).unwrap_or_default(),
                destination: m.destination.unwrap_or_default(),
                read_only: m.rw == Some(false),
            })
            .collect();
        let networks = i
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>() // by name
            .into_iter()
            .map(|(name, e)| NetworkInfo {
                name,
                ip: e.ip_address.filter(|a| !a.is_empty()),
                aliases: {
                    let mut a = e.aliases.unwrap_or_default();
                    a.sort();
                    a.dedup();
                    a
                },
            })
            .collect();
        Ok(Inspection {
            container: i.name.unwrap_or_default().trim_start_matches('/').to_string(),
            id: i.id.unwrap_or_default(),
            image: status
                .as_ref()
                .map(|s| s.image.clone())
                .or(config.image)
                .unwrap_or_default(),
            build_target: status.as_ref().and_then(|s| s.build_target.clone()),
            entrypoint: config.entrypoint.unwrap_or_default(),
            command: config
                .cmd
                .unwrap_or_default()
                .iter()
                .map(|a| deck_error::redact::text(a).into_owned())
                .collect(),
            working_dir: config.working_dir.filter(|w| !w.is_empty()),
            user: config.user.filter(|u| !u.is_empty()),
            env,
            mounts,
            networks,
            ports: status.map(|s| s.ports).unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            restart_policy: i
                .host_config
                .and_then(|h| h.restart_policy)
                .and_then(|r| r.name)
                .map(|n| n.to_string())
                .filter(|n| !n.is_empty()),
        })
    }

    /// The value of one variable of a container's environment, as it is (a person asked to see
    /// it); `None` when the container has no such variable.
    pub async fn env_value(&self, container: &str, name: &str) -> Result<Option<String>, EngineError> {
        let i = self
            .docker
            .inspect_container(container, None)
            .await
            .context(|| format!("inspecting {container}"))?;
        Ok(i.config.and_then(|c| c.env).unwrap_or_default().iter().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secret_values_are_not_shown() {
        let pw = super::shown("POSTGRES_PASSWORD", "hunter2-long");
        assert_eq!((pw.value, pw.masked), (None, true));
        let plain = super::shown("LOG_LEVEL", "debug");
        assert_eq!((plain.value.as_deref(), plain.masked), (Some("debug"), false));
        deck_error::redact::register(["inspect-test-secret".to_string()]);
        let url = super::shown("DATABASE_URL", "postgres://u:inspect-test-secret@db/x");
        assert_eq!(url.value.as_deref(), Some("postgres://u:********@db/x"));
        assert!(url.masked);
    }
}
