//! Lakes holding Parquet that other tools wrote (docs/lake.md): text a file lacks or holds as null
//! reads as `""`, and a missing `UserKey` as `lower(UserPrincipalName)`, as in the lake's own
//! rows. (Type differences, such as a timestamp unit or an ASN stored as an integer, are cast
//! by DataFusion when it reads the file; GUIDs held as 16-byte UUIDs, which Arrow cannot cast
//! to text, are read as such and turned into their text here.)
//!
//! The adaptation is a projection above the scan, applied only to tables that hold such files:
//! DataFusion replaces a column that a file lacks by a NULL literal before any per-file
//! adapter sees it, so only above the scan can `UserKey` still be told from other columns. The
//! lake's own files hold every text column non-null, so their tables are read as they are and
//! keep the order their files declare.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::functions::string::lower;
use datafusion::physical_expr::expressions::{CaseExpr, CastExpr, Column, IsNullExpr, lit};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use object_store::{ObjectMeta, ObjectStore};

use crate::guid::{UUID, guid_text};
use crate::schema::{Text, USER_KEY, lake_schema};

/// How a table's files differ from the lake's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    /// Some file lacks a text column of the lake, may hold nulls in one, or holds one in
    /// another type: the table is read through [`adapt`].
    pub foreign: bool,
    /// Text columns the files hold as 16-byte UUIDs (see `guid.rs`): the table reads them so
    /// and [`adapt`] turns them into their text.
    pub uuid_columns: BTreeSet<String>,
}

/// The [`Shape`] of `files` (only their footers are read, by range).
///
/// # Errors
/// A file whose footer cannot be read or is not Parquet, or files that hold one column as
/// UUIDs and as text; each named by `url_of`.
pub async fn shape_of_objects(
    store: &Arc<dyn ObjectStore>,
    files: &[ObjectMeta],
    url_of: impl Fn(&ObjectMeta) -> String,
) -> Result<Shape> {
    let mut survey = Survey::default();
    for file in files {
        let schema = DFParquetMetadata::new(store.as_ref(), file)
            .fetch_schema()
            .await
            .map_err(|error| DataFusionError::Execution(format!("{}: {error}", url_of(file))))?;
        survey.add(&schema, || url_of(file));
    }
    survey.finish()
}

/// The files' schemas seen so far.
#[derive(Default)]
struct Survey {
    foreign: bool,
    /// Per text column, a file holding it as UUIDs and one holding it otherwise.
    as_uuids: BTreeMap<String, String>,
    as_text: BTreeMap<String, String>,
}

impl Survey {
    fn add(&mut self, schema: &Schema, file: impl Fn() -> String) {
        let lake = lake_schema();
        for text in lake
            .fields()
            .iter()
            .filter(|f| f.data_type() == &DataType::Utf8)
        {
            let Ok(held) = schema.field_with_name(text.name()) else {
                self.foreign = true;
                continue;
            };
            self.foreign |= held.is_nullable() || held.data_type() != &DataType::Utf8;
            let seen = match held.data_type() == &UUID {
                true => &mut self.as_uuids,
                false => &mut self.as_text,
            };
            seen.entry(text.name().clone()).or_insert_with(&file);
        }
    }

    /// A table reads each column as one type: a column held both ways cannot be read as a
    /// table (ingest reads each file as it is).
    fn finish(self) -> Result<Shape> {
        for (column, uuids) in &self.as_uuids {
            if let Some(text) = self.as_text.get(column) {
                return Err(DataFusionError::Execution(format!(
                    "{uuids} holds {column} as 16-byte UUIDs but {text} holds it as text: a \
                     table reads a column one way; ingest these files into a lake \
                     (`retrohunt ingest`), which reads each file as it is"
                )));
            }
        }
        Ok(Shape {
            foreign: self.foreign,
            uuid_columns: self.as_uuids.into_keys().collect(),
        })
    }
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

/// `scan`'s first columns, adapted to `table` (the table's schema, projected as the scan is).
///
/// # Errors
/// DataFusion refusing an expression (a schema without the expected types).
pub fn adapt(scan: Arc<dyn ExecutionPlan>, table: &Schema) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = scan.schema();
    let column = |index: usize| -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(schema.field(index).name(), index))
    };
    let is_text = |index: usize| {
        Text::ALL
            .iter()
            .any(|text| text.name() == schema.field(index).name())
    };
    let function = |udf, args| -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(ScalarFunctionExpr::try_new(
            udf,
            args,
            &schema,
            Arc::new(ConfigOptions::default()),
        )?))
    };
    let exprs = table
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let name = field.name();
            let held = schema.field(index).data_type();
            let expr = if name == USER_KEY {
                let upn = schema.index_of(Text::UserPrincipalName.name())?;
                let upn = empty_if_null(column(upn), &schema)?;
                otherwise(column(index), function(lower(), vec![upn])?)?
            } else if is_text(index) && held == &UUID {
                let text = function(guid_text(), vec![column(index)])?;
                let text = Arc::new(CastExpr::new(text, field.data_type().clone(), None));
                empty_if_null(text, &schema)?
            } else if is_text(index) && matches!(held, DataType::Utf8 | DataType::Utf8View) {
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
