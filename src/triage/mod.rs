//! Triage of the hunt's findings, after the hunt and before the output: exclusions of known
//! benign look-alikes (counted per rule), evidence from the lake with a ranking score, and a
//! per-user summary, and exclusion rules mined from the lake. Everything runs in the same
//! engine as the hunt.

mod enrich;
mod exclusions;
mod ip_ranges;
mod measure;
mod suggest;
mod summary;

pub use enrich::{Lookback, enrich};
pub use exclusions::{ExclusionError, Exclusions, RuleCount};
pub use measure::{Excluded, hunt_and_exclude};
pub use suggest::{Suggestions, Thresholds, suggest};
pub use summary::summarize;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::MemTable;
use datafusion::error::Result;

use crate::output::plain_text;

/// `findings` as a table DataFusion can join and sort within a memory limit, its text as
/// plain strings. The hunt holds text as views into the buffers it read, and its final sort
/// gathers each output batch's views from nearly all of them. DataFusion sizes a batch by
/// every buffer it holds, and a hash join's output holds all of its build side's: a sort in
/// the enrichment asked for 478 MB for one batch, and the enrichment failed under a 4 GiB
/// limit while the whole process held 3 GB. Plain strings are copied by every `take`, so each
/// batch counts what it holds.
fn findings_table(schema: SchemaRef, findings: Vec<RecordBatch>) -> Result<MemTable> {
    let schema = plain_text(&schema);
    let findings = findings
        .into_iter()
        .map(|batch| {
            let columns = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(column, field)| cast(column, field.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(Arc::clone(&schema), columns)?)
        })
        .collect::<Result<Vec<_>>>()?;
    MemTable::try_new(schema, vec![findings])
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, StringViewBuilder};
    use datafusion::arrow::buffer::Buffer;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::utils::memory::get_record_batch_memory_size;
    use datafusion::prelude::SessionContext;

    /// Ten findings whose text points into a 4 MiB buffer read for other rows count as ten
    /// findings once they are a table, and keep their text.
    #[test]
    fn findings_count_their_own_text_not_the_buffers_they_point_into() {
        let read: String = (0..4 << 20)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let mut views = StringViewBuilder::new();
        let block = views.append_block(Buffer::from(read.as_bytes()));
        for row in 0..10u32 {
            views.try_append_view(block, row * 1000, 20).unwrap();
        }
        let schema = Arc::new(Schema::new(vec![Field::new(
            "UserPrincipalName",
            DataType::Utf8View,
            false,
        )]));
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(views.finish())]).unwrap();
        assert!(get_record_batch_memory_size(&batch) > 4 << 20);

        let table = findings_table(schema, vec![batch]).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let batches = rt
            .block_on(async {
                SessionContext::new()
                    .read_table(Arc::new(table))?
                    .collect()
                    .await
            })
            .unwrap();
        let size: usize = batches.iter().map(get_record_batch_memory_size).sum();
        assert!(size < 64 << 10, "{size} bytes");
        let text: Vec<&str> = batches
            .iter()
            .flat_map(|b| b.column(0).as_string::<i32>().iter().flatten())
            .collect();
        let expected: Vec<&str> = (0..10)
            .map(|row| &read[row * 1000..row * 1000 + 20])
            .collect();
        assert_eq!(text, expected);
    }
}
