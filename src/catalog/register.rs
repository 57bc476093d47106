//! The lake's tables as DataFusion tables: one listing table per table folder, with the
//! `date` Hive partition (so time filters prune whole days) and the files' own
//! `sorting_columns` as their order (DataFusion reads it from the Parquet metadata; nothing is
//! declared that a file might not hold).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use super::damaged::parquet_files;
use super::foreign::{Shape, shape_of_files};
use super::lake_table::LakeTable;
use crate::engine::runs_on_cluster;
use crate::lake::layout::{FINDINGS_TABLE, findings_dir};
use crate::lake::snapshot::SnapshotView;
use crate::schema::{Table, lake_schema};

/// Registers both tables of the lake at `location` (a path or a URL whose object store is
/// registered with `ctx`). A missing table folder reads as an empty table.
///
/// # Errors
/// A location that is not a valid path or URL.
pub async fn register_lake(ctx: &SessionContext, location: &str) -> Result<()> {
    register_lake_skipping(ctx, location, &BTreeSet::new()).await
}

/// As [`register_lake`], with the files in `skip` (see [`super::damaged_files`]) left out of
/// the tables as if they were not there.
///
/// # Errors
/// As [`register_lake`].
pub async fn register_lake_skipping(
    ctx: &SessionContext,
    location: &str,
    skip: &BTreeSet<PathBuf>,
) -> Result<()> {
    let base = location.trim_end_matches('/');
    // Only local folders are inspected here; `remote.rs` inspects a lake in a store.
    let local = base
        .strip_prefix("file://")
        .or((!base.contains("://")).then_some(base));
    let mut shapes = [Shape::default(), Shape::default()];
    if let Some(dir) = local {
        for table in Table::ALL {
            shapes[table as usize] = shape_of_files(&Path::new(dir).join(table.name()), skip)?;
        }
    }
    register_tables(ctx, base, &shapes, skip, None).await?;
    if let Some(dir) = local
        && !parquet_files(&findings_dir(Path::new(dir))).is_empty()
    {
        register_findings(ctx, base).await?;
    }
    Ok(())
}

/// Registers both tables under `base`; `shapes` say, per table, how its files differ from the
/// lake's own (see `foreign.rs`); `view`, which files of a lake in a store are its snapshot's.
pub(super) async fn register_tables(
    ctx: &SessionContext,
    base: &str,
    shapes: &[Shape; 2],
    skip: &BTreeSet<PathBuf>,
    view: Option<Arc<SnapshotView>>,
) -> Result<()> {
    let schema = read_schema(&text_type(ctx));
    for table in Table::ALL {
        let lake_table = LakeTable::open(
            &format!("{base}/{}/", table.name()),
            Arc::clone(&schema),
            ctx.copied_table_options().parquet,
            ctx.runtime_env().cache_manager.get_file_statistic_cache(),
            shapes[table as usize].clone(),
            skip.clone(),
        )?
        .seen_through(view.clone());
        ctx.register_table(TableReference::bare(table.name()), Arc::new(lake_table))?;
    }
    Ok(())
}

/// The findings scheduled hunts appended (`RetrohuntFindings`), partitioned by the runs'
/// dates. Runs with and without `--enrich` wrote different columns: the table has them all,
/// and a run's file reads as null where it has none.
pub(super) async fn register_findings(ctx: &SessionContext, base: &str) -> Result<()> {
    let url = format!("{base}/{FINDINGS_TABLE}/");
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("run_date".to_string(), DataType::Date32)]);
    let config = ListingTableConfig::new(ListingTableUrl::parse(&url)?)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await?;
    ctx.register_table(
        TableReference::bare(FINDINGS_TABLE),
        Arc::new(ListingTable::try_new(config)?),
    )?;
    Ok(())
}

/// The lake's schema with every column nullable: files other tools wrote may lack columns or
/// hold nulls, which the scan must be able to carry until `foreign.rs` adapts them. Text is
/// read as `text`.
fn read_schema(text: &DataType) -> SchemaRef {
    let fields = lake_schema()
        .fields()
        .iter()
        .map(|field| {
            let field = field.as_ref().clone().with_nullable(true);
            match field.data_type() {
                DataType::Utf8 => field.with_data_type(text.clone()),
                _ => field,
            }
        })
        .collect::<Vec<_>>();
    Arc::new(Schema::new(fields))
}

/// How `ctx` reads the lake's text. On one machine, as views (`Utf8View`) into the decoded
/// pages: no value is copied until a row is kept, which makes the hunt's scan about a third
/// faster (BENCHMARKS.md). On a cluster, plainly: batches cross processes as Arrow IPC, which
/// sends a view array's whole buffers, so views would ship every page a batch touches.
fn text_type(ctx: &SessionContext) -> DataType {
    if runs_on_cluster(ctx) {
        DataType::Utf8
    } else {
        DataType::Utf8View
    }
}
