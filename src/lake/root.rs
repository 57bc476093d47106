//! Where a lake lives, a folder or a prefix in an object store, and the one place the two
//! differ for everything but the commit of date files (`commit.rs` and `remote.rs` write
//! those).
//!
//! Both are reached through object_store, a folder through its `LocalFileSystem` as
//! DataFusion reads local files, so listing, reading and adding files are one code path for
//! the catalog, the findings table and incremental hunts. What differs is said here once:
//! - a reader pins the lake as of one commit: in a folder by holding the readers' lock (a
//!   commit renames files in place), in a store by reading its latest snapshot and seeing
//!   only the files it names;
//! - a file is added whole and never replaces another: in a folder written beside its place,
//!   synced and linked in unless the name exists; in a store, put with create-if-absent;
//! - a folder has locks a killed process releases, so a second run can wait for the first;
//!   a store has none.
//!
//! A folder keeps the rename protocol rather than a store's snapshots (docs/architecture.md
//! says why): other tools read a folder lake as plain Hive-partitioned Parquet, and would
//! read a snapshot lake's replaced files, kept for an hour for older readers, twice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::error::LakeError;
use super::snapshot::{self, SnapshotView};
use super::{ReadSnapshot, lock_file};
use crate::output::{IfExists, write_whole};
use crate::schema::Table;
use crate::store::{FailureKind, Location, Remote, RequestCounts, StoreError};

/// A lake's location, reachable for reading and adding files.
#[derive(Debug, Clone)]
pub struct Root {
    /// The lake's objects: a folder's files through `LocalFileSystem`, or a store's prefix.
    objects: Remote,
    /// The folder, for a lake on local disk.
    folder: Option<PathBuf>,
}

impl Root {
    /// The lake at `location`.
    ///
    /// # Errors
    /// A folder path that cannot be made absolute.
    pub fn new(location: Location) -> Result<Root, LakeError> {
        Ok(match location {
            Location::Local(folder) => Root {
                objects: Remote::folder(&folder)?,
                folder: Some(folder),
            },
            Location::Remote(remote) => Root {
                objects: remote,
                folder: None,
            },
        })
    }

    /// The folder of a lake on local disk.
    pub fn folder(&self) -> Option<&Path> {
        self.folder.as_deref()
    }

    /// The lake's objects, as a store reaches them.
    pub(super) fn objects(&self) -> &Remote {
        &self.objects
    }

    /// The requests made to a lake in a store so far (`None` for a folder).
    pub fn requests(&self) -> Option<RequestCounts> {
        self.folder.is_none().then(|| self.objects.requests())
    }

    /// How output names the lake: its path, or its URL without secrets.
    pub fn display(&self) -> String {
        match &self.folder {
            Some(folder) => folder.display().to_string(),
            None => self.objects.url_of(self.objects.prefix()),
        }
    }

    /// `relative` (`a/b/c`) below the lake, as an object path.
    fn path(&self, relative: &str) -> ObjectPath {
        snapshot::child(self.objects.prefix(), relative)
    }

    /// How output names the file at `relative`: a path, or a URL without secrets.
    pub fn name_of(&self, relative: &str) -> String {
        match &self.folder {
            Some(folder) => folder.join(relative).display().to_string(),
            None => self.objects.url_of(&self.path(relative)),
        }
    }

    /// Adds the file at `relative` with what `write` writes, whole or not at all, never
    /// replacing one (a name that exists is [`LakeError::Exists`]); returns its name.
    ///
    /// # Errors
    /// What `write` returns, I/O and store errors, each naming the file.
    pub async fn create(
        &self,
        relative: &str,
        write: impl FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
    ) -> Result<String, LakeError> {
        let name = self.name_of(relative);
        let exists = || LakeError::Exists { path: name.clone() };
        if let Some(folder) = &self.folder {
            let target = folder.join(relative);
            let io = |e| LakeError::io(&target, e);
            std::fs::create_dir_all(target.parent().unwrap_or(folder)).map_err(io)?;
            return match write_whole(&target, IfExists::Fail, |file| write(file)) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
                written => written.map(|()| name.clone()).map_err(io),
            };
        }
        let mut body = Vec::new();
        write(&mut body).map_err(|e| LakeError::io(Path::new(&name), e))?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let location = self.path(relative);
        let put = self
            .objects
            .store()
            .put_opts(&location, PutPayload::from(body), options);
        match put.await {
            Ok(_) => Ok(name),
            Err(object_store::Error::AlreadyExists { .. }) => Err(exists()),
            Err(e) => Err(StoreError::new(&name, e).into()),
        }
    }

    /// The whole file at `relative`, `None` if there is none.
    ///
    /// # Errors
    /// I/O and store errors, naming the file.
    pub async fn read(&self, relative: &str) -> Result<Option<Bytes>, LakeError> {
        match self.objects.read_all(&self.path(relative)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind == FailureKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The files below the folder `relative`; none if it does not exist.
    ///
    /// # Errors
    /// The folder cannot be listed.
    pub async fn list(&self, relative: &str) -> Result<Vec<ObjectMeta>, LakeError> {
        match self.objects.list_all(&self.path(relative)).await {
            Err(e) if e.kind == FailureKind::NotFound => Ok(Vec::new()),
            listed => Ok(listed?),
        }
    }

    /// Removes the file at `relative` if it can: what is left is garbage, not a fault.
    pub async fn remove(&self, relative: &str) {
        let _ = self.objects.store().delete(&self.path(relative)).await;
    }

    /// In a folder, the lock file at `relative`, held (waiting for its holder, after calling
    /// `waiting` once, if another process holds it) until the returned file is dropped. A
    /// store has no lock a killed process would release: `None`, and runs rely on
    /// [`Root::create`] refusing the second of two.
    ///
    /// # Errors
    /// The lock file cannot be created or locked.
    pub fn lock(&self, relative: &str, waiting: impl FnOnce()) -> Result<Option<File>, LakeError> {
        let Some(folder) = &self.folder else {
            return Ok(None);
        };
        let path = folder.join(relative);
        std::fs::create_dir_all(path.parent().unwrap_or(folder))
            .map_err(|e| LakeError::io(&path, e))?;
        let lock = lock_file(&path)?;
        if lock.try_lock().is_err() {
            waiting();
            lock.lock().map_err(|e| LakeError::io(&path, e))?;
        }
        Ok(Some(lock))
    }

    /// Pins the lake as of its latest commit, for reading.
    ///
    /// # Errors
    /// A folder's readers' lock that cannot be taken; a store that cannot be read, or holds a
    /// snapshot that does not parse.
    pub async fn pin(&self) -> Result<Pinned, LakeError> {
        let (readers, snapshot) = match &self.folder {
            Some(folder) => (Some(ReadSnapshot::take(folder)?), None),
            None => (None, snapshot::latest(&self.objects).await?),
        };
        let view = snapshot
            .as_ref()
            .map(|snapshot| Arc::new(SnapshotView::of(&self.objects, snapshot)));
        let seen = match &view {
            Some(view) => self
                .objects
                .through(view.over(Arc::clone(self.objects.store()))),
            None => self.objects.clone(),
        };
        Ok(Pinned {
            root: self.clone(),
            seen,
            view,
            _readers: readers,
        })
    }
}

/// A lake as of one commit: what every reader of a run (the tables, an incremental hunt's
/// bookkeeping) sees, whatever a writer does meanwhile.
#[derive(Debug)]
pub struct Pinned {
    root: Root,
    /// The lake's objects as of the commit: a store's seen through its snapshot.
    seen: Remote,
    view: Option<Arc<SnapshotView>>,
    /// A folder's readers' lock, held while the lake is read.
    _readers: Option<ReadSnapshot>,
}

impl Pinned {
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The lake's objects as of the commit.
    pub fn seen(&self) -> &Remote {
        &self.seen
    }

    /// For a lake in a store with a snapshot, which files are the snapshot's: what a
    /// cluster's scheduler must list too.
    pub fn view(&self) -> Option<Arc<SnapshotView>> {
        self.view.clone()
    }

    /// The data files below `PREFIX/folder/` (a table's, or the findings'), bookkeeping left
    /// out, as of the commit.
    ///
    /// # Errors
    /// The lake cannot be listed.
    pub async fn parquet_files(&self, folder: &str) -> Result<Vec<ObjectMeta>, LakeError> {
        match snapshot::parquet_objects(&self.seen, folder).await {
            Err(e) if e.kind == FailureKind::NotFound => Ok(Vec::new()),
            listed => Ok(listed?),
        }
    }

    /// Every date file of the users' tables (the hunt's), by `Table/date=YYYY-MM-DD`, with an identity that
    /// changes whenever a commit replaces it: a commit never edits a file, it replaces it,
    /// under the same name in a folder (a new inode and time) and a new name in a store.
    ///
    /// # Errors
    /// The lake cannot be listed; or it holds a data file this project did not write (the
    /// returned `Err(Some(name))`), whose changes would go unseen.
    pub async fn date_files(&self) -> Result<BTreeMap<String, String>, DateFilesError> {
        let mut files = BTreeMap::new();
        for table in Table::USERS {
            for file in self.parquet_files(table.name()).await? {
                let (Some(date), true) = (snapshot::date_of(&file.location), own_file(&file))
                else {
                    return Err(DateFilesError::Foreign(self.seen.url_of(&file.location)));
                };
                let key = format!("{}/date={}", table.name(), date.format("%Y-%m-%d"));
                let id = format!(
                    "{}-{}-{}",
                    file.location.filename().unwrap_or_default(),
                    file.e_tag.as_deref().unwrap_or_default(),
                    file.size
                );
                files.insert(key, id);
            }
        }
        Ok(files)
    }
}

/// Why a lake's date files cannot be told apart by commit.
#[derive(Debug, thiserror::Error)]
pub enum DateFilesError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// A data file this project did not write.
    #[error("{0} is not a date file of this project")]
    Foreign(String),
}

fn own_file(file: &ObjectMeta) -> bool {
    snapshot::own_file(file.location.as_ref())
}
