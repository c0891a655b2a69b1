//! What `up` of a project would do to each of its services, given what runs now: keep a
//! container whose configuration hash and image are the ones the project asks for, recreate
//! one that differs, create what is missing, remove what the project no longer has. The same
//! rules `up` applies (and `docker compose up` applies), told before anything changes.

use crate::labels::{self, CONFIG_HASH};
use crate::{spec, Engine, EngineError};
use deck_compose::Project;
use serde::Serialize;
use std::collections::BTreeSet;
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
    /// Replicas added or removed; those that stay are kept untouched.
    Scaled,
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
        let running = crate::by_service(&self.containers(&project.name).await?);
        let mut out: Vec<PlannedChange> = Vec::new();
        for name in project.startup_order() {
            let svc = &project.services[&name];
            let current = running.get(&name).map(Vec::as_slice).unwrap_or_default();
            if current.is_empty() {
                out.push(PlannedChange {
                    service: name,
                    change: Change::Created,
                    reason: None,
                });
                continue;
            }
            // The containers it refers to, by id, from the listing above.
            let ids = spec::referenced_services(svc)
                .into_iter()
                .filter_map(|r| Some((r.clone(), running.get(&r)?.first()?.id.clone())))
                .collect();
            let expected = labels::config_hash(&spec::resolve_references(svc, &ids, false));
            let image = spec::image_ref(project, &name, svc);
            let image_id = self.docker.inspect_image(&image).await.ok().and_then(|i| i.id);
            // A service that shares another's container, whose container is replaced, follows.
            let follows = spec::referenced_services(svc)
                .into_iter()
                .find(|r| out.iter().any(|p| &p.service == r && p.change != Change::Kept));
            let mut differs = false;
            for c in current.iter().take(svc.replicas() as usize) {
                let hash = self
                    .docker
                    .inspect_container(&c.id, None)
                    .await
                    .ok()
                    .and_then(|c| c.config?.labels?.remove(CONFIG_HASH));
                differs |= hash.as_ref() != Some(&expected);
            }
            let reason = if differs {
                Some("its configuration differs".to_string())
            } else if rebuilt.contains(&name) {
                Some(format!("its image {image} is built first"))
            } else if current.iter().any(|c| image_id.as_deref() != Some(c.image_id.as_str())) {
                Some(format!("it runs another image than {image}"))
            } else {
                follows.map(|r| format!("it shares {r}'s container, which is replaced"))
            };
            let (have, want) = (current.len(), svc.replicas() as usize);
            let change = match &reason {
                Some(_) => Change::Recreated,
                None if have != want => Change::Scaled,
                None => Change::Kept,
            };
            let reason = reason.or_else(|| (have != want).then(|| format!("from {have} to {want} replicas")));
            out.push(PlannedChange {
                service: name,
                change,
                reason,
            });
        }
        let gone: BTreeSet<&String> = running.keys().filter(|s| !project.services.contains_key(*s)).collect();
        out.extend(gone.into_iter().map(|s| PlannedChange {
            service: s.clone(),
            change: Change::Removed,
            reason: None,
        }));
        Ok(out)
    }
}
