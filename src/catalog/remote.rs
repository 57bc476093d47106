//! A lake in object storage (`--lake az://…`, `s3://…`): its tables' files listed through the
//! store, their footers read by range to tell the lake's own files from other tools', and the
//! tables registered on sessions that hold the store (a cluster's among them).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use object_store::ObjectMeta;

use super::contents::{LakeDates, NotALake};
use super::foreign::{Shape, shape_of_objects};
use super::register::{register_findings, register_tables};
use crate::lake::layout::FINDINGS_TABLE;
use crate::lake::snapshot::{self, Snapshot, SnapshotView};
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

/// A lake in a store as read: its dates, and the snapshot read (none for a lake no ingest of
/// ours has written to: every file there).
#[derive(Debug)]
pub struct RemoteLake {
    pub dates: LakeDates,
    pub snapshot: Option<Snapshot>,
    /// The lake's location, seen through its snapshot when it has one.
    seen: Remote,
    view: Option<Arc<SnapshotView>>,
    /// Per table, how its files differ from the lake's own.
    shapes: [Shape; 2],
    findings: bool,
}

impl RemoteLake {
    /// The lake under `remote` as of its latest snapshot: its files listed, and their footers
    /// read to tell the lake's own files from other tools'.
    ///
    /// # Errors
    /// A prefix with no data files of either table (not a lake), a store that cannot be
    /// listed, or a data file whose footer cannot be read.
    pub async fn open(remote: &Remote) -> Result<RemoteLake, RemoteLakeError> {
        // A lake this tool writes is its latest snapshot's files; one copied from disk, or
        // written by another tool, is every file there.
        let snapshot = snapshot::latest(remote).await?;
        let view = snapshot
            .as_ref()
            .map(|snapshot| Arc::new(SnapshotView::of(remote, snapshot)));
        let seen = match &view {
            Some(view) => remote.through(view.over(Arc::clone(remote.store()))),
            None => remote.clone(),
        };
        let mut tables = Vec::new();
        let mut shapes = [Shape::default(), Shape::default()];
        for table in Table::ALL {
            let files = snapshot::parquet_objects(&seen, table.name()).await?;
            shapes[table as usize] =
                shape_of_objects(seen.store(), &files, |f| seen.url_of(&f.location)).await?;
            tables.push((table, dates(&files)));
        }
        if tables.iter().all(|(_, dates)| dates.is_empty()) {
            return Err(NotALake::NoTables(PathBuf::from(seen.url_of(seen.prefix()))).into());
        }
        let findings = !snapshot::parquet_objects(&seen, FINDINGS_TABLE)
            .await?
            .is_empty();
        Ok(RemoteLake {
            dates: LakeDates { tables },
            snapshot,
            seen,
            view,
            shapes,
            findings,
        })
    }

    /// Registers the lake's tables with `ctx`, its store included. On a cluster's session the
    /// tables carry the snapshot, so the scheduler lists what was listed here.
    ///
    /// # Errors
    /// A table DataFusion cannot register.
    pub async fn register(&self, ctx: &SessionContext) -> Result<(), DataFusionError> {
        ctx.register_object_store(self.seen.store_url(), Arc::clone(self.seen.store()));
        let base = self.seen.table_url(self.seen.prefix());
        register_tables(
            ctx,
            &base,
            &self.shapes,
            &Default::default(),
            self.view.clone(),
        )
        .await?;
        if self.findings {
            register_findings(ctx, &base).await?;
        }
        Ok(())
    }
}

/// Registers the lake under `remote` with `ctx`, its store included, as of its latest
/// snapshot.
///
/// # Errors
/// As [`RemoteLake::open`] and [`RemoteLake::register`].
pub async fn register_remote_lake(
    ctx: &SessionContext,
    remote: &Remote,
) -> Result<RemoteLake, RemoteLakeError> {
    let lake = RemoteLake::open(remote).await?;
    lake.register(ctx).await?;
    Ok(lake)
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
