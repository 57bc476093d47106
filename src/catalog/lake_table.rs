//! The lake's tables scan one file per partition. Every file is sorted by
//! (`UserKey`, `TimeGenerated`), but a partition of several files keeps no order (their keys
//! overlap), and a stock listing table packs all the dates into `target_partitions` groups.
//! One file per partition keeps each file's order visible to the planner, so joins that
//! need it (the window join) merge the files instead of sorting them again.
//!
//! A table holding files other tools wrote is read through the adaptation of `foreign.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::config::{TableOptions, TableParquetOptions};
use datafusion::common::{ColumnStatistics, DataFusionError, Result, Statistics, internal_err};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl, PartitionedFile,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::TaskContext;
use datafusion::execution::cache::cache_manager::FileStatisticsCache;
use datafusion::execution::context::SessionState;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use prost::Message;

use super::foreign::{self, Shape};
use crate::guid::UUID;
use crate::lake::snapshot::SnapshotView;

/// More partitions than a lake has dates: each file becomes its own group.
const ONE_GROUP_PER_FILE: usize = 1 << 20;

#[derive(Debug)]
pub struct LakeTable {
    files: ListingTable,
    /// The table's schema: the files' as read, but GUIDs held as UUIDs read as text.
    schema: SchemaRef,
    /// How its files differ from the lake's own (see `foreign.rs`).
    shape: Shape,
    /// Damaged files the user chose to hunt without.
    skip: BTreeSet<PathBuf>,
    /// For a lake in a store, the files of the snapshot read; shipped with the table so that
    /// a cluster's scheduler lists those and no others (a writer's unpublished files, or
    /// files a later commit replaced, are in the same folders).
    view: Option<Arc<SnapshotView>>,
}

/// The Hive partition column of the lake's folders (`date=YYYY-MM-DD`).
const DATE: &str = "date";

/// What a plan shipped to another process (a cluster's scheduler) carries of a lake table:
/// where its files are and how to read them. The files are listed again there.
#[derive(Clone, PartialEq, prost::Message)]
struct LakeTableProto {
    #[prost(string, tag = "1")]
    url: String,
    #[prost(bool, tag = "2")]
    foreign: bool,
    #[prost(string, repeated, tag = "3")]
    skip: Vec<String>,
    #[prost(message, optional, tag = "4")]
    snapshot: Option<SnapshotViewProto>,
    #[prost(string, repeated, tag = "5")]
    uuid_columns: Vec<String>,
}

/// A [`SnapshotView`]: paths inside the store.
#[derive(Clone, PartialEq, prost::Message)]
struct SnapshotViewProto {
    #[prost(string, repeated, tag = "1")]
    live: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    tables: Vec<String>,
}

impl LakeTable {
    /// The table of the files under `url` (a table's folder), read as `schema`, the `date`
    /// Hive partition included; `shape` says how its files differ from the lake's own.
    ///
    /// # Errors
    /// A URL DataFusion cannot list.
    pub fn open(
        url: &str,
        schema: SchemaRef,
        parquet: TableParquetOptions,
        statistics: Option<Arc<FileStatisticsCache>>,
        shape: Shape,
        skip: BTreeSet<PathBuf>,
    ) -> Result<Self> {
        let format = ParquetFormat::default().with_options(parquet);
        let options = ListingOptions::new(Arc::new(format))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![(DATE.to_string(), DataType::Date32)]);
        let config = ListingTableConfig::new(ListingTableUrl::parse(url)?)
            .with_listing_options(options)
            .with_schema(as_uuids(&schema, &shape.uuid_columns));
        let files = ListingTable::try_new(config)?.with_cache(statistics);
        // The table shows `schema` as given (UUID columns as text), the partition after it.
        let partitions = files.schema().fields()[schema.fields().len()..].to_vec();
        let schema = Arc::new(Schema::new_with_metadata(
            [schema.fields().to_vec(), partitions].concat(),
            schema.metadata().clone(),
        ));
        Ok(LakeTable {
            files,
            schema,
            shape,
            skip,
            view: None,
        })
    }

    /// This table as of the snapshot `view` shows (`None`: every file listed).
    pub fn seen_through(self, view: Option<Arc<SnapshotView>>) -> Self {
        LakeTable { view, ..self }
    }

    /// The store of `table`'s files when it is a lake table whose files hold each column as
    /// the table reads it (none adapted, no UUIDs read as text): then a value read again from
    /// a file by its row's position is the value the scan read (`operator::late_fetch`).
    pub fn store_read_as_is(table: &dyn TableProvider) -> Option<ObjectStoreUrl> {
        let table = table.downcast_ref::<LakeTable>()?;
        if table.shape.foreign || !table.shape.uuid_columns.is_empty() {
            return None;
        }
        Some(table.files.table_paths().first()?.object_store())
    }

    /// `table` encoded for a plan shipped to another process, `None` if it is not a lake table.
    pub fn encode(table: &dyn TableProvider) -> Option<Vec<u8>> {
        let table = table.downcast_ref::<LakeTable>()?;
        let proto = LakeTableProto {
            url: table.files.table_paths().first()?.as_str().to_string(),
            foreign: table.shape.foreign,
            uuid_columns: table.shape.uuid_columns.iter().cloned().collect(),
            skip: table.skip.iter().map(|p| p.display().to_string()).collect(),
            snapshot: table.view.as_ref().map(|view| {
                let (live, tables) = view.paths();
                SnapshotViewProto { live, tables }
            }),
        };
        Some(proto.encode_to_vec())
    }

    /// The table [`LakeTable::encode`] encoded, read as `schema` (the plan carries it, the
    /// `date` partition included) with the Parquet options of the session decoding it. A
    /// snapshot it carries restricts the store of that session's runtime, which on a
    /// scheduler is the query's own.
    ///
    /// # Errors
    /// Bytes that are not an encoded lake table, or a store the runtime cannot build.
    pub fn decode(buf: &[u8], schema: SchemaRef, ctx: &TaskContext) -> Result<Self> {
        let proto = LakeTableProto::decode(buf)
            .map_err(|e| DataFusionError::Internal(format!("a lake table's encoding: {e}")))?;
        let view = match proto.snapshot {
            None => None,
            Some(view) => {
                let view = Arc::new(SnapshotView::from_paths(&view.live, &view.tables));
                let store_url = ListingTableUrl::parse(&proto.url)?.object_store();
                let runtime = ctx.runtime_env();
                let store = runtime.object_store(&store_url)?;
                runtime.register_object_store(store_url.as_ref(), view.over(store));
                Some(view)
            }
        };
        let parquet =
            TableOptions::default_from_session_config(ctx.session_config().options()).parquet;
        let files: Vec<_> = schema
            .fields()
            .iter()
            .filter(|field| field.name() != DATE)
            .cloned()
            .collect();
        LakeTable::open(
            &proto.url,
            Arc::new(Schema::new(files)),
            parquet,
            ctx.runtime_env().cache_manager.get_file_statistic_cache(),
            Shape {
                foreign: proto.foreign,
                uuid_columns: proto.uuid_columns.into_iter().collect(),
            },
            proto.skip.iter().map(PathBuf::from).collect(),
        )
        .map(|table| table.seen_through(view))
    }

    /// `scan` without the partitions of skipped files (each file is its own partition).
    fn without_skipped(&self, scan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        if self.skip.is_empty() {
            return scan;
        }
        let Some(config) = scan
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        else {
            return scan;
        };
        let skipped = |file: &PartitionedFile| {
            let path = Path::new("/").join(file.object_meta.location.as_ref());
            self.skip.contains(&path)
        };
        let groups: Vec<FileGroup> = config
            .file_groups
            .iter()
            .map(|group| FileGroup::new(group.iter().filter(|f| !skipped(f)).cloned().collect()))
            .filter(|group| !group.is_empty())
            .collect();
        let config = FileScanConfigBuilder::from(config.clone())
            .with_file_groups(groups)
            .build();
        DataSourceExec::from_data_source(config)
    }

    /// `state` with room for one partition per file (the scan's partitions only: operators
    /// above it still run on the session's own partition count).
    fn per_file(&self, state: &dyn Session) -> Result<SessionState> {
        let Some(state) = state.as_any().downcast_ref::<SessionState>() else {
            return internal_err!("the lake's tables are scanned from a SessionState");
        };
        let mut state = state.clone();
        let execution = &mut state.config_mut().options_mut().execution;
        execution.target_partitions = ONE_GROUP_PER_FILE;
        // Statistics (and the order files declare) come from every listed file's footer, a
        // skipped damaged file's too; without them the window join sorts its inputs.
        if !self.skip.is_empty() {
            execution.collect_statistics = false;
        }
        Ok(state)
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let state = self.per_file(state)?;
        if !self.shape.foreign {
            let scan = self.files.scan(&state, projection, filters, limit).await?;
            return Ok(self.without_skipped(scan));
        }
        let wanted: Vec<usize> = match projection {
            Some(projection) => projection.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let read = foreign::columns_to_read(&wanted, &self.schema);
        let scan = self.files.scan(&state, Some(&read), filters, limit).await?;
        foreign::adapt(self.without_skipped(scan), &self.schema.project(&wanted)?)
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> Result<ScanResult> {
        if self.shape.foreign || !self.skip.is_empty() {
            let projection = args.projection().map(<[usize]>::to_vec);
            let filters = args.filters().unwrap_or(&[]);
            let plan = self
                .scan(state, projection.as_ref(), filters, args.limit())
                .await?;
            return Ok(plan.into());
        }
        self.files
            .scan_with_args(&self.per_file(state)?, args)
            .await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let pushdown = self.files.supports_filters_pushdown(filters)?;
        if !self.shape.foreign {
            return Ok(pushdown);
        }
        // Raw values are not what the table reads (a null is ""): only date filters, which
        // prune whole files, may reach the scan.
        Ok(pushdown
            .into_iter()
            .map(|p| match p {
                TableProviderFilterPushDown::Exact => TableProviderFilterPushDown::Exact,
                _ => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    fn statistics(&self) -> Option<Statistics> {
        let mut statistics = self.files.statistics()?;
        // A UUID column's bounds are bytes, not the text the table reads.
        for name in &self.shape.uuid_columns {
            if let Ok(index) = self.schema.index_of(name) {
                statistics.column_statistics[index] = ColumnStatistics::new_unknown();
            }
        }
        Some(statistics)
    }
}

/// `schema` with each of `columns` read as the 16-byte values its files hold.
fn as_uuids(schema: &Schema, columns: &BTreeSet<String>) -> SchemaRef {
    let fields = schema
        .fields()
        .iter()
        .map(|field| match columns.contains(field.name()) {
            true => Arc::new(field.as_ref().clone().with_data_type(UUID)),
            false => Arc::clone(field),
        });
    Arc::new(Schema::new_with_metadata(
        fields.collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
}
