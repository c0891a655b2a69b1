//! Taking a set: databases dumped live, then volumes archived with their writers paused or
//! stopped (and their dependents stopped first, started again afterwards in dependency order),
//! every file read back and checked, the manifest written, and the folder renamed into place.
//! What was stopped or paused is written down first, so that a run killed midway is undone by
//! the next one.

use crate::docker::{self, MOUNT};
use crate::interrupted::BACKUP_JOURNAL as JOURNAL;
use crate::manifest::{self, ImageInfo, Item, ItemKind, Kind, Manifest, MANIFEST_FILE};
use crate::plan::{self, Database, Volume};
use crate::site::Placed;
use crate::store::{self, SetInfo, PARTIAL_PREFIX};
use crate::{verify_set, BackupError, Backups, Stack};
use deck_engine::{Event, Op, Phase, Planned, Sink};
use deck_stack::Consistency;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a backup in progress has stopped or paused, on disk.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Journal {
    pub stopped: Vec<String>,
    /// Services whose containers are paused.
    pub paused: Vec<String>,
    pub env: Option<String>,
    /// The ids of the stopped services' containers when they were stopped: a later run starts
    /// a service again only while one of them still exists, stopped (not after the user took
    /// the stack down, or started it, in between).
    #[serde(default)]
    pub containers: BTreeMap<String, Vec<String>>,
}

impl Journal {
    fn save(&self, partial: &Path) -> Result<(), BackupError> {
        store::write_atomic(&partial.join(JOURNAL), &serde_json::to_vec(self).unwrap_or_default())
    }
}

impl Backups {
    /// Takes a backup set of the stack, then applies the retention rule.
    pub async fn create(
        &self,
        st: &Stack<'_>,
        progress: &Sink,
        cancel: &CancellationToken,
    ) -> Result<SetInfo, BackupError> {
        let _lock = store::lock(&self.dir(&st.project.name), &st.project.name)?;
        self.recover_locked(st, progress).await?;
        let set = self
            .take(st, Kind::Manual, progress, cancel)
            .await?
            .ok_or_else(|| BackupError::Refused("there is no data to back up yet".into()))?;
        self.prune(&st.project.name, progress)?;
        Ok(set)
    }

    /// Takes a safety set of what exists now (before a restore or an environment switch), then
    /// applies the retention rule; `None` when there is no data yet.
    pub async fn safety(&self, st: &Stack<'_>, progress: &Sink) -> Result<Option<SetInfo>, BackupError> {
        let _lock = store::lock(&self.dir(&st.project.name), &st.project.name)?;
        self.recover_locked(st, progress).await?;
        let set = self.take(st, Kind::Safety, progress, &CancellationToken::new()).await?;
        self.prune(&st.project.name, progress)?;
        Ok(set)
    }

    /// Undoes what interrupted runs left behind: services stopped or paused by a killed backup
    /// run again, incomplete sets and helper containers are removed, and a killed restore is
    /// rolled back to its safety set.
    pub async fn recover(&self, st: &Stack<'_>, progress: &Sink) -> Result<(), BackupError> {
        let _lock = store::lock(&self.dir(&st.project.name), &st.project.name)?;
        self.recover_locked(st, progress).await
    }

    pub(crate) async fn recover_locked(&self, st: &Stack<'_>, progress: &Sink) -> Result<(), BackupError> {
        for engine in self.site.engines().await {
            docker::remove_stale_helpers(engine.docker()).await;
        }
        for id in interrupted(&self.dir(&st.project.name)) {
            self.recover_backup(st, &id, true, progress).await?;
        }
        self.recover_restore(st, progress).await
    }

    /// Removes an interrupted backup's incomplete set; with `release`, first runs again the
    /// services it stopped or paused that are still stopped or paused (not those the user took
    /// down or started since).
    pub(crate) async fn recover_backup(
        &self,
        st: &Stack<'_>,
        id: &str,
        release: bool,
        progress: &Sink,
    ) -> Result<(), BackupError> {
        let partial = self.dir(&st.project.name).join(format!("{PARTIAL_PREFIX}{id}"));
        if release {
            let mut journal: Journal = std::fs::read(partial.join(JOURNAL))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            self.keep_what_is_still_stopped(st, &mut journal, id, progress).await;
            if !journal.stopped.is_empty() || !journal.paused.is_empty() {
                progress.step(format!(
                    "an interrupted backup ({id}) left {} stopped or paused: starting them again",
                    journal
                        .stopped
                        .iter()
                        .chain(&journal.paused)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                self.release(st, &mut journal, &partial, progress).await?;
            }
        }
        std::fs::remove_dir_all(&partial).map_err(store::io_err(&partial))?;
        progress.step(format!("removed the incomplete set {id} left by an interrupted backup"));
        Ok(())
    }

    /// Deletes the sets that the retention rule no longer keeps.
    pub(crate) fn prune(&self, project: &str, progress: &Sink) -> Result<(), BackupError> {
        let (sets, _) = self.list(project)?;
        // The sets an interrupted restore needs to be resumed or rolled back stay.
        let needed: Vec<String> = crate::interrupted::restore_journal(&self.dir(project))
            .map(|j| j.safety.into_iter().chain([j.set]).collect())
            .unwrap_or_default();
        for id in store::retention(&sets, &self.settings, store::now_unix()) {
            if needed.contains(&id) {
                continue;
            }
            let path = self.dir(project).join(&id);
            std::fs::remove_dir_all(&path).map_err(store::io_err(&path))?;
            progress.step(format!(
                "deleted set {id} (retention: keep {} sets{})",
                self.settings.keep,
                self.settings
                    .max_age_days
                    .map(|d| format!(", none older than {d} days"))
                    .unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Takes a set of what the stack covers. A safety set skips what does not exist yet (there
    /// is nothing to lose) and is `None` when nothing exists.
    pub(crate) async fn take(
        &self,
        st: &Stack<'_>,
        kind: Kind,
        progress: &Sink,
        cancel: &CancellationToken,
    ) -> Result<Option<SetInfo>, BackupError> {
        let started = Instant::now();
        let project = st.project;
        let op = if kind == Kind::Safety { Op::Safety } else { Op::Backup };
        if st.coverage.is_empty() {
            return Err(BackupError::Invalid(format!(
                "backups of {} cover nothing: it has no PostgreSQL service and no named volume. Name what to cover in the [backup] section of its profile",
                st.stack
            )));
        }
        // Everything is checked before anything is stopped.
        let mut dbs = Vec::new();
        for db in &st.coverage.databases {
            if self.site.running(project, &db.service).await?.is_some() {
                dbs.push(db.clone());
            } else if kind == Kind::Manual {
                return Err(BackupError::Refused(format!(
                    "{} is not running, and its database is dumped from its own container: start the stack first (`sirius-deck up`)",
                    db.service
                )));
            }
        }
        let mut vols = Vec::new();
        for v in &st.coverage.volumes {
            let engine = match self.site.volume_engine(project, v).await? {
                Some(e) if docker::volume_exists(e.docker(), &v.name).await => e,
                _ if kind == Kind::Manual => {
                    return Err(BackupError::Refused(format!(
                        "volume {} does not exist yet (the stack has never been started): there is nothing to back up",
                        v.name
                    )));
                }
                _ => continue,
            };
            if v.consistency == Consistency::Stop {
                // Its services are scaled to 0 and back: on a swarm, they must come back on the
                // node that has the volume.
                self.site.check_pinned(project, v)?;
            }
            let images = self.site.images(project, &v.users).await;
            let image = docker::helper_image(engine.docker(), &images).await.ok_or_else(|| {
                BackupError::Refused(format!(
                    "no image of the services using volume {} ({}) is on the engine the volume lives on to read it with: build them first (`sirius-deck build`)",
                    v.name,
                    v.users.join(", ")
                ))
            })?;
            vols.push(VolumeAt {
                volume: v.clone(),
                image,
                engine,
            });
        }
        if dbs.is_empty() && vols.is_empty() {
            return Ok(None);
        }

        let root = self.dir(&project.name);
        store::create_private_dir(&root)?;
        let id = store::new_id(store::now_unix(), kind, |id| root.join(id).exists());
        let partial = root.join(format!("{PARTIAL_PREFIX}{id}"));
        store::create_private_dir(&partial)?;
        let mut journal = Journal {
            env: st.env.map(str::to_string),
            ..Default::default()
        };
        journal.save(&partial)?;

        let work = self.take_items(st, &id, &dbs, &vols, &partial, &mut journal, op, progress);
        let result = tokio::select! {
            r = work => r,
            _ = cancel.cancelled() => Err(BackupError::Cancelled),
        };
        // Whatever happened, what was stopped or paused runs again.
        let released = self.release(st, &mut journal, &partial, progress).await;
        let items = match result {
            Ok(items) => items,
            Err(e) => {
                return Err(match released {
                    Ok(()) => {
                        let _ = std::fs::remove_dir_all(&partial);
                        e
                    }
                    // The journal stays, so that the next run starts them again.
                    Err(r) => BackupError::Failed(format!(
                        "{e}; and starting the stopped or paused services again failed: {r}. The next `sirius-deck backup` (or a backup from the window) tries again"
                    )),
                });
            }
        };

        // Read back every file before the set counts.
        let engine = self.site.engine();
        let engine_version = engine
            .docker()
            .version()
            .await
            .ok()
            .and_then(|v| v.version)
            .unwrap_or_default();
        let mut images: BTreeMap<String, ImageInfo> = BTreeMap::new();
        for c in self.site.containers(project).await.unwrap_or_default() {
            // The first replica's.
            images.entry(c.service).or_insert(ImageInfo {
                image: c.image,
                id: c.image_id,
            });
        }
        let created_unix = store::now_unix();
        let manifest = Manifest {
            format: manifest::FORMAT,
            id: id.clone(),
            kind,
            stack: st.stack.to_string(),
            project: project.name.clone(),
            env: st.env.map(str::to_string),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            created_unix,
            engine_version,
            api_version: engine.api_version(),
            tool: format!("sirius-deck {}", env!("CARGO_PKG_VERSION")),
            images,
            items,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        let check = SetInfo {
            id: id.clone(),
            path: partial.clone(),
            size: manifest.total_size(),
            manifest: manifest.clone(),
            check: None,
        };
        if let Err(problem) = verify_set(&check, Op::Verify, progress).await {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(BackupError::Failed(format!(
                "the set did not read back as written, so it was deleted: {problem}"
            )));
        }
        let finished = (|| {
            let path = partial.join(MANIFEST_FILE);
            let mut f = store::create_private_file(&path)?;
            f.write_all(&serde_json::to_vec_pretty(&manifest).unwrap_or_default())
                .and_then(|_| f.sync_all())
                .map_err(store::io_err(&path))?;
            let journal_path = partial.join(JOURNAL);
            std::fs::remove_file(&journal_path).map_err(store::io_err(&journal_path))?;
            store::sync_dir(&partial)?;
            let dest = root.join(&id);
            std::fs::rename(&partial, &dest).map_err(store::io_err(&dest))?;
            store::sync_dir(&root)
        })();
        if let Err(e) = finished {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
        progress.send(Event::Done {
            op,
            set: id.clone(),
            elapsed_ms: started.elapsed().as_millis() as u64,
        });
        let set = store::read_set(&root.join(&id)).map_err(BackupError::Failed)?;
        if let Err(r) = released {
            return Err(BackupError::NotReleased {
                set: id,
                reason: r.to_string(),
            });
        }
        Ok(Some(set))
    }

    #[allow(clippy::too_many_arguments)]
    async fn take_items(
        &self,
        st: &Stack<'_>,
        id: &str,
        dbs: &[Database],
        vols: &[VolumeAt],
        partial: &Path,
        journal: &mut Journal,
        op: Op,
        progress: &Sink,
    ) -> Result<Vec<Item>, BackupError> {
        let project = st.project;
        let mut sizes = HashMap::new();
        for v in vols {
            if let Some(size) = docker::volume_size(v.engine.docker(), &v.volume.name).await {
                sizes.insert(v.volume.name.clone(), size);
            }
        }
        let mut planned = Vec::new();
        let mut db_sizes = Vec::new();
        for db in dbs {
            let size = match self.site.running(project, &db.service).await? {
                Some(c) => db_size(c.engine.docker(), &c.id, db).await,
                None => None,
            };
            db_sizes.push(size);
            planned.push(Planned {
                item: format!("db:{}", db.service),
                description: format!("database {} of {}", db.database, db.service),
                total: size,
                estimate: true,
            });
        }
        for VolumeAt { volume: v, .. } in vols {
            planned.push(Planned {
                item: format!("volume:{}", v.key),
                description: format!("volume {}", v.name),
                total: sizes.get(&v.name).copied(),
                estimate: true,
            });
        }
        progress.send(Event::Plan {
            op,
            set: id.to_string(),
            items: planned,
        });

        let mut items = Vec::new();
        for (db, size) in dbs.iter().zip(db_sizes) {
            items.push(self.dump(st, db, size, partial, op, progress).await?);
        }
        let by_mode =
            |mode: Consistency| -> Vec<&VolumeAt> { vols.iter().filter(|v| v.volume.consistency == mode).collect() };
        for v in by_mode(Consistency::Live) {
            items.push(
                self.archive(v, sizes.get(&v.volume.name).copied(), partial, op, progress)
                    .await?,
            );
        }
        let paused = by_mode(Consistency::Pause);
        if !paused.is_empty() {
            let writers: BTreeSet<String> = paused.iter().flat_map(|v| v.volume.writers.iter().cloned()).collect();
            for s in &writers {
                let running: Vec<Placed> = self
                    .site
                    .replicas(project, s)
                    .await?
                    .into_iter()
                    .filter(|r| r.running)
                    .collect();
                if !running.is_empty() {
                    journal.paused.push(s.clone());
                    journal.save(partial)?;
                    for c in &running {
                        c.engine.docker().pause_container(&c.id).await.map_err(|e| {
                            BackupError::Failed(format!("pausing {}: {}", c.name, deck_engine::describe(&e)))
                        })?;
                    }
                    progress.service(s, Phase::Paused, Some("while its volume is archived".into()));
                }
            }
            for v in paused {
                items.push(
                    self.archive(v, sizes.get(&v.volume.name).copied(), partial, op, progress)
                        .await?,
                );
            }
            self.unpause(st, journal, partial, progress).await?;
        }
        let stopped = by_mode(Consistency::Stop);
        if !stopped.is_empty() {
            let writers: BTreeSet<String> = stopped.iter().flat_map(|v| v.volume.writers.iter().cloned()).collect();
            let mut affected = plan::dependents(project, &writers);
            affected.extend(writers);
            let mut running = Vec::new();
            for s in project.startup_order().into_iter().rev() {
                if !affected.contains(&s) {
                    continue;
                }
                let replicas = self.site.replicas(project, &s).await?;
                if replicas.iter().any(|r| r.running) {
                    journal
                        .containers
                        .insert(s.clone(), replicas.into_iter().map(|r| r.id).collect());
                    running.push(s);
                }
            }
            self.site.check_stoppable(st.project, &running)?;
            journal.stopped = running.clone();
            journal.save(partial)?;
            self.stop_services(st.project, &running, progress).await?;
            for v in stopped {
                items.push(
                    self.archive(v, sizes.get(&v.volume.name).copied(), partial, op, progress)
                        .await?,
                );
            }
        }
        Ok(items)
    }

    async fn unpause(
        &self,
        st: &Stack<'_>,
        journal: &mut Journal,
        partial: &Path,
        progress: &Sink,
    ) -> Result<(), BackupError> {
        while let Some(s) = journal.paused.first().cloned() {
            for c in self.site.replicas(st.project, &s).await? {
                match c.engine.docker().unpause_container(&c.id).await {
                    Ok(()) => {}
                    // Not paused any more (someone else unpaused or restarted it).
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 409 | 404, ..
                    }) => {}
                    Err(e) => {
                        return Err(BackupError::Failed(format!(
                            "unpausing {}: {}",
                            c.name,
                            deck_engine::describe(&e)
                        )))
                    }
                }
            }
            progress.service(&s, Phase::Unpaused, None);
            journal.paused.remove(0);
            // Best effort: on a full disk the services must still run again. A journal that
            // still lists them is harmless (unpausing or starting what runs changes nothing).
            let _ = journal.save(partial);
        }
        Ok(())
    }

    /// Leaves out of an interrupted backup's journal the stopped services whose containers
    /// are gone (the stack was taken down since) or run again (started since): what the user
    /// did after the interruption stands.
    async fn keep_what_is_still_stopped(&self, st: &Stack<'_>, journal: &mut Journal, id: &str, progress: &Sink) {
        if journal.containers.is_empty() {
            return; // a journal from before the ids were recorded
        }
        let mut gone = Vec::new();
        let mut kept = Vec::new();
        for s in std::mem::take(&mut journal.stopped) {
            let ids = journal.containers.get(&s).cloned().unwrap_or_default();
            if self.site.still_stopped(st.project, &s, &ids).await {
                kept.push(s);
            } else {
                gone.push(s);
            }
        }
        journal.stopped = kept;
        if !gone.is_empty() {
            progress.step(format!(
                "an interrupted backup ({id}) had stopped {}; they were taken down or started since, so they are left as they are",
                gone.join(", ")
            ));
        }
    }

    /// Runs again what the journal says is paused or stopped: stopped services are started in
    /// dependency order, each waited for until ready.
    pub(crate) async fn release(
        &self,
        st: &Stack<'_>,
        journal: &mut Journal,
        partial: &Path,
        progress: &Sink,
    ) -> Result<(), BackupError> {
        self.unpause(st, journal, partial, progress).await?;
        if journal.stopped.is_empty() {
            return Ok(());
        }
        let opts = deck_engine::UpOptions {
            env: journal.env.clone(),
            services: journal.stopped.clone(),
            no_recreate: true,
            ..Default::default()
        };
        self.site.start(st.project, &opts, progress).await?;
        journal.stopped.clear();
        let _ = journal.save(partial); // best effort, as above
        Ok(())
    }

    async fn dump(
        &self,
        st: &Stack<'_>,
        db: &Database,
        size: Option<u64>,
        partial: &Path,
        op: Op,
        progress: &Sink,
    ) -> Result<Item, BackupError> {
        let item_id = format!("db:{}", db.service);
        let fail =
            |e: BackupError| BackupError::Failed(format!("pg_dump of database {} in {}: {e}", db.database, db.service));
        let placed = self
            .site
            .running(st.project, &db.service)
            .await?
            .ok_or_else(|| fail(BackupError::Failed("it is not running any more".into())))?;
        let (docker, container) = (placed.engine.docker(), placed.id.as_str());
        let (_, version, _) = docker::exec_text(docker, container, vec!["pg_dump".into(), "--version".into()])
            .await
            .map_err(fail)?;
        let file = manifest::file_name(ItemKind::Database, &db.service);
        let mut out = docker::exec_out(
            docker,
            container,
            docker::pg_command(&[
                "pg_dump",
                "-Fc",
                "-Z0",
                "--no-password",
                "-U",
                &db.user,
                "-d",
                &db.database,
            ]),
        )
        .await
        .map_err(fail)?;
        let count = progress.bytes(op, &item_id, size);
        let written = pipe_write(&mut out.stream, &partial.join(&file), &count)
            .await
            .map_err(fail)?;
        out.finish(docker).await.map_err(fail)?;
        progress.send(Event::ItemDone {
            op,
            item: item_id,
            raw: written.raw,
            stored: written.size,
        });
        Ok(Item {
            kind: ItemKind::Database,
            name: db.service.clone(),
            database: Some(db.database.clone()),
            user: Some(db.user.clone()),
            tool: Some(version.trim().to_string()),
            volume: None,
            file,
            size: written.size,
            sha256: written.sha256,
            raw_size: written.raw,
        })
    }

    async fn archive(
        &self,
        at: &VolumeAt,
        size: Option<u64>,
        partial: &Path,
        op: Op,
        progress: &Sink,
    ) -> Result<Item, BackupError> {
        let (v, docker) = (&at.volume, at.engine.docker());
        let item_id = format!("volume:{}", v.key);
        let helper = docker::create_helper(docker, &at.image, &v.name).await?;
        let file = manifest::file_name(ItemKind::Volume, &v.key);
        let stream = docker
            .download_from_container(
                &helper,
                Some(bollard::query_parameters::DownloadFromContainerOptions { path: MOUNT.into() }),
            )
            .map(|r| r.map_err(|e| deck_engine::describe(&e)));
        let count = progress.bytes(op, &item_id, size);
        let written = pipe_write(Box::pin(stream), &partial.join(&file), &count).await;
        docker::remove_helper(docker, &helper).await;
        let written = written.map_err(|e| BackupError::Failed(format!("archiving volume {}: {e}", v.name)))?;
        progress.send(Event::ItemDone {
            op,
            item: item_id,
            raw: written.raw,
            stored: written.size,
        });
        Ok(Item {
            kind: ItemKind::Volume,
            name: v.key.clone(),
            database: None,
            user: None,
            tool: None,
            volume: Some(v.name.clone()),
            file,
            size: written.size,
            sha256: written.sha256,
            raw_size: written.raw,
        })
    }
}

/// A volume to archive: the engine it lives on, and an image of its services there to read
/// it with.
struct VolumeAt {
    volume: Volume,
    image: String,
    engine: deck_engine::Engine,
}

/// Folders of interrupted backups in a stack's folder.
pub(crate) fn interrupted(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.strip_prefix(PARTIAL_PREFIX).map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn pipe_write<S>(
    stream: S,
    path: &Path,
    count: &(impl Fn(u64) + Sync),
) -> Result<crate::pipe::Written, BackupError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, String>> + Unpin,
{
    count(0);
    let written = crate::pipe::write_zstd(stream, path, count).await?;
    count(written.raw);
    Ok(written)
}

/// The size of a database, as PostgreSQL counts it (an estimate of the dump; best effort).
async fn db_size(docker: &bollard::Docker, container: &str, db: &Database) -> Option<u64> {
    let cmd = docker::pg_command(&[
        "psql",
        "--no-password",
        "-U",
        &db.user,
        "-d",
        &db.database,
        "-tAc",
        "select pg_database_size(current_database())",
    ]);
    let (code, out, _) = docker::exec_text(docker, container, cmd).await.ok()?;
    (code == 0).then(|| out.trim().parse().ok()).flatten()
}
