//! What `up` of a project would do to each of its services, given what runs now: keep a
//! container whose configuration hash and image are the ones the project asks for, recreate
//! one that differs, create what is missing, remove what the project no longer has. The same
//! rules `up` applies (and `docker compose up` applies), told before anything changes.

use crate::labels::{self, CONFIG_HASH};
use crate::{spec, Engine, EngineError};
use deck_compose::Project;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Change {
    /// Same configuration and image: left running, untouched.
    Kept,
    /// Recreated (once what it depends on is ready).
    Recreated,
    /// No container yet: created.
    Created,
    /// Not in the project any more: stopped and removed.
    Removed,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct PlannedChange {
    pub service: String,
    pub change: Change,
    /// Why, for a recreated service.
    pub reason: Option<String>,
}

impl Engine {
    /// The plan of `up` for `project`. `rebuilt`: services whose image will be built first (so
    /// whatever runs now is not it).
    pub async fn plan(&self, project: &Project, rebuilt: &BTreeSet<String>) -> Result<Vec<PlannedChange>, EngineError> {
        let running = self.containers(&project.name).await?;
        let mut out: Vec<PlannedChange> = Vec::new();
        for name in project.startup_order() {
            let svc = &project.services[&name];
            let Some(current) = running.get(&name) else {
                out.push(PlannedChange {
                    service: name,
                    change: Change::Created,
                    reason: None,
                });
                continue;
            };
            let labels = self
                .docker
                .inspect_container(&current.id, None)
                .await
                .ok()
                .and_then(|c| c.config?.labels)
                .unwrap_or_default();
            // The containers it refers to, by id, from the listing above.
            let ids = spec::referenced_services(svc)
                .into_iter()
                .filter_map(|r| Some((r.clone(), running.get(&r)?.id.clone())))
                .collect();
            let expected = labels::config_hash(&spec::resolve_references(svc, &ids, false));
            let image = spec::image_ref(project, &name, svc);
            let image_id = self.docker.inspect_image(&image).await.ok().and_then(|i| i.id);
            // A service that shares another's container, whose container is replaced, follows.
            let follows = spec::referenced_services(svc)
                .into_iter()
                .find(|r| out.iter().any(|p| &p.service == r && p.change != Change::Kept));
            let reason = if labels.get(CONFIG_HASH) != Some(&expected) {
                Some("its configuration differs".to_string())
            } else if rebuilt.contains(&name) {
                Some(format!("its image {image} is built first"))
            } else if image_id.as_deref() != Some(current.image_id.as_str()) {
                Some(format!("it runs another image than {image}"))
            } else {
                follows.map(|r| format!("it shares {r}'s container, which is replaced"))
            };
            out.push(PlannedChange {
                service: name,
                change: if reason.is_some() {
                    Change::Recreated
                } else {
                    Change::Kept
                },
                reason,
            });
        }
        let gone: BTreeMap<&String, _> = running
            .iter()
            .filter(|(s, _)| !project.services.contains_key(*s))
            .collect();
        out.extend(gone.into_keys().map(|s| PlannedChange {
            service: s.clone(),
            change: Change::Removed,
            reason: None,
        }));
        Ok(out)
    }
}
