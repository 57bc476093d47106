//! A lake in object storage is the set of files its latest snapshot names.
//!
//! A store cannot rename a folder's worth of files at once, so a commit there writes its date
//! files under new names and then publishes `_snapshots/<generation>.json`, which lists every
//! live file of both tables and the sources ingested, with a create-if-absent put: the commit
//! is that one put. Readers take the highest generation and see exactly its files (a store
//! wrapped to list only those), so they never see a half-written, missing or doubled date
//! file, whatever a writer is doing or however it died. Files a commit replaced stay in the
//! store for a grace period, for readers still on an older snapshot; files no snapshot names
//! (a killed writer's) are deleted once as old.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use serde::{Deserialize, Serialize};

use super::manifest::Source;
use crate::schema::Table;
use crate::store::{Remote, StoreError};

/// Where snapshots are kept, below the lake's prefix.
pub const SNAPSHOTS: &str = "_snapshots";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub generation: u64,
    pub files: Vec<DataFile>,
    /// Files replaced by a commit, kept for readers of older snapshots until a grace period
    /// after `since`.
    #[serde(default)]
    pub superseded: Vec<Superseded>,
    /// The sources ingested (the manifest of a lake on disk).
    #[serde(default)]
    pub sources: Vec<Source>,
}

/// A live data file, its path relative to the lake's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    pub table: String,
    pub date: NaiveDate,
    pub path: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Superseded {
    pub path: String,
    pub since: DateTime<Utc>,
}

impl DataFile {
    pub fn table(&self) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == self.table)
    }
}

/// The Parquet files below `PREFIX/folder/` (a table's, or the findings'), bookkeeping
/// (`_…`, `.…`) left out: what a lake holds there, whoever wrote it.
///
/// # Errors
/// The store cannot be listed.
pub async fn parquet_objects(remote: &Remote, folder: &str) -> Result<Vec<ObjectMeta>, StoreError> {
    let prefix = remote.prefix().clone().join(folder);
    Ok(remote
        .list_all(&prefix)
        .await?
        .into_iter()
        .filter(|object| {
            let below = object.location.prefix_match(&prefix);
            let hidden = below.is_some_and(|mut parts| {
                parts.any(|p| super::layout::not_data(p.as_ref().as_ref()))
            });
            !hidden && object.location.extension() == Some("parquet")
        })
        .collect())
}

/// A date file this project writes (one per table and date); other tools' files in a date
/// folder are carried along untouched.
pub fn own_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == super::layout::DATA_FILE || writer_file(name)
}

/// `part-<run>-<n>.parquet`, `<run>` as `remote.rs` names a writer's run
/// (`YYYYMMDDTHHMMSS-<pid>-<8 hex digits>`): Spark's `part-00000-<uuid>.parquet` is not one.
fn writer_file(name: &str) -> bool {
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let Some(stem) = name
        .strip_prefix("part-")
        .and_then(|s| s.strip_suffix(".parquet"))
    else {
        return false;
    };
    match stem.split('-').collect::<Vec<_>>().as_slice() {
        [time, pid, run, n] => {
            time.split_once('T').is_some_and(|(day, clock)| {
                day.len() == 8 && clock.len() == 6 && digits(day) && digits(clock)
            }) && digits(pid)
                && run.len() == 8
                && run.bytes().all(|b| b.is_ascii_hexdigit())
                && digits(n)
        }
        _ => false,
    }
}

/// The date of the `date=` folder that holds `location`.
pub fn date_of(location: &ObjectPath) -> Option<NaiveDate> {
    location.parts().find_map(|part| {
        let date = part.as_ref().strip_prefix("date=")?;
        NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
    })
}

/// `location` relative to `prefix`, as snapshots name files.
pub fn relative(prefix: &ObjectPath, location: &ObjectPath) -> String {
    location
        .prefix_match(prefix)
        .map(|parts| {
            parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_else(|| location.to_string())
}

/// The object of snapshot `generation` below `prefix`; names sort as numbers.
pub fn snapshot_path(prefix: &ObjectPath, generation: u64) -> ObjectPath {
    prefix
        .clone()
        .join(SNAPSHOTS)
        .join(format!("{generation:020}.json"))
}

/// The latest snapshot of the lake under `remote`, if any was published.
///
/// # Errors
/// The store cannot be listed or read, or the snapshot is not one.
pub async fn latest(remote: &Remote) -> Result<Option<Snapshot>, StoreError> {
    let folder = remote.prefix().clone().join(SNAPSHOTS);
    let Some(newest) = remote
        .list_all(&folder)
        .await?
        .into_iter()
        .filter(|o| o.location.extension() == Some("json"))
        .max_by(|a, b| a.location.cmp(&b.location))
    else {
        return Ok(None);
    };
    let bytes = remote.read_all(&newest.location).await?;
    parse(&bytes)
        .map(Some)
        .map_err(|reason| StoreError::corrupt(&remote.url_of(&newest.location), reason))
}

fn parse(bytes: &Bytes) -> Result<Snapshot, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not a snapshot: {e}"))
}

/// What readers of a snapshot see of its lake's store: below the tables' folders, only the
/// snapshot's files. It travels in plans shipped to a cluster (`catalog/lake_table.rs`), whose
/// scheduler lists the tables again and must see what the client saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotView {
    live: HashSet<ObjectPath>,
    tables: Vec<ObjectPath>,
}

impl SnapshotView {
    pub fn of(remote: &Remote, snapshot: &Snapshot) -> SnapshotView {
        let prefix = remote.prefix();
        SnapshotView {
            live: snapshot
                .files
                .iter()
                .map(|f| child(prefix, &f.path))
                .collect(),
            tables: Table::ALL
                .iter()
                .map(|t| prefix.clone().join(t.name()))
                .collect(),
        }
    }

    /// The view of [`SnapshotView::paths`].
    pub fn from_paths(live: &[String], tables: &[String]) -> SnapshotView {
        SnapshotView {
            live: live.iter().map(|p| ObjectPath::from(p.as_str())).collect(),
            tables: tables
                .iter()
                .map(|p| ObjectPath::from(p.as_str()))
                .collect(),
        }
    }

    /// The live files and the tables' folders, as paths inside the store, sorted.
    pub fn paths(&self) -> (Vec<String>, Vec<String>) {
        let mut live: Vec<String> = self.live.iter().map(ToString::to_string).collect();
        live.sort();
        let tables = self.tables.iter().map(ToString::to_string).collect();
        (live, tables)
    }

    fn visible(&self, location: &ObjectPath) -> bool {
        let in_table = self
            .tables
            .iter()
            .any(|t| location.prefix_match(t).is_some());
        !in_table || self.live.contains(location)
    }

    /// `inner` as readers of the snapshot must see it.
    pub fn over(self: &Arc<Self>, inner: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        Arc::new(SnapshotStore {
            inner,
            view: Arc::clone(self),
        })
    }
}

/// `relative` (`a/b/c`) below `prefix`.
pub fn child(prefix: &ObjectPath, relative: &str) -> ObjectPath {
    relative
        .split('/')
        .fold(prefix.clone(), |path, part| path.join(part))
}

#[derive(Debug)]
struct SnapshotStore {
    inner: Arc<dyn ObjectStore>,
    view: Arc<SnapshotView>,
}

impl std::fmt::Display for SnapshotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Snapshot({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for SnapshotStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let view = Arc::clone(&self.view);
        self.inner
            .list(prefix)
            .try_filter(move |meta| futures::future::ready(view.visible(&meta.location)))
            .boxed()
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        let mut listing = self.inner.list_with_delimiter(prefix).await?;
        listing
            .objects
            .retain(|meta| self.view.visible(&meta.location));
        Ok(listing)
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
