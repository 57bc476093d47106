//! The Parquet lake (docs/lake.md): layout, atomic per-date files, merging with deduplication, the
//! manifest of ingested sources, the lock that serialises writers, and the one that keeps
//! readers on one commit.
//!
//! A commit replaces date files one by one, table after table. A reader that listed the files
//! before a replacement and read them after would fail (a footer of the old file, pages of
//! the new), and one that read during a commit would see some dates or one table new and the
//! rest old. So readers hold `_readers` shared from their listing to their last read, and a
//! writer holds it exclusively while it publishes a commit of both tables: every reader sees
//! the lake as of one commit. (A writer waits for running readers before it publishes.)

mod commit;
mod error;
mod file;
mod findings;
pub mod layout;
mod manifest;
mod remote;
mod root;
pub mod snapshot;

use std::fs::File;
use std::path::{Path, PathBuf};

pub use commit::CommitStats;
pub use error::LakeError;
pub use file::read as read_file;
pub use findings::append as append_findings;
pub use manifest::{Manifest, Resume, Source};
pub use root::{DateFilesError, Pinned, Root};

/// How long a lake in a store keeps a replaced file for its readers: a query of ours opens its
/// files within seconds of taking its snapshot.
pub const DEFAULT_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

use arrow::array::RecordBatch;

use crate::schema::Table;
use crate::store::{Remote, RequestCounts};

/// A lake opened for writing. On disk, holding it holds the lake's lock, so two ingests into
/// one lake run one after the other instead of interleaving their file swaps; in a store,
/// commits are snapshots put with create-if-absent (`snapshot.rs`), so of two writers one
/// publishes and the other fails with nothing of it visible.
#[derive(Debug)]
pub struct LakeWriter {
    place: Place,
}

#[derive(Debug)]
enum Place {
    Disk {
        root: PathBuf,
        _lock: File,
        readers: File,
    },
    Store {
        writer: Box<remote::RemoteWriter>,
        /// Rejects are written here as they come, and uploaded when the run ends.
        rejects: tempfile::TempDir,
    },
}

impl LakeWriter {
    /// Opens (creating) the lake at `root`, waiting for another writer to finish; `waiting`
    /// is called once if it has to wait, so the user learns why nothing happens.
    pub fn open(root: &Path, waiting: impl FnOnce()) -> Result<LakeWriter, LakeError> {
        let io = |e| LakeError::io(root, e);
        std::fs::create_dir_all(root).map_err(io)?;
        let lock_path = layout::lock_file(root);
        let lock = lock_file(&lock_path)?;
        if lock.try_lock().is_err() {
            waiting();
            lock.lock().map_err(|e| LakeError::io(&lock_path, e))?;
        }
        // Temporary files of a run that was killed are garbage now that we hold the lock.
        let _ = std::fs::remove_dir_all(layout::staging_dir(root));
        let readers = lock_file(&layout::readers_file(root))?;
        Ok(LakeWriter {
            place: Place::Disk {
                root: root.to_path_buf(),
                _lock: lock,
                readers,
            },
        })
    }

    /// Opens (creating) the lake at `root`: a folder as [`LakeWriter::open`] does, or a prefix
    /// in object storage, where files a commit replaces, and those of writers that died
    /// before publishing, are deleted once `grace` old ([`DEFAULT_GRACE`]): readers of an
    /// older snapshot may still be reading them.
    ///
    /// # Errors
    /// As [`LakeWriter::open`]; a store that cannot be listed or read, or holds a snapshot
    /// that does not parse.
    pub fn open_at(
        root: &Root,
        grace: std::time::Duration,
        waiting: impl FnOnce(),
    ) -> Result<LakeWriter, LakeError> {
        match root.folder() {
            Some(folder) => LakeWriter::open(folder, waiting),
            None => LakeWriter::open_store(root.objects().clone(), grace),
        }
    }

    fn open_store(remote: Remote, grace: std::time::Duration) -> Result<LakeWriter, LakeError> {
        let grace = chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX);
        let rejects = tempfile::tempdir().map_err(|e| LakeError::io(Path::new("(temp)"), e))?;
        Ok(LakeWriter {
            place: Place::Store {
                writer: Box::new(remote::RemoteWriter::open(remote, grace)?),
                rejects,
            },
        })
    }

    /// Runs `publish` (a commit of both tables and the manifest) so that readers see all of
    /// it or none: on disk with no reader reading, in a store as one snapshot.
    ///
    /// # Errors
    /// The lock cannot be taken, the snapshot cannot be published, or what `publish` returns.
    pub fn publish<T, E: From<LakeError>>(
        &self,
        publish: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.place {
            Place::Disk { root, readers, .. } => {
                let path = layout::readers_file(root);
                readers.lock().map_err(|e| LakeError::io(&path, e))?;
                let published = publish();
                readers.unlock().map_err(|e| LakeError::io(&path, e))?;
                published
            }
            Place::Store { writer, .. } => match publish() {
                Ok(value) => {
                    writer.publish()?;
                    Ok(value)
                }
                Err(e) => {
                    writer.abandon();
                    Err(e)
                }
            },
        }
    }

    /// Merges `batches` into `table` (see [`commit`]).
    pub fn commit(
        &self,
        table: Table,
        batches: Vec<RecordBatch>,
    ) -> Result<CommitStats, LakeError> {
        match &self.place {
            Place::Disk { root, .. } => commit::commit(&commit::LocalFiles(root), table, batches),
            Place::Store { writer, .. } => commit::commit(writer.as_ref(), table, batches),
        }
    }

    /// The sources ingested so far.
    pub fn manifest(&self) -> Result<Manifest, LakeError> {
        match &self.place {
            Place::Disk { root, .. } => Manifest::load(root),
            Place::Store { writer, .. } => Ok(Manifest::from_sources(writer.sources())),
        }
    }

    /// Records `manifest` with the commit being published.
    pub fn save_manifest(&self, manifest: &Manifest) -> Result<(), LakeError> {
        match &self.place {
            Place::Disk { root, .. } => manifest.save(root),
            Place::Store { writer, .. } => {
                writer.record_sources(manifest.sources());
                Ok(())
            }
        }
    }

    /// The HTTP requests made to a lake in a store so far.
    pub fn requests(&self) -> Option<RequestCounts> {
        match &self.place {
            Place::Disk { .. } => None,
            Place::Store { writer, .. } => Some(writer.requests()),
        }
    }

    /// Where rejected records are written as they come.
    pub fn rejects_dir(&self) -> PathBuf {
        match &self.place {
            Place::Disk { root, .. } => layout::rejects_dir(root),
            Place::Store { rejects, .. } => rejects.path().to_path_buf(),
        }
    }

    /// Keeps a finished rejects file with the lake; returns where it is.
    ///
    /// # Errors
    /// It cannot be read or uploaded.
    pub fn keep_rejects(&self, file: PathBuf) -> Result<PathBuf, LakeError> {
        match &self.place {
            Place::Disk { .. } => Ok(file),
            Place::Store { writer, .. } => writer.upload_rejects(&file),
        }
    }
}

/// A file that exists to be locked, created if missing.
fn lock_file(path: &Path) -> Result<File, LakeError> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| LakeError::io(path, e))
}

/// Held by a reader of the lake, from listing its files to its last read: no commit is
/// published meanwhile.
#[derive(Debug)]
pub struct ReadSnapshot {
    _readers: Option<File>,
}

impl ReadSnapshot {
    /// Waits for a commit being published to finish. A folder no ingest of ours has opened
    /// (Parquet other tools wrote) has no readers' lock and is read as it is.
    ///
    /// # Errors
    /// The lock file exists but cannot be opened or locked.
    pub fn take(root: &Path) -> Result<ReadSnapshot, LakeError> {
        let path = layout::readers_file(root);
        let readers = match File::open(&path) {
            Ok(file) => file,
            // No lake there (or not even a folder): nothing to wait for; the catalog says
            // what is there instead.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(ReadSnapshot { _readers: None });
            }
            Err(e) => return Err(LakeError::io(&path, e)),
        };
        readers.lock_shared().map_err(|e| LakeError::io(&path, e))?;
        Ok(ReadSnapshot {
            _readers: Some(readers),
        })
    }
}
