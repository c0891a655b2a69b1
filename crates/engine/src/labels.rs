//! The labels `docker compose` v2 puts on what it creates, and Sirius Deck's own.

use deck_compose::{Project, Service};
use std::collections::HashMap;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const IMAGE: &str = "com.docker.compose.image";
pub const VERSION: &str = "com.docker.compose.version";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

/// The environment (dev, prod, ...) a container or image was made for.
pub const ENV_LABEL: &str = "dev.siriusdeck.env";
/// The build target an image was built from, or a container's image was expected to be.
pub const TARGET_LABEL: &str = "dev.siriusdeck.build-target";
/// The image reference the environment asked for.
pub const EXPECTED_IMAGE_LABEL: &str = "dev.siriusdeck.expected-image";

/// On the short-lived helper container of a connectivity check, with where it checks from
/// (the backups' helpers have their own label).
pub const CHECK: &str = "dev.siriusdeck.check";

/// The labels of a helper container the app runs for a moment (a connectivity check, a volume
/// written or read): `own`, plus the stack labels set empty. A container inherits its image's
/// labels, and an image built for a stack carries the stack's project label (Compose labels it
/// so): a helper made from it would otherwise pass for a container of that stack (listed with
/// it, an orphan to `docker compose`).
pub fn helper(own: impl IntoIterator<Item = (String, String)>) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = own.into_iter().collect();
    for key in [PROJECT, SERVICE] {
        labels.entry(key.to_string()).or_default();
    }
    labels
}
pub const COMPOSE_VERSION: &str = concat!("sirius-deck-", env!("CARGO_PKG_VERSION"));

/// The hash of everything in the service's configuration that shapes its container: the same
/// as `docker compose` computes for the same service, so neither tool recreates what the other
/// made (`deck_compose::service_hash`).
pub fn config_hash(service: &Service) -> String {
    deck_compose::service_hash(service)
}

pub fn container_labels(
    project: &Project,
    name: &str,
    number: u32,
    service: &Service,
    env: Option<&str>,
) -> HashMap<String, String> {
    let mut l: HashMap<String, String> = service.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let files: Vec<String> = project.config_files.iter().map(|p| p.display().to_string()).collect();
    let deps: Vec<String> = service
        .depends_on
        .iter()
        .map(|(d, dep)| {
            let cond = serde_json::to_value(dep.condition)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{d}:{cond}:{}", dep.restart)
        })
        .collect();
    for (k, v) in [
        (PROJECT, project.name.clone()),
        (SERVICE, name.to_string()),
        (NUMBER, number.to_string()),
        (ONEOFF, "False".to_string()),
        (CONFIG_HASH, config_hash(service)),
        (CONFIG_FILES, files.join(",")),
        (WORKING_DIR, project.working_dir.display().to_string()),
        (DEPENDS_ON, deps.join(",")),
        (VERSION, COMPOSE_VERSION.to_string()),
    ] {
        l.insert(k.to_string(), v);
    }
    if let Some(image) = &service.image {
        l.insert(EXPECTED_IMAGE_LABEL.into(), image.clone());
    }
    if let Some(target) = service.build.as_ref().and_then(|b| b.target.clone()) {
        l.insert(TARGET_LABEL.into(), target);
    }
    if let Some(env) = env {
        l.insert(ENV_LABEL.into(), env.to_string());
    }
    l
}

/// The labels of a network or volume (`kind`: NETWORK or VOLUME) created for `project`.
pub fn resource_labels(
    kind: &str,
    key: &str,
    project: &str,
    own: &std::collections::BTreeMap<String, String>,
) -> HashMap<String, String> {
    let mut l: HashMap<String, String> = own.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    l.insert(kind.to_string(), key.to_string());
    l.insert(PROJECT.to_string(), project.to_string());
    l.insert(VERSION.to_string(), COMPOSE_VERSION.to_string());
    l
}

pub fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{PROJECT}={project}")])])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_helper_belongs_to_no_stack_whatever_its_image_says() {
        let l = super::helper([(super::CHECK.to_string(), "net".to_string())]);
        assert_eq!(l.get(super::CHECK).map(String::as_str), Some("net"));
        assert_eq!(l.get(super::PROJECT).map(String::as_str), Some(""));
        assert_eq!(l.get(super::SERVICE).map(String::as_str), Some(""));
    }
}
