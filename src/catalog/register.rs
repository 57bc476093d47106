//! The lake's tables as DataFusion tables: one listing table per table folder, with the
//! `date` Hive partition (so time filters prune whole days) and the files' own
//! `sorting_columns` as their order (DataFusion reads it from the Parquet metadata; nothing is
//! declared that a file might not hold).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::optimizer::OptimizerRule;
use datafusion::prelude::SessionContext;
use object_store::{ObjectMeta, ObjectStore};
use url::Url;

use super::contents::{LakeDates, NotALake, inspect};
use super::foreign::{Shape, shape_of_objects};
use super::lake_table::LakeTable;
use crate::engine::runs_on_cluster;
use crate::lake::layout::FINDINGS_TABLE;
use crate::lake::snapshot::{self, SnapshotView};
use crate::lake::{LakeError, Pinned, Root};
use crate::operator::late_fetch::LateFetchRule;
use crate::operator::window_join::WindowJoinRule;
use crate::schema::{Table, lake_schema};
use crate::store::Location;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    NotALake(#[from] NotALake),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// A lake's tables as one reader sees them: their dates, how their files differ from the
/// lake's own, and whether scheduled hunts have left findings, as of the commit pinned.
#[derive(Debug)]
pub struct LakeTables {
    pub dates: LakeDates,
    /// The store the tables are read through (a folder's `LocalFileSystem`, as of the
    /// commit for a store), and the URL it is registered under.
    store: (Url, Arc<dyn ObjectStore>),
    /// The lake's URL below it.
    base: String,
    view: Option<Arc<SnapshotView>>,
    /// Per table, how its files differ from the lake's own.
    shapes: [Shape; Table::COUNT],
    skip: BTreeSet<PathBuf>,
    /// Data files of both tables.
    files: usize,
    findings: bool,
}

impl LakeTables {
    /// The tables of `lake`, which must be a lake: a folder that is missing, a file, or logs
    /// not yet ingested, and a location without a data file, are [`OpenError::NotALake`],
    /// saying what is there instead (DataFusion would read them as empty tables, and a
    /// mistyped `--lake` would hunt nothing and find nothing). Otherwise as
    /// [`LakeTables::read`].
    ///
    /// # Errors
    /// As above, and as [`LakeTables::read`].
    pub async fn open(lake: &Pinned, skip: &BTreeSet<PathBuf>) -> Result<LakeTables, OpenError> {
        if let Some(folder) = lake.root().folder() {
            inspect(folder)?;
        }
        let tables = LakeTables::read(lake, skip).await?;
        if tables.files == 0 {
            return Err(not_a_lake(lake.root()).into());
        }
        Ok(tables)
    }

    /// The tables of `lake` as they are, empty where it holds no files: its files listed, and
    /// their footers read to tell the lake's own files from other tools'. The files in `skip`
    /// (see [`super::damaged_files`]) are left out as if they were not there.
    ///
    /// # Errors
    /// A location that cannot be listed, or a data file whose footer cannot be read.
    pub async fn read(lake: &Pinned, skip: &BTreeSet<PathBuf>) -> Result<LakeTables, OpenError> {
        let seen = lake.seen();
        let skipped =
            |file: &ObjectMeta| skip.contains(&Path::new("/").join(file.location.as_ref()));
        let mut tables = Vec::new();
        let mut shapes: [Shape; Table::COUNT] = Default::default();
        let mut count = 0;
        for table in Table::ALL {
            let mut files = lake.parquet_files(table.name()).await?;
            files.retain(|file| !skipped(file));
            count += files.len();
            shapes[table as usize] =
                shape_of_objects(seen.store(), &files, |f| seen.url_of(&f.location)).await?;
            tables.push((table, dates(&files)));
        }
        let findings = !lake.parquet_files(FINDINGS_TABLE).await?.is_empty();
        Ok(LakeTables {
            dates: LakeDates { tables },
            store: (seen.store_url().clone(), Arc::clone(seen.store())),
            base: seen.table_url(seen.prefix()),
            view: lake.view(),
            shapes,
            skip: skip.clone(),
            files: count,
            findings,
        })
    }

    /// Registers the tables with `ctx`, the lake's store included. On a cluster's session the
    /// tables carry a store's snapshot, so the scheduler lists what was listed here.
    ///
    /// # Errors
    /// A table DataFusion cannot register.
    pub async fn register(&self, ctx: &SessionContext) -> Result<()> {
        ctx.register_object_store(&self.store.0, Arc::clone(&self.store.1));
        register_tables(ctx, &self.base, &self.shapes, &self.skip, self.view.clone()).await?;
        if self.findings {
            register_findings(ctx, &self.base).await?;
        }
        Ok(())
    }
}

/// Why a location without a data file (or none but damaged ones) is not a lake.
fn not_a_lake(root: &Root) -> NotALake {
    match root.folder() {
        Some(folder) => NotALake::NoData(folder.to_path_buf()),
        None => NotALake::NoTables(PathBuf::from(root.display())),
    }
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

/// Registers both tables of the lake at `location` (a path or a store's URL) with `ctx`, as
/// of its latest commit, and returns them; a lake without files reads as empty tables.
///
/// # Errors
/// As [`LakeTables::read`] and [`LakeTables::register`].
pub async fn register_lake(ctx: &SessionContext, location: &str) -> Result<LakeTables, OpenError> {
    let location = Location::parse(location).map_err(LakeError::from)?;
    let lake = Root::new(location)?.pin().await?;
    let tables = LakeTables::read(&lake, &BTreeSet::new()).await?;
    tables.register(ctx).await?;
    Ok(tables)
}

/// Gives `ctx` late materialisation (`operator::late_fetch`), which reads the files of lake
/// tables again after a band join, when it runs band joins on the operator in this process
/// (on a cluster each stage would need every file of the join's inputs) and has not got it.
fn fetch_late(ctx: &SessionContext) {
    let state = ctx.state();
    let has = |name: &str| state.optimizers().iter().any(|rule| rule.name() == name);
    let late_fetch = LateFetchRule::new(Arc::new(LakeTable::store_read_as_is));
    if has(WindowJoinRule.name()) && !has(late_fetch.name()) && !runs_on_cluster(ctx) {
        ctx.add_optimizer_rule(Arc::new(late_fetch));
    }
}

/// Registers both tables under `base`; `shapes` say, per table, how its files differ from the
/// lake's own (see `foreign.rs`); `view`, which files of a lake in a store are its snapshot's.
pub(super) async fn register_tables(
    ctx: &SessionContext,
    base: &str,
    shapes: &[Shape; Table::COUNT],
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
    fetch_late(ctx);
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
