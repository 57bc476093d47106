//! Writing a lake in object storage: date files under new names, published by a snapshot
//! (`snapshot.rs`). One writer at a time is the store's own guarantee: a snapshot is put with
//! create-if-absent, so of two writers that started from the same generation one publishes
//! and the other fails with nothing of it visible.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::RecordBatch;
use chrono::{NaiveDate, TimeDelta, Utc};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::commit::DateFiles;
use super::error::LakeError;
use super::file::{self, Part};
use super::manifest::{Manifest, Source};
use super::snapshot::{self, DataFile, Snapshot, Superseded};
use crate::schema::Table;
use crate::store::{BlockingRuntime, FailureKind, Remote, StoreError};

/// Snapshots kept besides the latest, for readers that listed one just before a commit.
const KEEP_SNAPSHOTS: u64 = 10;

pub(super) struct RemoteWriter {
    remote: Remote,
    runtime: BlockingRuntime,
    /// The published snapshot this writer builds on.
    base: Mutex<Snapshot>,
    /// This commit's changes by (table, date): the new file, or `None` for a removed date.
    pending: Mutex<BTreeMap<(Table, NaiveDate), Option<DataFile>>>,
    /// Sources recorded by this commit.
    sources: Mutex<Option<Vec<Source>>>,
    /// Names this writer's files apart from every other writer's.
    run: String,
    written: AtomicU64,
    /// How long a replaced file, or one no snapshot names, stays for readers that may still
    /// be reading it.
    grace: TimeDelta,
}

impl RemoteWriter {
    /// Opens the lake under `remote` for writing: its latest snapshot (none: the files already
    /// there, as copied from a lake on disk), and the files of killed writers cleared away.
    pub(super) fn open(remote: Remote, grace: TimeDelta) -> Result<RemoteWriter, LakeError> {
        let runtime =
            BlockingRuntime::new().map_err(|e| LakeError::io(Path::new("(runtime)"), e))?;
        let base = match runtime.block_on(snapshot::latest(&remote))? {
            Some(snapshot) => snapshot,
            None => runtime.block_on(adopt(&remote))?,
        };
        let run = format!(
            "{}-{}-{:08x}",
            Utc::now().format("%Y%m%dT%H%M%S"),
            std::process::id(),
            rand::random::<u32>()
        );
        let writer = RemoteWriter {
            remote,
            runtime,
            base: Mutex::new(base),
            pending: Mutex::default(),
            sources: Mutex::default(),
            run,
            written: AtomicU64::new(0),
            grace,
        };
        writer.runtime.block_on(writer.clear_orphans())?;
        Ok(writer)
    }

    /// Uploads a finished rejects file to `_rejects/` in the store; returns its URL.
    pub(super) fn upload_rejects(&self, file: &Path) -> Result<PathBuf, LakeError> {
        let body = std::fs::read(file).map_err(|e| LakeError::io(file, e))?;
        let name = file.file_name().map_or_else(
            || "rejects.jsonl".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let location = self.remote.prefix().clone().join("_rejects").join(name);
        let url = self.remote.url_of(&location);
        self.runtime
            .block_on(self.remote.store().put(&location, PutPayload::from(body)))
            .map_err(|e| StoreError::new(&url, e))?;
        Ok(PathBuf::from(url))
    }

    pub(super) fn requests(&self) -> crate::store::RequestCounts {
        self.remote.requests()
    }

    pub(super) fn sources(&self) -> Vec<Source> {
        self.base.lock().expect("not poisoned").sources.clone()
    }

    pub(super) fn record_sources(&self, sources: Vec<Source>) {
        *self.sources.lock().expect("not poisoned") = Some(sources);
    }

    /// Drops what this commit wrote from its view (the files stay as orphans).
    pub(super) fn abandon(&self) {
        self.pending.lock().expect("not poisoned").clear();
        *self.sources.lock().expect("not poisoned") = None;
    }

    /// Publishes this commit as the next snapshot, then clears out what its grace period
    /// no longer protects.
    pub(super) fn publish(&self) -> Result<(), LakeError> {
        let mut base = self.base.lock().expect("not poisoned");
        let pending = std::mem::take(&mut *self.pending.lock().expect("not poisoned"));
        let sources = self.sources.lock().expect("not poisoned").take();
        if pending.is_empty() && sources.is_none() {
            return Ok(());
        }
        let now = Utc::now();
        let mut next = base.clone();
        next.generation += 1;
        for ((table, date), file) in pending {
            let replaced = next.files.iter().position(|f| {
                f.date == date && f.table() == Some(table) && snapshot::own_file(&f.path)
            });
            if let Some(index) = replaced {
                let old = next.files.remove(index);
                next.superseded.push(Superseded {
                    path: old.path,
                    since: now,
                });
            }
            next.files.extend(file);
        }
        next.files.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(sources) = sources {
            next.sources = sources;
        }
        let expired: Vec<String> = next
            .superseded
            .iter()
            .filter(|s| s.since + self.grace < now)
            .map(|s| s.path.clone())
            .collect();
        next.superseded.retain(|s| s.since + self.grace >= now);
        self.runtime.block_on(self.put_snapshot(&next))?;
        *base = next;
        let generation = base.generation;
        drop(base);
        // What follows only tidies up: a failure leaves garbage, never a wrong lake.
        let _ = self.runtime.block_on(self.delete(&expired, generation));
        Ok(())
    }

    async fn put_snapshot(&self, next: &Snapshot) -> Result<(), LakeError> {
        let path = snapshot::snapshot_path(self.remote.prefix(), next.generation);
        let body = serde_json::to_vec(next).expect("snapshots serialise");
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .remote
            .store()
            .put_opts(&path, PutPayload::from(body), options)
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(LakeError::Conflict {
                lake: self.remote.url_of(self.remote.prefix()),
                generation: next.generation,
            }),
            Err(e) => Err(StoreError::new(&self.remote.url_of(&path), e).into()),
        }
    }

    /// Deletes `expired` files and the snapshots older than those kept.
    async fn delete(&self, expired: &[String], generation: u64) -> Result<(), LakeError> {
        let store = self.remote.store();
        for path in expired {
            let _ = store
                .delete(&snapshot::child(self.remote.prefix(), path))
                .await;
        }
        if let Some(old) = generation.checked_sub(KEEP_SNAPSHOTS + 1) {
            let _ = store
                .delete(&snapshot::snapshot_path(self.remote.prefix(), old))
                .await;
        }
        Ok(())
    }

    /// Deletes files of ours that no snapshot names, once older than the grace period: the
    /// leftovers of writers that died before publishing.
    async fn clear_orphans(&self) -> Result<(), LakeError> {
        let named: BTreeSet<String> = {
            let base = self.base.lock().expect("not poisoned");
            base.files
                .iter()
                .map(|f| f.path.clone())
                .chain(base.superseded.iter().map(|s| s.path.clone()))
                .collect()
        };
        let cutoff = Utc::now() - self.grace;
        for table in Table::ALL {
            for object in snapshot::parquet_objects(&self.remote, table.name()).await? {
                let relative = snapshot::relative(self.remote.prefix(), &object.location);
                if snapshot::own_file(&relative)
                    && !named.contains(&relative)
                    && object.last_modified < cutoff
                {
                    let _ = self.remote.store().delete(&object.location).await;
                }
            }
        }
        Ok(())
    }

    /// The date's own file as this commit sees it.
    fn current(&self, table: Table, date: NaiveDate) -> Option<DataFile> {
        if let Some(pending) = self
            .pending
            .lock()
            .expect("not poisoned")
            .get(&(table, date))
        {
            return pending.clone();
        }
        self.base
            .lock()
            .expect("not poisoned")
            .files
            .iter()
            .find(|f| f.date == date && f.table() == Some(table) && snapshot::own_file(&f.path))
            .cloned()
    }
}

impl DateFiles for RemoteWriter {
    fn dates(&self, table: Table) -> Result<BTreeSet<NaiveDate>, LakeError> {
        let mut dates: BTreeSet<NaiveDate> = self
            .base
            .lock()
            .expect("not poisoned")
            .files
            .iter()
            .filter(|f| f.table() == Some(table) && snapshot::own_file(&f.path))
            .map(|f| f.date)
            .collect();
        for ((t, date), file) in self.pending.lock().expect("not poisoned").iter() {
            if *t == table {
                if file.is_some() {
                    dates.insert(*date);
                } else {
                    dates.remove(date);
                }
            }
        }
        Ok(dates)
    }

    fn read(
        &self,
        table: Table,
        date: NaiveDate,
        part: Part,
    ) -> Result<Vec<RecordBatch>, LakeError> {
        let Some(file) = self.current(table, date) else {
            return Ok(Vec::new());
        };
        let location = snapshot::child(self.remote.prefix(), &file.path);
        let url = self.remote.url_of(&location);
        let bytes = self.runtime.block_on(self.remote.read_all(&location))?;
        file::decode(bytes, Path::new(&url), part)
    }

    fn write(
        &self,
        table: Table,
        date: NaiveDate,
        batches: &[RecordBatch],
        rows: &[(usize, usize)],
    ) -> Result<(), LakeError> {
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let relative = format!(
            "{}/date={}/part-{}-{n}.parquet",
            table.name(),
            date.format("%Y-%m-%d"),
            self.run
        );
        let location = snapshot::child(self.remote.prefix(), &relative);
        let url = self.remote.url_of(&location);
        let body = file::encode_sorted(Vec::new(), &PathBuf::from(&url), batches, rows)?;
        let size = body.len() as u64;
        self.runtime
            .block_on(self.remote.store().put(&location, PutPayload::from(body)))
            .map_err(|e| StoreError::new(&url, e))?;
        self.pending.lock().expect("not poisoned").insert(
            (table, date),
            Some(DataFile {
                table: table.name().to_string(),
                date,
                path: relative,
                size,
            }),
        );
        Ok(())
    }

    fn remove(&self, table: Table, date: NaiveDate) -> Result<(), LakeError> {
        self.pending
            .lock()
            .expect("not poisoned")
            .insert((table, date), None);
        Ok(())
    }
}

impl std::fmt::Debug for RemoteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RemoteWriter({})",
            self.remote.url_of(self.remote.prefix())
        )
    }
}

/// The first snapshot of a prefix that holds a lake copied from disk (or nothing yet): every
/// Parquet file already in its tables.
async fn adopt(remote: &Remote) -> Result<Snapshot, LakeError> {
    let mut files = Vec::new();
    for table in Table::ALL {
        for object in snapshot::parquet_objects(remote, table.name()).await? {
            if let Some(date) = snapshot::date_of(&object.location) {
                files.push(DataFile {
                    table: table.name().to_string(),
                    date,
                    path: snapshot::relative(remote.prefix(), &object.location),
                    size: object.size,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    // A lake copied from disk brings the manifest of what it ingested.
    let manifest = remote.prefix().clone().join("_manifest.jsonl");
    let sources = match remote.read_all(&manifest).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            Manifest::parse(&text, Path::new(&remote.url_of(&manifest)))?.sources()
        }
        Err(e) if e.kind == FailureKind::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(Snapshot {
        files,
        sources,
        ..Snapshot::default()
    })
}
