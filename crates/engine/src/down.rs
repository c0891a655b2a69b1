//! `down`: stop in reverse dependency order, remove containers and networks; volumes only
//! when asked, naming each one.

use crate::event::{Phase, ResourceAction, ResourceKind, Sink};
use crate::labels::{self, SERVICE};
use crate::{Context, Engine, EngineError};
use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveVolumeOptions};
use deck_compose::Project;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct DownOptions {
    /// Also remove the project's named volumes: their data is lost.
    pub volumes: bool,
}

/// Levels to stop in: first what nothing depends on, last the foundations.
fn stop_levels(project: Option<&Project>, services: &[String]) -> Vec<Vec<String>> {
    let Some(project) = project else {
        return vec![services.to_vec()];
    };
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    for s in project.startup_order() {
        let d = project.services[&s]
            .depends_on
            .keys()
            .filter_map(|dep| depth.get(dep))
            .max()
            .map_or(0, |m| m + 1);
        depth.insert(s, d);
    }
    let mut levels: BTreeMap<std::cmp::Reverse<usize>, Vec<String>> = BTreeMap::new();
    for s in services {
        // Containers of services no longer in the files go first.
        let d = depth.get(s).copied().unwrap_or(usize::MAX);
        levels.entry(std::cmp::Reverse(d)).or_default().push(s.clone());
    }
    levels.into_values().collect()
}

impl Engine {
    /// The names of the project's named volumes, for saying what `down --volumes` would lose.
    pub async fn project_volumes(&self, project_name: &str) -> Result<Vec<String>, EngineError> {
        let vols = self
            .docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(labels::project_filter(project_name)),
            }))
            .await
            .context(|| "listing volumes".into())?;
        let mut names: Vec<String> = vols.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect();
        names.sort();
        Ok(names)
    }

    /// Takes the project down. `project` (the loaded files) gives the dependency order; without
    /// it, everything labelled with `project_name` is stopped at once.
    #[tracing::instrument(skip(self, project, opts, sink), err)]
    pub async fn down(
        &self,
        project_name: &str,
        project: Option<&Project>,
        opts: &DownOptions,
        sink: &Sink,
    ) -> Result<(), EngineError> {
        let docker = &self.docker;
        let containers = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(labels::project_filter(project_name)),
                ..Default::default()
            }))
            .await
            .context(|| "listing the project's containers".into())?;
        let mut by_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in containers {
            let service = c
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE))
                .cloned()
                .unwrap_or_default();
            by_service.entry(service).or_default().push(c.id.unwrap_or_default());
        }
        let services: Vec<String> = by_service.keys().cloned().collect();
        for level in stop_levels(project, &services) {
            let mut tasks = tokio::task::JoinSet::new();
            for service in level {
                for id in by_service.get(&service).cloned().unwrap_or_default() {
                    let docker = docker.clone();
                    let sink = sink.clone();
                    let service = service.clone();
                    tasks.spawn(async move {
                        sink.service(&service, Phase::Stopping, None);
                        crate::stop_container(&docker, &id).await;
                        sink.service(&service, Phase::Stopped, None);
                        let removed = crate::remove_container(&docker, &id).await;
                        match removed {
                            Ok(()) => {
                                sink.service(&service, Phase::Removed, None);
                                Ok(())
                            }
                            Err(e) if crate::is_not_found(&e) => Ok(()),
                            Err(e) => Err(EngineError::Docker {
                                context: format!("removing the container of {service}"),
                                source: e,
                            }),
                        }
                    });
                }
            }
            while let Some(r) = tasks.join_next().await {
                r.map_err(|e| EngineError::Io(std::io::Error::other(e.to_string())))??;
            }
        }
        let nets = docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(labels::project_filter(project_name)),
            }))
            .await
            .context(|| "listing networks".into())?;
        for n in nets {
            let name = n.name.unwrap_or_default();
            docker
                .remove_network(&name)
                .await
                .context(|| format!("removing network {name}"))?;
            sink.resource(ResourceKind::Network, &name, ResourceAction::Removed);
        }
        if opts.volumes {
            for name in self.project_volumes(project_name).await? {
                docker
                    .remove_volume(&name, Some(RemoveVolumeOptions { force: false }))
                    .await
                    .context(|| format!("removing volume {name}"))?;
                sink.resource(ResourceKind::Volume, &name, ResourceAction::Removed);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependents_stop_before_what_they_depend_on() {
        let src = deck_compose::Source {
            path: "/p/c.yaml".into(),
            text: "services:\n  db: {image: x}\n  api: {image: x, depends_on: [db]}\n  ui: {image: x, depends_on: [api]}\n  cache: {image: x}\n".into(),
        };
        let p = deck_compose::load_sources(&[src], &[], std::path::Path::new("/p"), &Default::default())
            .expect("loads")
            .project;
        let all: Vec<String> = ["api", "cache", "db", "old", "ui"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let levels = stop_levels(Some(&p), &all);
        assert_eq!(
            levels,
            vec![
                vec!["old".to_string()],
                vec!["ui".into()],
                vec!["api".into()],
                vec!["cache".into(), "db".into()]
            ]
        );
    }
}
