//! What a backup of a stack covers, from the profile's `[backup]` section and the compose
//! files: by default every PostgreSQL service and every named volume; for each volume, the
//! services that write to it and how it is kept still while archived.

use crate::BackupError;
use deck_compose::{MountType, Project};
use deck_stack::{BackupSpec, Consistency};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Database {
    pub service: String,
    pub database: String,
    pub user: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// The key in the compose files, and the name on the engine.
    pub key: String,
    pub name: String,
    pub consistency: Consistency,
    /// Services that mount it, and those of them that can write to it.
    pub users: Vec<String>,
    pub writers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub databases: Vec<Database>,
    pub volumes: Vec<Volume>,
}

impl Coverage {
    pub fn is_empty(&self) -> bool {
        self.databases.is_empty() && self.volumes.is_empty()
    }

    /// The item ids (`db:<service>`, `volume:<key>`).
    pub fn ids(&self) -> Vec<String> {
        self.databases
            .iter()
            .map(|d| format!("db:{}", d.service))
            .chain(self.volumes.iter().map(|v| format!("volume:{}", v.key)))
            .collect()
    }

    /// Only the items named (by id or bare name); every name must match one.
    pub fn only(self, names: &[String]) -> Result<Coverage, BackupError> {
        if names.is_empty() {
            return Ok(self);
        }
        let ids = self.ids();
        for n in names {
            let known = self
                .databases
                .iter()
                .any(|d| *n == d.service || *n == format!("db:{}", d.service))
                || self
                    .volumes
                    .iter()
                    .any(|v| *n == v.key || *n == format!("volume:{}", v.key));
            if !known {
                return Err(BackupError::Invalid(format!(
                    "'{n}' is not covered by backups of this stack. Covered: {}",
                    ids.join(", ")
                )));
            }
        }
        let wanted = |name: &str, id: String| names.iter().any(|n| n == name || *n == id);
        Ok(Coverage {
            databases: self
                .databases
                .into_iter()
                .filter(|d| wanted(&d.service, format!("db:{}", d.service)))
                .collect(),
            volumes: self
                .volumes
                .into_iter()
                .filter(|v| wanted(&v.key, format!("volume:{}", v.key)))
                .collect(),
        })
    }
}

/// Whether a service runs PostgreSQL: its image is named postgres (any registry, tag or
/// prefix such as `sirius-postgres`), or it sets PGDATA.
pub fn is_postgres(project: &Project, service: &str) -> bool {
    let Some(svc) = project.services.get(service) else {
        return false;
    };
    let image_named = svc.image.as_deref().is_some_and(|image| {
        let no_digest = image.split('@').next().unwrap_or(image);
        let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
        let repo = last.split(':').next().unwrap_or(last);
        repo.contains("postgres")
    });
    image_named || svc.environment.contains_key("PGDATA")
}

fn env_value(project: &Project, service: &str, key: &str) -> Option<String> {
    project.services[service]
        .environment
        .get(key)
        .cloned()
        .flatten()
        .filter(|v| !v.is_empty())
}

pub fn coverage(project: &Project, spec: &BackupSpec, profile_path: &str) -> Result<Coverage, BackupError> {
    let invalid = |what: String| BackupError::Invalid(format!("{profile_path}: [backup] {what}"));
    let db_services: Vec<String> = match &spec.databases {
        Some(list) => {
            for s in list {
                if !project.services.contains_key(s) {
                    return Err(invalid(format!(
                        "databases names '{s}', which is not a service of {}. Services: {}",
                        project.name,
                        project.services.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            list.clone()
        }
        None => project
            .services
            .keys()
            .filter(|s| is_postgres(project, s))
            .cloned()
            .collect(),
    };
    let databases = db_services
        .into_iter()
        .map(|service| {
            let user = env_value(project, &service, "POSTGRES_USER").unwrap_or_else(|| "postgres".into());
            let database = env_value(project, &service, "POSTGRES_DB").unwrap_or_else(|| user.clone());
            Database {
                service,
                database,
                user,
            }
        })
        .collect();

    let named: Vec<String> = project
        .volumes
        .iter()
        .filter(|(_, v)| !v.external)
        .map(|(k, _)| k.clone())
        .collect();
    let keys: Vec<String> = match &spec.volumes {
        Some(list) => {
            for k in list {
                if !named.contains(k) {
                    return Err(invalid(format!(
                        "volumes names '{k}', which is not a named volume of {} that it creates. Volumes: {}",
                        project.name,
                        named.join(", ")
                    )));
                }
            }
            list.clone()
        }
        None => named,
    };
    for k in spec.consistency.keys() {
        if !keys.contains(k) {
            return Err(invalid(format!(
                "consistency names '{k}', which is not a volume the backup covers"
            )));
        }
    }
    let mut volumes = Vec::new();
    for key in keys {
        let mut users = BTreeSet::new();
        let mut writers = BTreeSet::new();
        for (name, svc) in &project.services {
            for m in &svc.volumes {
                if m.kind == MountType::Volume && m.source.as_deref() == Some(key.as_str()) {
                    users.insert(name.clone());
                    if !m.read_only && !svc.read_only {
                        writers.insert(name.clone());
                    }
                }
            }
        }
        if users.is_empty() {
            continue; // Declared but never mounted: never created by `up`, nothing to keep.
        }
        volumes.push(Volume {
            name: project.volumes[&key].name.clone(),
            consistency: spec.consistency.get(&key).copied().unwrap_or_default(),
            key,
            users: users.into_iter().collect(),
            writers: writers.into_iter().collect(),
        });
    }
    Ok(Coverage { databases, volumes })
}

/// The services that depend on any of `roots`, directly or not (not the roots themselves).
pub fn dependents(project: &Project, roots: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut changed = true;
    while changed {
        changed = false;
        for (name, svc) in &project.services {
            if out.contains(name) || roots.contains(name) {
                continue;
            }
            if svc.depends_on.keys().any(|d| roots.contains(d) || out.contains(d)) {
                out.insert(name.clone());
                changed = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        let text = "services:
  db:
    image: docker.io/library/postgres:15-alpine
    environment: {POSTGRES_USER: sirius, POSTGRES_PASSWORD: x}
    volumes: [pg:/var/lib/postgresql/data]
  api:
    image: api
    environment: {POSTGRES_USER: sirius, POSTGRES_PASSWORD: x}
    depends_on: [db]
    volumes: [files:/files, 'pg:/pg:ro']
  ui:
    image: ui
    depends_on: [api]
  cache:
    image: valkey
    volumes: [cache:/data]
volumes:
  pg: {}
  files: {}
  cache: {}
  unused: {}
  ext: {external: true}
";
        let src = deck_compose::Source {
            path: "/p/compose.yaml".into(),
            text: text.into(),
        };
        deck_compose::load_sources(&[src], &[], std::path::Path::new("/p"), &Default::default())
            .expect("loads")
            .project
    }

    #[test]
    fn defaults_cover_every_postgres_and_every_mounted_named_volume() {
        let p = project();
        let c = coverage(&p, &BackupSpec::default(), "profile.toml").expect("covers");
        assert_eq!(
            c.databases,
            vec![Database {
                service: "db".into(),
                database: "sirius".into(),
                user: "sirius".into()
            }]
        );
        let keys: Vec<&str> = c.volumes.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["cache", "files", "pg"]);
        let pg = &c.volumes[2];
        assert_eq!(pg.users, ["api", "db"]);
        assert_eq!(pg.writers, ["db"], "a read-only mount does not write");
        assert_eq!(pg.consistency, Consistency::Stop);
        assert_eq!(c.ids(), ["db:db", "volume:cache", "volume:files", "volume:pg"]);
    }

    #[test]
    fn a_profile_naming_what_does_not_exist_is_refused_with_where() {
        let p = project();
        let spec = BackupSpec {
            volumes: Some(vec!["nope".into()]),
            ..Default::default()
        };
        let e = coverage(&p, &spec, "/x/profile.toml")
            .expect_err("an error")
            .to_string();
        assert!(
            e.contains("/x/profile.toml") && e.contains("'nope'") && e.contains("cache"),
            "{e}"
        );
        let spec = BackupSpec {
            databases: Some(vec!["pgsql".into()]),
            ..Default::default()
        };
        assert!(coverage(&p, &spec, "p").is_err());
    }

    #[test]
    fn only_selects_by_id_or_name_and_refuses_unknown_names() {
        let c = coverage(&project(), &BackupSpec::default(), "p").expect("covers");
        let one = c.clone().only(&["volume:cache".into(), "db".into()]).expect("known");
        assert_eq!(one.ids(), ["db:db", "volume:cache"]);
        let e = c.only(&["valkey".into()]).expect_err("an error").to_string();
        assert!(e.contains("'valkey'") && e.contains("volume:pg"), "{e}");
    }

    #[test]
    fn dependents_are_transitive() {
        let p = project();
        let d = dependents(&p, &BTreeSet::from(["db".to_string()]));
        assert_eq!(d, BTreeSet::from(["api".to_string(), "ui".to_string()]));
    }
}
