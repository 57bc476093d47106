//! The second read of late materialisation: the kept rows' wide columns, from the Parquet files
//! the first read found them in.
//!
//! Each file is opened once per batch of wanted rows, with those rows (sorted, each once) as a
//! `RowSelection` and the page index loaded: the reader fetches and decodes only the pages that
//! hold a wanted row, and each of them once, however many output rows want it.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Int64Array, RecordBatch,
};
use datafusion::arrow::compute::{cast, concat, interleave};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, RowSelection};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::metadata::PageIndexPolicy;

/// How many files one fetch reads at a time.
const FILES_AT_ONCE: usize = 2;

/// Rows per batch the reader decodes: the wanted rows are far apart, so a batch spans many
/// pages.
const READ_BATCH: usize = 64 * 1024;

/// The `fields` (by name in the files) of each row that `files` and `rows` locate, cast to
/// each field's type: per batch of `lengths` rows (the rows in order), its columns.
///
/// # Errors
/// A file that cannot be read, lacks a column, or holds fewer rows than a position names (it
/// changed since the first read): each error names the file.
pub async fn fetch(
    store: &Arc<dyn ObjectStore>,
    files: &ArrayRef,
    rows: &ArrayRef,
    fields: &[(String, &Field)],
    lengths: &[usize],
) -> Result<Vec<Vec<ArrayRef>>> {
    let (paths, file_of) = file_ordinals(files)?;
    let Some(rows) = rows.as_any().downcast_ref::<Int64Array>() else {
        return exec_err!(
            "LateFetch: row positions are {}, not Int64",
            rows.data_type()
        );
    };
    if rows.null_count() > 0 || file_of.len() != rows.len() {
        return exec_err!("LateFetch: a row without a position");
    }
    // Each file's wanted positions, sorted, each once; and where each output row finds its own.
    let mut wanted: Vec<Vec<(u64, usize)>> = vec![Vec::new(); paths.len()];
    for (output, (&file, &row)) in file_of.iter().zip(rows.values()).enumerate() {
        let Ok(row) = u64::try_from(row) else {
            return exec_err!("LateFetch: a negative row position {row}");
        };
        wanted[file].push((row, output));
    }
    let mut place = vec![(0usize, 0usize); rows.len()];
    let mut selections = Vec::with_capacity(paths.len());
    for (file, pairs) in wanted.iter_mut().enumerate() {
        pairs.sort_unstable();
        let mut unique: Vec<u64> = Vec::with_capacity(pairs.len());
        for &(row, output) in pairs.iter() {
            if unique.last() != Some(&row) {
                unique.push(row);
            }
            place[output] = (file, unique.len() - 1);
        }
        selections.push(unique);
    }
    let names: Arc<[String]> = fields.iter().map(|(name, _)| name.clone()).collect();
    // Owned, so that the reads in flight borrow nothing from this function.
    let reads = paths.into_iter().zip(selections).map(|(path, rows)| {
        let (store, names) = (Arc::clone(store), Arc::clone(&names));
        async move { read_rows(&store, &path, &rows, &names).await }
    });
    let read: Vec<Vec<ArrayRef>> = futures::stream::iter(reads)
        .buffered(FILES_AT_ONCE)
        .try_collect()
        .await?;
    let mut start = 0;
    lengths
        .iter()
        .map(|&length| {
            let batch = &place[start..start + length];
            start += length;
            fields
                .iter()
                .enumerate()
                .map(|(column, (_, field))| {
                    let per_file: Vec<&dyn Array> =
                        read.iter().map(|arrays| arrays[column].as_ref()).collect();
                    let gathered = compact(interleave(&per_file, batch)?);
                    Ok(match gathered.data_type() == field.data_type() {
                        true => gathered,
                        false => cast(&gathered, field.data_type())?,
                    })
                })
                .collect()
        })
        .collect()
}

/// Text views gathered from many pages point into all of them: copied into buffers of their
/// own, a batch holds (and the memory pool is told) only its own values.
fn compact(array: ArrayRef) -> ArrayRef {
    match array.as_string_view_opt() {
        Some(views) => Arc::new(views.gc()),
        None => array,
    }
}

/// The paths `files` names (a dictionary of paths), each once, and each row's ordinal among
/// them.
fn file_ordinals(files: &ArrayRef) -> Result<(Vec<String>, Vec<usize>)> {
    let Some(files) = files.as_any().downcast_ref::<DictionaryArray<Int32Type>>() else {
        return exec_err!(
            "LateFetch: file paths are {}, not a dictionary",
            files.data_type()
        );
    };
    if files.null_count() > 0 {
        return exec_err!("LateFetch: a row without a file");
    }
    let values = cast(files.values(), &DataType::Utf8)?;
    let values = values.as_string::<i32>();
    let mut paths: Vec<String> = Vec::new();
    // Per dictionary value, its path's ordinal once a row names it (values no row names,
    // left from concatenated dictionaries, get none and are not read).
    let mut ordinal_of_value: Vec<Option<usize>> = vec![None; values.len()];
    let mut ordinal_of_path: HashMap<&str, usize> = HashMap::new();
    let mut file_of = Vec::with_capacity(files.len());
    for &key in files.keys().values() {
        let value = usize::try_from(key)
            .map_err(|_| DataFusionError::Execution(format!("LateFetch: a file key {key}")))?;
        let ordinal = match ordinal_of_value[value] {
            Some(ordinal) => ordinal,
            None => {
                let path = values.value(value);
                let ordinal = *ordinal_of_path.entry(path).or_insert_with(|| {
                    paths.push(path.to_string());
                    paths.len() - 1
                });
                ordinal_of_value[value] = Some(ordinal);
                ordinal
            }
        };
        file_of.push(ordinal);
    }
    Ok((paths, file_of))
}

/// Columns `names` of rows `rows` (sorted, distinct) of the Parquet file at `path`.
async fn read_rows(
    store: &Arc<dyn ObjectStore>,
    path: &str,
    rows: &[u64],
    names: &[String],
) -> Result<Vec<ArrayRef>> {
    let in_file = |error: &dyn std::fmt::Display| {
        DataFusionError::Execution(format!("{path}: reading rows again by position: {error}"))
    };
    // The path as the scan named it: already a store path, not to be encoded again.
    let location = Path::parse(path).map_err(|e| in_file(&e))?;
    let meta = store.head(&location).await.map_err(|e| in_file(&e))?;
    let reader: Box<dyn AsyncFileReader> = DefaultParquetFileReaderFactory::new(Arc::clone(store))
        .create_reader(
            0,
            PartitionedFile::from(meta),
            None,
            &ExecutionPlanMetricsSet::new(),
        )?;
    // The offset index says where each page starts, so pages without a wanted row are skipped.
    let mut reader = reader;
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let file = ArrowReaderMetadata::load_async(&mut reader, options.clone())
        .await
        .map_err(|e| in_file(&e))?;
    // Text as views, as DataFusion's scan reads it: no copy of each value into a new buffer.
    let as_views: Vec<Field> = file
        .schema()
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => {
                field.as_ref().clone().with_data_type(DataType::Utf8View)
            }
            _ => field.as_ref().clone(),
        })
        .collect();
    let file = ArrowReaderMetadata::try_new(
        Arc::clone(file.metadata()),
        options.with_schema(Arc::new(Schema::new(as_views))),
    )
    .map_err(|e| in_file(&e))?;
    let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, file);
    let file_rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    if rows.last().is_some_and(|&last| last >= file_rows) {
        return Err(in_file(&format!(
            "it holds {file_rows} rows, fewer than the query read from it"
        )));
    }
    let mask = ProjectionMask::columns(
        builder.metadata().file_metadata().schema_descr(),
        names.iter().map(String::as_str),
    );
    let selection = RowSelection::from_consecutive_ranges(runs(rows), file_rows as usize);
    let batches: Vec<RecordBatch> = builder
        .with_projection(mask)
        .with_row_selection(selection)
        .with_batch_size(READ_BATCH)
        .build()
        .map_err(|e| in_file(&e))?
        .try_collect()
        .await
        .map_err(|e| in_file(&e))?;
    let read: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if read != rows.len() {
        return Err(in_file(&format!(
            "{read} rows came back for {} asked",
            rows.len()
        )));
    }
    names
        .iter()
        .map(|name| {
            let arrays: Vec<&dyn Array> = batches
                .iter()
                .map(|batch| {
                    batch
                        .column_by_name(name)
                        .map(|array| array.as_ref())
                        .ok_or_else(|| in_file(&format!("it has no column {name}")))
                })
                .collect::<Result<_>>()?;
            match arrays.is_empty() {
                true => Err(in_file(&format!("no batch for column {name}"))),
                false => Ok(concat(&arrays)?),
            }
        })
        .collect()
}

/// Sorted distinct positions as runs of consecutive ones.
fn runs(rows: &[u64]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut rest = rows;
    std::iter::from_fn(move || {
        let (&first, _) = rest.split_first()?;
        let length = rest
            .iter()
            .enumerate()
            .take_while(|&(offset, &row)| row == first + offset as u64)
            .count();
        rest = &rest[length..];
        Some(first as usize..first as usize + length)
    })
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn positions_become_runs() {
        let runs: Vec<_> = runs(&[0, 1, 2, 5, 7, 8]).collect();
        assert_eq!(runs, vec![0..3, 5..6, 7..9]);
        assert_eq!(runs_of_nothing(), 0);
    }

    fn runs_of_nothing() -> usize {
        runs(&[]).count()
    }
}
