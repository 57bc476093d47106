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

use std::fs::File;
use std::path::{Path, PathBuf};

pub use commit::CommitStats;
pub use error::LakeError;
pub use file::read as read_file;
pub use findings::append as append_findings;
pub use manifest::{Manifest, Resume, Source};

use arrow::array::RecordBatch;

use crate::schema::Table;

/// A lake opened for writing. Holding it holds the lake's lock, so two ingests into one lake
/// run one after the other instead of interleaving their file swaps.
#[derive(Debug)]
pub struct LakeWriter {
    root: PathBuf,
    _lock: File,
    readers: File,
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
            root: root.to_path_buf(),
            _lock: lock,
            readers,
        })
    }

    /// Runs `publish` (a commit of both tables and the manifest) with no reader reading.
    ///
    /// # Errors
    /// The lock cannot be taken, or what `publish` returns.
    pub fn publish<T, E: From<LakeError>>(
        &self,
        publish: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let path = layout::readers_file(&self.root);
        self.readers.lock().map_err(|e| LakeError::io(&path, e))?;
        let published = publish();
        self.readers.unlock().map_err(|e| LakeError::io(&path, e))?;
        published
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Merges `batches` into `table` (see [`commit`]).
    pub fn commit(
        &self,
        table: Table,
        batches: Vec<RecordBatch>,
    ) -> Result<CommitStats, LakeError> {
        commit::commit(&self.root, table, batches)
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
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
