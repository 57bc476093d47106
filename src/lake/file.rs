//! Reading and writing one (table, date) Parquet file. Writes sort the rows by
//! (`UserKey`, `TimeGenerated`), declare exactly that in `sorting_columns` (DataFusion trusts it
//! to skip sorts), and appear atomically: a temporary file in `_staging` is synced and renamed
//! over the old one, so a reader or a crash never sees half a file.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::compute::{
    SortColumn, SortOptions, interleave, interleave_record_batch, lexsort_to_indices,
};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::file::reader::ChunkReader;
use parquet::schema::types::ColumnPath;

use super::error::LakeError;
use crate::schema::{CREATED_DATE_TIME, TIME_GENERATED, Text, col, lake_schema};

/// Ascending, nulls last: what SQL's `ORDER BY UserKey, TimeGenerated` means.
const ORDER: SortOptions = SortOptions {
    descending: false,
    nulls_first: false,
};

/// Rows written per `ArrowWriter::write` call; bounds the copy made to gather them.
const WRITE_CHUNK: usize = 64 * 1024;

/// The order of `rows` (indices into `batches`) by the declared key, then by content so that
/// equal keys land in a repeatable order whatever order the inputs were read in.
fn sorted(
    batches: &[RecordBatch],
    rows: &[(usize, usize)],
) -> Result<Vec<(usize, usize)>, ArrowError> {
    let keys = [
        col::USER_KEY,
        col::TIME_GENERATED,
        col::TEXT + Text::Id as usize,
        col::TEXT + Text::CorrelationId as usize,
        col::TEXT + Text::AdditionalFields as usize,
    ];
    let columns = keys
        .iter()
        .map(|&k| {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(k).as_ref()).collect();
            Ok(SortColumn {
                values: interleave(&arrays, rows)?,
                options: Some(ORDER),
            })
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    let order = lexsort_to_indices(&columns, None)?;
    Ok(order.values().iter().map(|&i| rows[i as usize]).collect())
}

fn writer_properties() -> WriterProperties {
    let sorting = [col::USER_KEY, col::TIME_GENERATED]
        .iter()
        .map(|&i| SortingColumn {
            column_idx: i as i32,
            descending: ORDER.descending,
            nulls_first: ORDER.nulls_first,
        })
        .collect();
    // Text no query can skip pages by: within a file sorted by user, only the user's own
    // columns gather on a page; everything else (JSON documents, GUIDs, apps, addresses,
    // results) spans its range on every page, so its statistics would never prune anything.
    // They are what writing a date file spends most on (comparing every value twice): leaving
    // them out makes the writing 12-19% faster (BENCHMARKS.md).
    let unprunable = Text::ALL.into_iter().filter(|text| {
        !matches!(
            text,
            Text::UserPrincipalName | Text::UserId | Text::UserDisplayName
        )
    });
    let properties = unprunable.fold(parquet_properties(), |properties, text| {
        properties
            .set_column_statistics_enabled(ColumnPath::from(text.name()), EnabledStatistics::None)
    });
    // Ids minted once per sign-in or token never repeat, and neither do the times, to the
    // tenth of a microsecond: a dictionary can hold nothing but every value once, each
    // hashed and stored until the dictionary overflows and the column falls back to plain
    // values anyway.
    [Text::Id, Text::CorrelationId, Text::UniqueTokenIdentifier]
        .map(Text::name)
        .into_iter()
        .chain([TIME_GENERATED, CREATED_DATE_TIME])
        .fold(properties, |properties, name| {
            properties.set_column_dictionary_enabled(ColumnPath::from(name), false)
        })
        .set_sorting_columns(Some(sorting))
        .build()
}

/// What every Parquet file in a lake gets: zstd, page statistics, this tool named as writer.
///
/// zstd's level 1, not its default 3: on sign-in logs an ingest ran 7% faster into files no
/// larger (2% smaller on a 30-day lake), and reading them was no slower (BENCHMARKS.md,
/// "Escaped strings and the lake's zstd level").
pub fn parquet_properties() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(concat!("retrohunt ", env!("CARGO_PKG_VERSION")).to_string())
}

/// Writes the `rows` of `batches`, sorted, to `target` via a temporary file in `staging`.
pub fn write_sorted(
    staging: &Path,
    target: &Path,
    batches: &[RecordBatch],
    rows: &[(usize, usize)],
) -> Result<(), LakeError> {
    let io = |e: std::io::Error| LakeError::io(target, e);
    std::fs::create_dir_all(staging).map_err(io)?;
    let parent = target.parent().expect("lake files live in a date folder");
    std::fs::create_dir_all(parent).map_err(io)?;
    let mut temp = tempfile::Builder::new()
        .prefix("write-")
        .suffix(".parquet.tmp")
        .tempfile_in(staging)
        .map_err(io)?;
    encode_sorted(temp.as_file_mut(), target, batches, rows)?;
    temp.as_file_mut().flush().map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(target).map_err(|e| io(e.error))?;
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io)?;
    Ok(())
}

/// Encodes the `rows` of `batches`, sorted, as a lake file into `out`; `name` is for errors.
/// Rows are gathered in chunks, so no single array has to hold a whole day of text.
pub fn encode_sorted<W: Write + Send>(
    out: W,
    name: &Path,
    batches: &[RecordBatch],
    rows: &[(usize, usize)],
) -> Result<W, LakeError> {
    let order = sorted(batches, rows).map_err(|e| LakeError::arrow(name, e))?;
    let batch_refs: Vec<&RecordBatch> = batches.iter().collect();
    let mut writer = ArrowWriter::try_new(out, lake_schema(), Some(writer_properties()))
        .map_err(|e| LakeError::parquet(name, e))?;
    for chunk in order.chunks(WRITE_CHUNK) {
        let batch =
            interleave_record_batch(&batch_refs, chunk).map_err(|e| LakeError::arrow(name, e))?;
        writer
            .write(&batch)
            .map_err(|e| LakeError::parquet(name, e))?;
    }
    writer.into_inner().map_err(|e| LakeError::parquet(name, e))
}

/// What of a lake file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Whole,
    /// `TimeGenerated` and `Id`: what deduplication compares. `TimeGenerated` stays the
    /// first column, where [`crate::schema::time_generated`] reads it in either part.
    Keys,
}

impl Part {
    /// Its columns' positions in the lake's schema; `None`: all.
    fn columns(self) -> Option<[usize; 2]> {
        match self {
            Part::Whole => None,
            Part::Keys => Some([col::TIME_GENERATED, col::TEXT + Text::Id as usize]),
        }
    }
}

/// Reads a whole file written by [`write_sorted`].
pub fn read(path: &Path) -> Result<Vec<RecordBatch>, LakeError> {
    read_part(path, Part::Whole)
}

/// Reads `part` of a file written by [`write_sorted`].
pub fn read_part(path: &Path, part: Part) -> Result<Vec<RecordBatch>, LakeError> {
    let file = File::open(path).map_err(|e| LakeError::io(path, e))?;
    decode(file, path, part)
}

/// Reads `part` of a lake file from `content` (a file, or its bytes); `name` is for errors.
pub fn decode<R: ChunkReader + 'static>(
    content: R,
    name: &Path,
    part: Part,
) -> Result<Vec<RecordBatch>, LakeError> {
    let columns = part.columns();
    let reader = ParquetRecordBatchReaderBuilder::try_new(content)
        .and_then(|builder| {
            let mask = match columns {
                Some(columns) => ProjectionMask::roots(builder.parquet_schema(), columns),
                None => ProjectionMask::all(),
            };
            builder
                .with_projection(mask)
                .with_batch_size(64 * 1024)
                .build()
        })
        .map_err(|e| LakeError::parquet(name, e))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LakeError::arrow(name, e))?;
    let expected = match columns {
        Some(columns) => Arc::new(lake_schema().project(&columns).expect("lake columns")),
        None => lake_schema(),
    };
    if let Some(first) = batches.first()
        && first.schema().fields() != expected.fields()
    {
        return Err(LakeError::Schema {
            path: name.to_path_buf(),
            reason: "not a file this version of retrohunt wrote (columns differ)".into(),
        });
    }
    Ok(batches)
}
