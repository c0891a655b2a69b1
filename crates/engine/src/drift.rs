//! Drift: whether each container runs what its environment asks for. Images we build carry
//! their build target and environment as labels; containers we create carry the image, target,
//! environment and configuration hash their environment expected. Containers made by other
//! tools (`docker compose`) are checked as far as their labels allow, and what cannot be
//! proven is said.

use crate::labels::{self, CONFIG_HASH, ENV_LABEL, TARGET_LABEL, VERSION};
use crate::spec::image_ref;
use crate::up::short_id;
use crate::{Context, Engine, EngineError};
use deck_compose::Project;
use serde::Serialize;
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Match,
    /// At least one check failed.
    Drift,
    /// Nothing failed, but something could not be checked.
    Unproven,
    /// The service has no container.
    Absent,
}

/// One check of one service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Finding {
    /// image, target, config, env or replicas.
    pub check: String,
    /// `None`: could not be checked (the message says why).
    pub ok: Option<bool>,
    pub message: String,
}

/// How a drift is fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Fix {
    /// Rebuild the image without the layer cache, then recreate the container.
    Rebuild,
    /// Recreate the container from the image the environment asks for.
    Recreate,
}

#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct ServiceDrift {
    pub service: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub fix: Option<Fix>,
    /// The failed (or, without failures, unproven) checks, one line.
    pub summary: String,
}

impl ServiceDrift {
    pub fn new(service: &str, verdict: Verdict, findings: Vec<Finding>, fix: Option<Fix>) -> Self {
        let wanted = match verdict {
            Verdict::Drift => Some(false),
            Verdict::Unproven => None,
            _ => Some(true),
        };
        let summary = match verdict {
            Verdict::Drift | Verdict::Unproven => findings
                .iter()
                .filter(|f| f.ok == wanted)
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
            _ => String::new(),
        };
        ServiceDrift {
            service: service.to_string(),
            verdict,
            findings,
            fix,
            summary,
        }
    }
}

/// The verdict and fix from a service's findings (pure).
pub fn judge(findings: &[Finding], builds: bool) -> (Verdict, Option<Fix>) {
    if findings.iter().any(|f| f.ok == Some(false)) {
        let target_wrong = findings.iter().any(|f| f.check == "target" && f.ok == Some(false));
        let fix = if target_wrong && builds {
            Fix::Rebuild
        } else {
            Fix::Recreate
        };
        (Verdict::Drift, Some(fix))
    } else if findings.iter().any(|f| f.ok.is_none()) {
        (Verdict::Unproven, None)
    } else {
        (Verdict::Match, None)
    }
}

pub(crate) fn found(check: &str, ok: Option<bool>, message: String) -> Finding {
    Finding {
        check: check.into(),
        ok,
        message,
    }
}

impl Engine {
    /// The build target recorded on an image, `None` when it has no such label (or is gone).
    pub async fn image_target(&self, image: &str) -> Option<String> {
        let img = self.docker.inspect_image(image).await.ok()?;
        img.config?.labels?.get(TARGET_LABEL).cloned()
    }

    /// Checks every service of `project` against what runs, for environment `env`: each of
    /// its containers (a replicated service's findings name the container), and their number.
    pub async fn drift(&self, project: &Project, env: Option<&str>) -> Result<Vec<ServiceDrift>, EngineError> {
        let mut running = crate::by_service(&self.containers(&project.name).await?);
        let mut out = Vec::new();
        for (name, svc) in &project.services {
            let containers = running.remove(name).unwrap_or_default();
            if containers.is_empty() {
                out.push(ServiceDrift::new(name, Verdict::Absent, vec![], None));
                continue;
            }
            let replicated = containers.len() > 1 || svc.replicas() > 1;
            let mut findings = Vec::new();
            for container in &containers {
                let mut own = self.container_drift(project, name, container, env).await?;
                if replicated {
                    for f in &mut own {
                        f.message = format!("{}: {}", container.name, f.message);
                    }
                }
                findings.extend(own);
            }
            if replicated {
                let (have, want) = (containers.len(), svc.replicas() as usize);
                findings.push(found(
                    "replicas",
                    Some(have == want),
                    format!("{have} of {want} replicas"),
                ));
            }
            let (verdict, fix) = judge(&findings, svc.build.is_some());
            out.push(ServiceDrift::new(name, verdict, findings, fix));
        }
        Ok(out)
    }

    /// The findings of one container of service `name`.
    async fn container_drift(
        &self,
        project: &Project,
        name: &str,
        container: &crate::ContainerStatus,
        env: Option<&str>,
    ) -> Result<Vec<Finding>, EngineError> {
        let svc = &project.services[name];
        let c = self
            .docker
            .inspect_container(&container.id, None)
            .await
            .context(|| format!("inspecting {}", container.name))?;
        let labels = c.config.as_ref().and_then(|cfg| cfg.labels.clone()).unwrap_or_default();
        let running_image = c.image.clone().unwrap_or_default();
        let mut findings = Vec::new();

        let wanted = image_ref(project, name, svc);
        match self.docker.inspect_image(&wanted).await {
            Ok(img) => {
                let want_id = img.id.unwrap_or_default();
                findings.push(if want_id == running_image {
                    found("image", Some(true), format!("runs {wanted} ({})", short_id(&want_id)))
                } else {
                    found(
                        "image",
                        Some(false),
                        format!(
                            "runs image {}, but {wanted} is {}",
                            short_id(&running_image),
                            short_id(&want_id)
                        ),
                    )
                });
            }
            Err(_) => findings.push(found(
                "image",
                None,
                format!("{wanted} is not on this machine, so the image cannot be compared"),
            )),
        }

        if let Some(target) = svc.build.as_ref().and_then(|b| b.target.as_ref()) {
            findings.push(match self.image_target(&running_image).await {
                Some(t) if &t == target => found("target", Some(true), format!("built from target {t}")),
                Some(t) => found(
                    "target",
                    Some(false),
                    format!("its image was built from target {t}, the environment asks for {target}"),
                ),
                None => found(
                    "target",
                    None,
                    format!(
                        "its image has no build-target label (built outside Sirius Deck): cannot prove it comes from target {target}"
                    ),
                ),
            });
        }

        // Docker Compose 2.26 (compose-go 2.4.x) computes the same hash; other versions
        // hash their own model, which cannot be compared.
        let comparable = labels
            .get(VERSION)
            .is_some_and(|v| v.starts_with("sirius-deck") || v.starts_with("2.26"));
        if comparable {
            let ids = crate::container_ids(&self.docker, project, &crate::spec::referenced_services(svc)).await;
            let expected = labels::config_hash(&crate::spec::resolve_references(svc, &ids, false));
            let ok = labels.get(CONFIG_HASH) == Some(&expected);
            findings.push(found(
                "config",
                Some(ok),
                if ok {
                    "configuration as in the files".into()
                } else {
                    "its configuration differs from the files (changed since it was created)".into()
                },
            ));
        } else {
            findings.push(found(
                "config",
                None,
                format!(
                    "created by {}: its configuration hash is computed differently, so it cannot be compared",
                    labels
                        .get(VERSION)
                        .map_or("another tool".to_string(), |v| format!("docker compose {v}"))
                ),
            ));
        }

        if let Some(env) = env {
            let same_config = findings.iter().any(|f| f.check == "config" && f.ok == Some(true));
            findings.push(match labels.get(ENV_LABEL) {
                Some(e) if e == env => found("env", Some(true), format!("created for {e}")),
                // Kept through a switch: what it runs is what this environment asks for.
                Some(e) if same_config => found(
                    "env",
                    Some(true),
                    format!("kept from {e}: its configuration is the same in {env}"),
                ),
                Some(e) => found("env", Some(false), format!("left over from the {e} environment")),
                None => found("env", None, "no environment recorded on the container".into()),
            });
        }
        Ok(findings)
    }

    /// The one-click fix of a drifted service: rebuild its image without cache (when it builds
    /// one and its target is wrong or `rebuild` is asked), then recreate its container.
    pub async fn repair(
        &self,
        project: &Project,
        service: &str,
        env: Option<&str>,
        rebuild: bool,
        sink: &crate::Sink,
    ) -> Result<(), EngineError> {
        let opts = crate::UpOptions {
            env: env.map(str::to_string),
            no_cache: true,
            services: vec![service.to_string()],
            ..Default::default()
        };
        if rebuild && project.services.get(service).is_some_and(|s| s.build.is_some()) {
            self.build(project, &[service.to_string()], &opts, sink).await?;
        }
        let up = crate::UpOptions {
            no_cache: false,
            ..opts
        };
        self.up(project, &up, sink).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_target_check_is_fixed_by_a_rebuild() {
        let f = vec![
            found("image", Some(true), String::new()),
            found("target", Some(false), String::new()),
        ];
        assert_eq!(judge(&f, true), (Verdict::Drift, Some(Fix::Rebuild)));
        assert_eq!(judge(&f, false), (Verdict::Drift, Some(Fix::Recreate)));
    }

    #[test]
    fn what_cannot_be_checked_is_unproven_not_a_match() {
        let f = vec![
            found("image", Some(true), String::new()),
            found("config", None, "x".into()),
        ];
        assert_eq!(judge(&f, true), (Verdict::Unproven, None));
        let only_ok = vec![found("image", Some(true), String::new())];
        assert_eq!(judge(&only_ok, true), (Verdict::Match, None));
        let env = vec![found("env", Some(false), String::new())];
        assert_eq!(judge(&env, true), (Verdict::Drift, Some(Fix::Recreate)));
    }
}
