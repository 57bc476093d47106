//! The Parquet lake (SPEC §4): layout, atomic per-date files, merging with deduplication, the
//! manifest of ingested sources, and the lock that serialises writers.

mod commit;
mod error;
mod file;
pub mod layout;
mod manifest;

use std::fs::File;
use std::path::{Path, PathBuf};

pub use commit::CommitStats;
pub use error::LakeError;
pub use file::read as read_file;
pub use manifest::{Manifest, Source};

use arrow::array::RecordBatch;

use crate::catalog::schema::Table;

/// A lake opened for writing. Holding it holds the lake's lock, so two ingests into one lake
/// run one after the other instead of interleaving their file swaps.
#[derive(Debug)]
pub struct LakeWriter {
    root: PathBuf,
    _lock: File,
}

impl LakeWriter {
    /// Opens (creating) the lake at `root`, waiting for another writer to finish; `waiting`
    /// is called once if it has to wait, so the user learns why nothing happens.
    pub fn open(root: &Path, waiting: impl FnOnce()) -> Result<LakeWriter, LakeError> {
        let io = |e| LakeError::io(root, e);
        std::fs::create_dir_all(root).map_err(io)?;
        let lock_path = layout::lock_file(root);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| LakeError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            waiting();
            lock.lock().map_err(|e| LakeError::io(&lock_path, e))?;
        }
        // Temporary files of a run that was killed are garbage now that we hold the lock.
        let _ = std::fs::remove_dir_all(layout::staging_dir(root));
        Ok(LakeWriter {
            root: root.to_path_buf(),
            _lock: lock,
        })
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
