//! A lake in object storage (`--lake az://…`, `s3://…`): its tables' files listed through the
//! store, their footers read by range to tell the lake's own files from other tools', and the
//! tables registered on a session that holds the store.

use std::path::PathBuf;

use chrono::NaiveDate;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use object_store::ObjectMeta;

use super::contents::{LakeDates, NotALake};
use super::foreign::holds_foreign_objects;
use super::register::{register_findings, register_tables};
use crate::lake::layout::FINDINGS_TABLE;
use crate::lake::snapshot::{self, Snapshot};
use crate::schema::Table;
use crate::store::{Remote, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RemoteLakeError {
    #[error(transparent)]
    NotALake(#[from] NotALake),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// A lake in a store as registered: its dates, and the snapshot read (none for a lake no
/// ingest of ours has written to: every file there).
#[derive(Debug)]
pub struct RemoteLake {
    pub dates: LakeDates,
    pub snapshot: Option<Snapshot>,
}

/// Registers the lake under `remote` with `ctx`, its store included, as of its latest
/// snapshot.
///
/// # Errors
/// A prefix with no data files of either table (not a lake), a store that cannot be listed,
/// or a data file whose footer cannot be read.
pub async fn register_remote_lake(
    ctx: &SessionContext,
    remote: &Remote,
) -> Result<RemoteLake, RemoteLakeError> {
    // A lake this tool writes is its latest snapshot's files; one copied from disk, or written
    // by another tool, is every file there.
    let snapshot = snapshot::latest(remote).await?;
    let remote = match &snapshot {
        Some(snapshot) => &remote.through(snapshot::restricted(remote, snapshot)),
        None => remote,
    };
    ctx.register_object_store(remote.store_url(), std::sync::Arc::clone(remote.store()));
    let mut tables = Vec::new();
    let mut foreign = [false; 2];
    for table in Table::ALL {
        let files = snapshot::parquet_objects(remote, table.name()).await?;
        foreign[table as usize] =
            holds_foreign_objects(remote.store(), &files, |f| remote.url_of(&f.location)).await?;
        tables.push((table, dates(&files)));
    }
    if tables.iter().all(|(_, dates)| dates.is_empty()) {
        return Err(NotALake::NoTables(PathBuf::from(remote.url_of(remote.prefix()))).into());
    }
    let base = remote.table_url(remote.prefix());
    register_tables(ctx, &base, foreign, &Default::default()).await?;
    if !snapshot::parquet_objects(remote, FINDINGS_TABLE)
        .await?
        .is_empty()
    {
        register_findings(ctx, &base).await?;
    }
    Ok(RemoteLake {
        dates: LakeDates { tables },
        snapshot,
    })
}

/// The dates of the `date=` folders that hold `files`, ascending.
fn dates(files: &[ObjectMeta]) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = files
        .iter()
        .filter_map(|file| snapshot::date_of(&file.location))
        .collect();
    dates.sort();
    dates.dedup();
    dates
}
