//! Lake failures, each naming the file it happened to.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: parquet: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("{path}: arrow: {source}")]
    Arrow {
        path: PathBuf,
        source: arrow::error::ArrowError,
    },
    #[error("{path}: {reason}")]
    Schema { path: PathBuf, reason: String },
    /// A file that is only ever added, never replaced, is there already.
    #[error("{path}: exists already")]
    Exists { path: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Another writer published a commit to a lake in object storage meanwhile.
    #[error(
        "{lake}: another writer published snapshot {generation} while this one was committing; \
         nothing of this commit is visible: run it again"
    )]
    Conflict { lake: String, generation: u64 },
    #[error("{path}: manifest line {line}: {reason}")]
    Manifest {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl LakeError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        LakeError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn parquet(path: &std::path::Path, source: parquet::errors::ParquetError) -> Self {
        LakeError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn arrow(path: &std::path::Path, source: arrow::error::ArrowError) -> Self {
        LakeError::Arrow {
            path: path.to_path_buf(),
            source,
        }
    }
}
