//! Restoring a set: verified and matched against the stack before anything changes; a safety
//! set of the current data first; then the services that use what is restored are stopped,
//! volume contents replaced, databases restored (`pg_restore --clean --if-exists --create`),
//! and everything started again in dependency order. A restore that fails is rolled back to
//! the safety set; one that was killed is finished by the next run while nobody has used the
//! stack since, and otherwise waits for the user's choice (`crate::interrupted`).

use crate::docker;
use crate::interrupted::{self, InterruptedOp, Resolution, RestoreJournal};
use crate::manifest::{Item, ItemKind, Kind};
use crate::plan::{self, Coverage};
use crate::site::Placed;
use crate::store::{self, SetInfo};
use crate::{verify_set, BackupError, Backups, Stack};
use bytes::Bytes;
use deck_engine::{Event, Op, Planned, Sink};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(export)]
pub struct RestoreOptions {
    /// Only these items (`db:<service>`, `volume:<key>`, or the bare names); empty: all.
    pub only: Vec<String>,
    /// Take a safety set of the current data first (and roll back to it on failure).
    pub safety: bool,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            only: Vec::new(),
            safety: true,
        }
    }
}

#[derive(Clone, Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct RestoreSummary {
    pub set: String,
    pub items: Vec<String>,
    /// The safety set taken first: restoring it undoes this restore.
    pub safety: Option<String>,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

/// The major version in `pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)`.
fn pg_major(version: &str) -> Option<u32> {
    version
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .and_then(|w| w.split('.').next())
        .and_then(|m| m.parse().ok())
}

impl Backups {
    pub async fn restore(
        &self,
        st: &Stack<'_>,
        wanted: &str,
        opts: &RestoreOptions,
        progress: &Sink,
        cancel: &CancellationToken,
    ) -> Result<RestoreSummary, BackupError> {
        let started = Instant::now();
        let root = self.dir(&st.project.name);
        let _lock = store::lock(&root, &st.project.name)?;
        self.recover_locked(st, progress).await?;
        let set = store::find(&root, wanted)?;
        let items = self.check_restore(st, &set, &opts.only, progress).await?;

        // The databases restored must run (starting them changes no data), and read the dumps.
        let dbs: Vec<String> = items
            .iter()
            .filter(|i| i.kind == ItemKind::Database)
            .map(|i| i.name.clone())
            .collect();
        if !dbs.is_empty() {
            self.start(st, &dbs, progress).await?;
            for item in items.iter().filter(|i| i.kind == ItemKind::Database) {
                let db = self.db_container(st, &item.name).await?;
                let (_, have, _) = docker::exec_text(
                    db.engine.docker(),
                    &db.id,
                    vec!["pg_restore".into(), "--version".into()],
                )
                .await?;
                let dumped = item.tool.as_deref().and_then(pg_major);
                if let (Some(d), Some(h)) = (dumped, pg_major(&have)) {
                    if d > h {
                        return Err(BackupError::Refused(format!(
                            "{} was dumped by PostgreSQL {d}, and {} runs PostgreSQL {h}, which cannot read it",
                            item.describe(),
                            item.name
                        )));
                    }
                }
            }
        }

        let old = interrupted::restore_journal(&root);
        if let Some(j) = &old {
            // A restore left half done in another environment keeps its journal: finished there.
            if let Some(why) = j.elsewhere(st.env) {
                return Err(BackupError::Refused(format!("nothing was changed: {why}")));
            }
            // What it left half written must be written again by this one: once this one
            // succeeds, nothing holds back the services that would run on it.
            if let Some(half) = j
                .writing
                .as_ref()
                .filter(|w| !items.iter().any(|i| i.describe() == **w))
            {
                return Err(BackupError::Refused(format!(
                    "nothing was changed: the interrupted restore of set {} left the {half} half written, and this restore does not write it. Restore it too (the whole set, or `--only` with it), or choose first: `sirius-deck recover restore` (`--resume`, `--roll-back` or `--discard`)",
                    j.set
                )));
            }
        }
        let safety = if opts.safety {
            progress.step("taking a safety set of the current data first");
            let covered = Coverage {
                databases: st
                    .coverage
                    .databases
                    .iter()
                    .filter(|d| dbs.contains(&d.service))
                    .cloned()
                    .collect(),
                volumes: st
                    .coverage
                    .volumes
                    .iter()
                    .filter(|v| items.iter().any(|i| i.kind == ItemKind::Volume && i.name == v.key))
                    .cloned()
                    .collect(),
            };
            let current = Stack {
                coverage: covered,
                ..*st
            };
            self.take(&current, Kind::Safety, progress, &CancellationToken::new())
                .await
                .map_err(|e| {
                    BackupError::Failed(match e {
                        BackupError::NotReleased { set, reason } => format!(
                            "nothing was changed: the safety set {set} of the current data was written, but starting again the services it had stopped failed (start them with `sirius-deck up`): {reason}"
                        ),
                        e => format!(
                            "nothing was changed: the safety set of the current data, taken first, could not be written: {e}"
                        ),
                    })
                })?
                .map(|s| s.id)
        } else {
            None
        };
        if let Some(old) = old {
            progress.step(format!(
                "this restore replaces the interrupted restore of set {}{}",
                old.set,
                old.safety
                    .map(|s| format!(" (its safety set {s} stays listed)"))
                    .unwrap_or_default()
            ));
        }
        let journal = RestoreJournal {
            set: set.id.clone(),
            safety: safety.clone(),
            started_unix: store::now_unix(),
            items: if opts.only.is_empty() {
                Vec::new()
            } else {
                items.iter().map(Item::id).collect()
            },
            applied: false,
            stopped: Vec::new(),
            started: Default::default(),
            failed: None,
            env: st.env.map(str::to_string),
            writing: None,
        };
        let outcome = self
            .apply_or_roll_back(st, &set, &items, &journal, cancel, progress)
            .await;
        let settled = interrupted::settle_restore(&root, &outcome);
        outcome?;
        settled?;
        self.prune(&st.project.name, progress)?;
        progress.send(Event::Done {
            op: Op::Restore,
            set: set.id.clone(),
            elapsed_ms: started.elapsed().as_millis() as u64,
        });
        Ok(RestoreSummary {
            set: set.id,
            items: items.iter().map(Item::id).collect(),
            safety,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Applies a verified set, its journal written before the first service stops; when that
    /// fails, rolls back to the safety set (if one was taken) and says which of the two
    /// happened.
    async fn apply_or_roll_back(
        &self,
        st: &Stack<'_>,
        set: &SetInfo,
        items: &[Item],
        journal: &RestoreJournal,
        cancel: &CancellationToken,
        progress: &Sink,
    ) -> Result<(), BackupError> {
        let safety = journal.safety.as_deref();
        let begun = AtomicBool::new(false);
        let applied = tokio::select! {
            r = self.apply(st, set, items, Op::Restore, Some((journal, &begun)), progress) => r,
            _ = cancel.cancelled() => Err(BackupError::Cancelled),
        };
        let Err(e) = applied else { return Ok(()) };
        if !begun.load(Ordering::SeqCst) {
            // It failed before it stopped anything: there is nothing to undo.
            return Err(match e {
                BackupError::Cancelled => e,
                e => BackupError::Refused(e.to_string()),
            });
        }
        let Some(safety) = safety else {
            return Err(BackupError::NotUndone { reason: e.to_string() });
        };
        progress.step(format!("the restore failed ({e}): rolling back to safety set {safety}"));
        Err(match self.roll_back(st, safety, progress).await {
            Ok(()) => BackupError::RolledBack {
                reason: e.to_string(),
                safety: safety.to_string(),
            },
            Err(r) => BackupError::RollbackFailed {
                reason: e.to_string(),
                rollback: r.to_string(),
                safety: safety.to_string(),
            },
        })
    }

    /// Finishes a restore that a killed run left half done, but only while nothing has changed
    /// since (its containers are still there, and none started since but the databases it
    /// starts itself); otherwise leaves it for the user to choose, and says so.
    pub(crate) async fn recover_restore(&self, st: &Stack<'_>, progress: &Sink) -> Result<(), BackupError> {
        let root = self.dir(&st.project.name);
        let Some(journal) = interrupted::restore_journal(&root) else {
            return Ok(());
        };
        if let Some(why) = journal.elsewhere(st.env) {
            progress.step(why);
            return Ok(());
        }
        let set = &journal.set;
        let ask = "nothing is done about it on its own, so nothing written since is replaced. Choose with `sirius-deck recover restore --resume`, `--roll-back` or `--discard` (or in the window)";
        if let Some(why) = &journal.failed {
            progress.step(format!(
                "a restore of set {set} failed and could not be undone ({why}): {ask}"
            ));
            return Ok(());
        }
        if journal.applied {
            // The data was replaced in full; only starting the stack was left.
            if !self.site.deployed(st.project).await? {
                progress.step(format!(
                    "a restore of set {set} was interrupted after it had replaced the data; the stack was taken down since, and stays down"
                ));
            } else {
                progress.step(format!(
                    "a restore of set {set} was interrupted after it had replaced the data: starting the stack"
                ));
                self.start_all(st, progress).await?;
            }
            return interrupted::end(&root, InterruptedOp::Restore);
        }
        if let Some(changed) = self.changed_since(st, &journal).await {
            progress.step(format!("a restore of set {set} was interrupted, and {changed}: {ask}"));
            return Ok(());
        }
        let checked = match store::find(&root, set) {
            Ok(s) => self
                .check_restore(st, &s, &journal.items, progress)
                .await
                .map(|i| (s, i)),
            Err(e) => Err(e),
        };
        let (found, items) = match checked {
            Ok(c) => c,
            Err(e) => {
                progress.step(format!(
                    "a restore of set {set} was interrupted, and it cannot be finished ({e}): {ask}"
                ));
                return Ok(());
            }
        };
        progress.step(format!(
            "a restore of set {set} was interrupted, and nothing has changed since: finishing it"
        ));
        let outcome = self
            .apply_or_roll_back(st, &found, &items, &journal, &CancellationToken::new(), progress)
            .await;
        let settled = interrupted::settle_restore(&root, &outcome);
        outcome?;
        settled
    }

    /// What changed since an interrupted restore stopped the stack, in words: the stack taken
    /// down, or a service it had stopped running again (other than the databases it starts
    /// itself). Data written since can only have come through those.
    async fn changed_since(&self, st: &Stack<'_>, journal: &RestoreJournal) -> Option<String> {
        let dbs: Vec<String> = self
            .find(&st.project.name, &journal.set)
            .map(|set| {
                set.manifest
                    .items
                    .iter()
                    .filter(|i| i.kind == ItemKind::Database)
                    .map(|i| i.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let found = async {
            Ok::<_, BackupError>((
                self.site.deployed(st.project).await?,
                self.site.containers(st.project).await?,
            ))
        };
        let containers = match found.await {
            Ok((true, c)) => c,
            Ok((false, _)) => return Some("the stack was taken down since".into()),
            Err(e) => return Some(format!("the engine could not say what runs ({e})")),
        };
        if journal.stopped.is_empty() {
            return Some("its journal does not say what it had stopped".into());
        }
        containers.into_iter().find_map(|c| {
            let started_again = journal.started.get(&c.name) != c.started_at.as_ref();
            (c.running && journal.stopped.contains(&c.service) && !dbs.contains(&c.service) && started_again)
                .then(|| format!("the stack has run since ({} started again)", c.name))
        })
    }

    /// What the user chose for an interrupted restore.
    pub(crate) async fn resolve_restore(
        &self,
        st: &Stack<'_>,
        resolution: Resolution,
        progress: &Sink,
    ) -> Result<String, BackupError> {
        let root = self.dir(&st.project.name);
        let journal = interrupted::restore_journal(&root)
            .ok_or_else(|| BackupError::Invalid("no restore of this stack was interrupted".into()))?;
        if let Some(why) = journal.elsewhere(st.env) {
            return Err(BackupError::Refused(why));
        }
        let chosen = async {
            Ok(match resolution {
                Resolution::Resume if journal.applied => {
                    self.start_all(st, progress).await?;
                    "started the stack again".to_string()
                }
                Resolution::Resume => {
                    let set = store::find(&root, &journal.set)?;
                    let items = self.check_restore(st, &set, &journal.items, progress).await?;
                    self.apply_or_roll_back(st, &set, &items, &journal, &CancellationToken::new(), progress)
                        .await?;
                    format!("restored set {} again", journal.set)
                }
                Resolution::RollBack => {
                    let safety = journal.safety.as_deref().ok_or_else(|| {
                        BackupError::Invalid(format!(
                            "the restore of set {} took no safety set: there is nothing to roll back to",
                            journal.set
                        ))
                    })?;
                    let set = store::find(&root, safety)?;
                    self.check_restore(st, &set, &[], progress).await?;
                    self.roll_back(st, safety, progress).await?;
                    format!("rolled back to safety set {safety}, the data from before the restore")
                }
                Resolution::Discard => "left the data as it is".to_string(),
            })
        };
        let done = chosen.await;
        let settled = interrupted::settle_restore(&root, &done);
        let done = done?;
        settled?;
        Ok(done)
    }

    async fn roll_back(&self, st: &Stack<'_>, safety: &str, progress: &Sink) -> Result<(), BackupError> {
        let set = self.find(&st.project.name, safety)?;
        let items = set.manifest.items.clone();
        self.apply(st, &set, &items, Op::Rollback, None, progress).await
    }

    /// Everything that can be known before a restore changes anything: the set is of this stack,
    /// covers what is asked, matches what the stack has, and every file reads back as written.
    async fn check_restore(
        &self,
        st: &Stack<'_>,
        set: &SetInfo,
        only: &[String],
        progress: &Sink,
    ) -> Result<Vec<Item>, BackupError> {
        let m = &set.manifest;
        if m.project != st.project.name {
            return Err(BackupError::Refused(format!(
                "set {} is of stack {}, not {}",
                set.id, m.project, st.project.name
            )));
        }
        for o in only {
            if !m.items.iter().any(|i| i.matches(o)) {
                return Err(BackupError::Refused(format!(
                    "set {} has no item '{o}'. It holds: {}",
                    set.id,
                    m.items.iter().map(Item::id).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let items: Vec<Item> = m
            .items
            .iter()
            .filter(|i| only.is_empty() || only.iter().any(|o| i.matches(o)))
            .cloned()
            .collect();
        for i in &items {
            let known = match i.kind {
                ItemKind::Database => st.coverage.databases.iter().any(|d| d.service == i.name),
                ItemKind::Volume => st.coverage.volumes.iter().any(|v| v.key == i.name),
            };
            if !known {
                return Err(BackupError::Refused(format!(
                    "set {} holds the {}, which stack {} does not have or does not back up any more",
                    set.id,
                    i.describe(),
                    st.project.name
                )));
            }
            if i.kind == ItemKind::Volume {
                let v = self.volume(&st.coverage, &i.name)?;
                self.site.check_pinned(st.project, v)?;
                let engine = self.volume_engine(st, v).await?;
                let images = self.site.images(st.project, &v.users).await;
                if docker::helper_image(engine.docker(), &images).await.is_none() {
                    return Err(BackupError::Refused(format!(
                        "no image of the services using volume {} is on the engine it lives on to write it with: build them first (`sirius-deck build`)",
                        v.name
                    )));
                }
            }
        }
        let selected = SetInfo {
            manifest: crate::Manifest {
                items: items.clone(),
                ..m.clone()
            },
            ..set.clone()
        };
        self.site.check_stoppable(st.project, &self.stopped_for(st, &items)?)?;
        verify_set(&selected, Op::Verify, progress)
            .await
            .map_err(|p| BackupError::Refused(format!("set {} failed verification: {p}", set.id)))?;
        Ok(items)
    }

    /// What a restore of `items` stops, dependents first: what uses what is replaced, and what
    /// depends on it.
    fn stopped_for(&self, st: &Stack<'_>, items: &[Item]) -> Result<Vec<String>, BackupError> {
        let project = st.project;
        let mut roots = BTreeSet::new();
        for i in items {
            match i.kind {
                ItemKind::Volume => roots.extend(self.volume(&st.coverage, &i.name)?.users.iter().cloned()),
                ItemKind::Database => roots.extend(plan::dependents(project, &BTreeSet::from([i.name.clone()]))),
            }
        }
        let mut affected = plan::dependents(project, &roots);
        affected.extend(roots);
        Ok(project
            .startup_order()
            .into_iter()
            .rev()
            .filter(|s| affected.contains(s))
            .collect())
    }

    fn volume<'c>(&self, coverage: &'c Coverage, key: &str) -> Result<&'c plan::Volume, BackupError> {
        coverage
            .volumes
            .iter()
            .find(|v| v.key == key)
            .ok_or_else(|| BackupError::Failed(format!("volume {key} is not covered")))
    }

    /// The engine a volume lives on; on a swarm, none when no task of its services has run.
    async fn volume_engine(&self, st: &Stack<'_>, v: &plan::Volume) -> Result<deck_engine::Engine, BackupError> {
        self.site.volume_engine(st.project, v).await?.ok_or_else(|| {
            BackupError::Refused(format!(
                "volume {} is on no node yet: no task of {} has run on the swarm. Deploy the stack first (`sirius-deck up`)",
                v.name,
                v.users.join(", ")
            ))
        })
    }

    /// The running container of a database's service.
    async fn db_container(&self, st: &Stack<'_>, service: &str) -> Result<Placed, BackupError> {
        self.site
            .running(st.project, service)
            .await?
            .ok_or_else(|| BackupError::Failed(format!("{service} is not running")))
    }

    /// Starts services (and what they need) in dependency order and waits until ready.
    async fn start(&self, st: &Stack<'_>, services: &[String], progress: &Sink) -> Result<(), BackupError> {
        let opts = deck_engine::UpOptions {
            env: st.env.map(str::to_string),
            services: services.to_vec(),
            ..Default::default()
        };
        self.site.start(st.project, &opts, progress).await
    }

    /// Replaces the stack's data with the items of a set (already verified).
    async fn apply(
        &self,
        st: &Stack<'_>,
        set: &SetInfo,
        items: &[Item],
        op: Op,
        // A restore's journal, and the flag it raises once it begins to change the data.
        journal: Option<(&RestoreJournal, &AtomicBool)>,
        progress: &Sink,
    ) -> Result<(), BackupError> {
        let project = st.project;
        progress.send(Event::Plan {
            op,
            set: set.id.clone(),
            items: items
                .iter()
                .map(|i| Planned {
                    item: i.id(),
                    description: i.describe(),
                    total: Some(i.size),
                    estimate: false,
                })
                .collect(),
        });
        let order = self.stopped_for(st, items)?;
        // Where each volume lives, found while its services run (a swarm forgets the tasks of
        // a service scaled to 0).
        let mut engines = std::collections::HashMap::new();
        for i in items.iter().filter(|i| i.kind == ItemKind::Volume) {
            let v = self.volume(&st.coverage, &i.name)?;
            engines.insert(i.name.clone(), self.volume_engine(st, v).await?);
        }
        // From here on the data changes: a run killed now leaves this journal, with what it
        // stopped, so that the next run knows whether anyone has used the stack since.
        let root = self.dir(&project.name);
        // What an interrupted run left half written stays so until this one has written it.
        let mut left = interrupted::restore_journal(&root).and_then(|o| o.writing);
        if let Some((j, _)) = journal {
            let started = self
                .site
                .containers(project)
                .await?
                .into_iter()
                .filter(|c| order.contains(&c.service))
                .map(|c| (c.name, c.started_at.unwrap_or_default()))
                .collect();
            let j = RestoreJournal {
                stopped: order.clone(),
                started,
                applied: false,
                writing: left.clone(),
                ..j.clone()
            };
            interrupted::write_restore_journal(&root, &j)?;
        }
        if let Some((_, begun)) = journal {
            begun.store(true, Ordering::SeqCst);
        }
        self.stop_services(st.project, &order, progress).await?;

        for i in items.iter().filter(|i| i.kind == ItemKind::Volume) {
            let v = self.volume(&st.coverage, &i.name)?;
            let engine = &engines[&i.name];
            let docker = engine.docker();
            engine.create_volumes(project, &v.users).await?;
            let images = self.site.images(project, &v.users).await;
            let image = docker::helper_image(docker, &images)
                .await
                .ok_or_else(|| BackupError::Failed(format!("no image to write volume {} with", v.name)))?;
            let helper = docker::create_helper(docker, &image, &v.name).await?;
            let count = progress.bytes(op, &i.id(), Some(i.size));
            count(0);
            let written = async {
                interrupted::mark_writing(&root, Some(i.describe()))?;
                docker::empty_volume(docker, &helper, &v.name).await?;
                // The engine only says that the upload broke off: why the file did, from here.
                let unreadable = std::sync::Arc::new(std::sync::Mutex::new(None));
                let seen = unreadable.clone();
                let stream = crate::pipe::read_zstd(set.path.join(&i.file), count).inspect_err(move |e| {
                    if let Ok(mut first) = seen.lock() {
                        first.get_or_insert_with(|| e.to_string());
                    }
                });
                docker
                    .upload_to_container(
                        &helper,
                        Some(bollard::query_parameters::UploadToContainerOptions {
                            path: "/".into(),
                            ..Default::default()
                        }),
                        bollard::body_try_stream(stream),
                    )
                    .await
                    .map_err(|e| {
                        let why = match unreadable.lock().ok().and_then(|mut r| r.take()) {
                            Some(r) => format!("reading {} of set {}: {r}", i.file, set.id),
                            None => deck_engine::describe(&e),
                        };
                        BackupError::Failed(format!("writing volume {}: {why}", v.name))
                    })
            }
            .await;
            docker::remove_helper(docker, &helper).await;
            written?;
            left = left.filter(|w| *w != i.describe());
            interrupted::mark_writing(&root, left.clone())?;
            progress.send(Event::Bytes {
                op,
                item: i.id(),
                done: i.size,
                total: Some(i.size),
            });
            progress.send(Event::ItemDone {
                op,
                item: i.id(),
                raw: i.raw_size,
                stored: i.size,
            });
        }

        let dbs: Vec<&Item> = items.iter().filter(|i| i.kind == ItemKind::Database).collect();
        if !dbs.is_empty() {
            let services: Vec<String> = dbs.iter().map(|i| i.name.clone()).collect();
            self.start(st, &services, progress).await?;
            for i in dbs {
                let db = self.db_container(st, &i.name).await?;
                let (docker, container) = (db.engine.docker(), db.id.as_str());
                let user = i.user.clone().unwrap_or_else(|| "postgres".into());
                // --create drops and recreates the database from a maintenance database.
                let maintenance = if i.database.as_deref() == Some("postgres") {
                    "template1"
                } else {
                    "postgres"
                };
                interrupted::mark_writing(&root, Some(i.describe()))?;
                // `--clean --create` drops the database, which PostgreSQL refuses while any
                // client is connected to it: the stack's own are stopped, others (a psql left
                // open, an admin tool) are disconnected, as the restore replaces their data.
                if let Some(db) = &i.database {
                    let sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                               WHERE datname = :'db' AND pid <> pg_backend_pid();\n";
                    let input = futures_util::stream::iter([Ok(Bytes::from_static(sql.as_bytes()))]);
                    docker::exec_in(
                        docker,
                        container,
                        docker::pg_command(&[
                            "psql",
                            "--no-password",
                            "-X",
                            "-q",
                            "-v",
                            "ON_ERROR_STOP=1",
                            "-v",
                            &format!("db={db}"),
                            "-U",
                            &user,
                            "-d",
                            maintenance,
                        ]),
                        input,
                    )
                    .await
                    .map_err(|e| {
                        BackupError::Failed(format!("disconnecting the other clients of {}: {e}", i.describe()))
                    })?;
                }
                let count = progress.bytes(op, &i.id(), Some(i.size));
                count(0);
                let stream = Box::pin(crate::pipe::read_zstd(set.path.join(&i.file), count));
                docker::exec_in(
                    docker,
                    container,
                    docker::pg_command(&[
                        "pg_restore",
                        "--clean",
                        "--if-exists",
                        "--create",
                        "--exit-on-error",
                        "--no-password",
                        "-U",
                        &user,
                        "-d",
                        maintenance,
                    ]),
                    stream,
                )
                .await
                .map_err(|e| BackupError::Failed(format!("pg_restore of {}: {e}", i.describe())))?;
                left = left.filter(|w| *w != i.describe());
                interrupted::mark_writing(&root, left.clone())?;
                progress.send(Event::ItemDone {
                    op,
                    item: i.id(),
                    raw: i.raw_size,
                    stored: i.size,
                });
            }
        }
        if op == Op::Restore {
            // Every item is in place: a run killed from here on has only the start left.
            interrupted::mark_applied(&root);
        }
        self.start_all(st, progress).await
    }

    /// Everything runs again, in dependency order, each service waited for.
    async fn start_all(&self, st: &Stack<'_>, progress: &Sink) -> Result<(), BackupError> {
        let all: Vec<String> = st.project.services.keys().cloned().collect();
        self.start(st, &all, progress).await
    }
}

#[cfg(test)]
mod tests {
    use super::pg_major;

    #[test]
    fn the_engines_start_times_are_read() {
        let t = humantime::parse_rfc3339_weak("2026-11-29T19:37:24.584621899Z").expect("docker's StartedAt");
        assert!(t > std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000));
    }

    #[test]
    fn postgres_major_versions_are_read_from_tool_output() {
        assert_eq!(pg_major("pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"), Some(15));
        assert_eq!(pg_major("pg_restore (PostgreSQL) 16.2"), Some(16));
        assert_eq!(pg_major("nonsense"), None);
    }
}
