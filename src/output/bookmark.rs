//! Rows as Microsoft Sentinel bookmarks: each row one JSON object carrying its entities
//! (an account, an IP, ...) and the row itself as evidence, so that a Logic App or the Log
//! Analytics ingestion API can turn it into a bookmark, an incident or a custom table's row.
//! What a bookmark says beyond the row (its name, tactics, entities) is the caller's.

use std::io::Write;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow::error::{ArrowError, Result};
use serde_json::{Map, Value, json};

use super::{OutputFormat, TextSafety, write_batches};

/// Writes `bookmark(row)` for each row, a JSON line each; the row is as `--format json`
/// writes it.
///
/// # Errors
/// Write failures, and what `write_batches` refuses.
pub fn write_bookmarks<W: Write + Send>(
    safety: TextSafety,
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    mut out: W,
    bookmark: impl Fn(Map<String, Value>) -> Value,
) -> Result<()> {
    let mut lines = Vec::new();
    write_batches(
        OutputFormat::Json,
        safety,
        schema,
        batches.iter().cloned(),
        &mut lines,
    )?;
    for line in lines.split(|&byte| byte == b'\n') {
        if line.is_empty() {
            continue;
        }
        let row: Map<String, Value> = serde_json::from_slice(line)
            .map_err(|e| ArrowError::JsonError(format!("a row as JSON: {e}")))?;
        serde_json::to_writer(&mut out, &bookmark(row))
            .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// An entity mapping as bookmarks and analytics rules write it. Sentinel refuses empty
/// identifiers, so identifiers the data left empty are left out.
pub fn entity(kind: &str, identifiers: &[(&str, &str)]) -> Value {
    let fields: Vec<Value> = identifiers
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(identifier, value)| json!({"identifier": identifier, "value": value}))
        .collect();
    json!({"entityType": kind, "fieldMappings": fields})
}
