//! Lakes holding Parquet that other tools wrote (docs/lake.md): text a file lacks or holds as null
//! reads as `""`, and a missing `UserKey` as `lower(UserPrincipalName)`, as in the lake's own
//! rows. (Type differences, such as a timestamp unit or an ASN stored as an integer, are cast
//! by DataFusion when it reads the file.)
//!
//! The adaptation is a projection above the scan, applied only to tables that hold such files:
//! DataFusion replaces a column that a file lacks by a NULL literal before any per-file
//! adapter sees it, so only above the scan can `UserKey` still be told from other columns. The
//! lake's own files hold every text column non-null, so their tables are read as they are and
//! keep the order their files declare.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::physical_expr::expressions::{CaseExpr, Column, IsNullExpr, lit};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use object_store::{ObjectMeta, ObjectStore};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use super::damaged::parquet_files;
use crate::schema::{Text, USER_KEY, lake_schema};

/// Whether any Parquet file below `table_dir` lacks a text column of the lake or may hold
/// nulls in one (only the files' footers are read); files in `skip` are not looked at.
///
/// # Errors
/// A file that cannot be opened or whose footer is not Parquet, named in the message.
pub fn holds_foreign_files(table_dir: &Path, skip: &BTreeSet<PathBuf>) -> Result<bool> {
    for path in parquet_files(table_dir) {
        // Skipped files are named by their canonical paths (see `damaged.rs`).
        if !skip.is_empty() && skip.contains(&std::fs::canonicalize(&path).unwrap_or(path.clone()))
        {
            continue;
        }
        let path = path.as_path();
        let context = |error: &dyn std::fmt::Display| {
            datafusion::error::DataFusionError::Execution(format!("{}: {error}", path.display()))
        };
        let file = std::fs::File::open(path).map_err(|e| context(&e))?;
        let metadata =
            ArrowReaderMetadata::load(&file, Default::default()).map_err(|e| context(&e))?;
        if is_foreign(metadata.schema()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// As [`holds_foreign_files`], for `files` of a store (their footers read by range).
///
/// # Errors
/// A file that cannot be read or whose footer is not Parquet, named by `url_of`.
pub async fn holds_foreign_objects(
    store: &Arc<dyn ObjectStore>,
    files: &[ObjectMeta],
    url_of: impl Fn(&ObjectMeta) -> String,
) -> Result<bool> {
    for file in files {
        let schema = DFParquetMetadata::new(store.as_ref(), file)
            .fetch_schema()
            .await
            .map_err(|error| {
                datafusion::error::DataFusionError::Execution(format!("{}: {error}", url_of(file)))
            })?;
        if is_foreign(&schema) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A file lacks a text column of the lake, or may hold nulls in one.
fn is_foreign(schema: &Schema) -> bool {
    let lake = lake_schema();
    lake.fields()
        .iter()
        .filter(|field| field.data_type() == &DataType::Utf8)
        .any(|text| {
            schema.field_with_name(text.name()).map_or(true, |field| {
                field.is_nullable() || field.data_type() != &DataType::Utf8
            })
        })
}

/// The columns a scan must read to adapt `wanted` (indices into the table schema): `UserKey`
/// needs `UserPrincipalName` too.
pub fn columns_to_read(wanted: &[usize], table: &Schema) -> Vec<usize> {
    let mut read = wanted.to_vec();
    let (Ok(key), Ok(upn)) = (
        table.index_of(USER_KEY),
        table.index_of(Text::UserPrincipalName.name()),
    ) else {
        return read;
    };
    if read.contains(&key) && !read.contains(&upn) {
        read.push(upn);
    }
    read
}

/// `scan`'s first `wanted` columns, adapted.
///
/// # Errors
/// DataFusion refusing an expression (a schema without the expected types).
pub fn adapt(scan: Arc<dyn ExecutionPlan>, wanted: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = scan.schema();
    let column = |index: usize| -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(schema.field(index).name(), index))
    };
    let is_text = |index: usize| {
        matches!(
            schema.field(index).data_type(),
            DataType::Utf8 | DataType::Utf8View
        ) && Text::ALL
            .iter()
            .any(|text| text.name() == schema.field(index).name())
    };
    let exprs = (0..wanted)
        .map(|index| {
            let name = schema.field(index).name();
            let expr = if name == USER_KEY {
                let upn = schema.index_of(Text::UserPrincipalName.name())?;
                let lower = ScalarFunctionExpr::try_new(
                    datafusion::functions::string::lower(),
                    vec![empty_if_null(column(upn), &schema)?],
                    &schema,
                    Arc::new(ConfigOptions::default()),
                )?;
                otherwise(column(index), Arc::new(lower))?
            } else if is_text(index) {
                empty_if_null(column(index), &schema)?
            } else {
                column(index)
            };
            Ok(ProjectionExpr::new(expr, name.clone()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
}

/// `text` (a column of the scan's `schema`), or `""` of its type where it is null.
fn empty_if_null(text: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
    let empty = ScalarValue::try_from_string(String::new(), &text.data_type(schema)?)?;
    otherwise(text, lit(empty))
}

/// `value`, or `fallback` where it is null.
fn otherwise(
    value: Arc<dyn PhysicalExpr>,
    fallback: Arc<dyn PhysicalExpr>,
) -> Result<Arc<dyn PhysicalExpr>> {
    let is_null: Arc<dyn PhysicalExpr> = Arc::new(IsNullExpr::new(value.clone()));
    Ok(Arc::new(CaseExpr::try_new(
        None,
        vec![(is_null, fallback)],
        Some(value),
    )?))
}
