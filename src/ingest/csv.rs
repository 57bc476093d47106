//! CSV sources: the Log Analytics portal export (BOM, CRLF, quoted multi-line JSON cells,
//! ` [UTC]` headers, US-locale datetimes, `TRUE`/`FALSE`) and the Entra admin-center download
//! (`Date (UTC)`, `Request ID`, ..., a header repeated, trailing spaces). Headers pick the
//! dialect once per file, so the admin center's `Status` ("Success") never lands in the Log
//! Analytics `Status` JSON column.

use std::borrow::Cow;

use super::fields::{self, Target};
use super::json::{JsonObject, Location, RecordSink, parse_bool};
use super::row::Row;
use super::time::{clip, parse_timestamp};
use crate::schema::Text;

/// A file's header row: the names and the column each feeds, for every piece of the file.
#[derive(Debug)]
pub struct Header {
    names: Vec<String>,
    targets: Vec<Option<Target>>,
}

/// Reads every CSV row of a piece of a file; `line_base` lines came before it. The first piece
/// starts with the header, which `header` then keeps for the rest. The sink gets each row's
/// location, raw text and mapping.
pub fn read_csv(
    bytes: &[u8],
    line_base: u64,
    header: &mut Option<Header>,
    sink: &mut RecordSink<'_>,
) {
    let bytes = if header.is_none() {
        bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
    } else {
        bytes
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let Header { names, targets } = match header {
        Some(header) => header,
        None => {
            let mut headers = csv::ByteRecord::new();
            match reader.read_byte_record(&mut headers) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    return sink(
                        Location {
                            line: line_base + 1,
                            record: None,
                        },
                        bytes,
                        Err(e.to_string()),
                    );
                }
            }
            let names: Vec<String> = headers
                .iter()
                .map(|h| String::from_utf8_lossy(h).trim().to_string())
                .collect();
            let targets = header_targets(&names);
            header.insert(Header { names, targets })
        }
    };
    let mut record = csv::ByteRecord::new();
    loop {
        let location = Location {
            line: line_base + reader.position().line() + 1,
            record: None,
        };
        let after_previous = reader.position().byte() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let start = record
                    .position()
                    .map_or(after_previous, |p| p.byte() as usize)
                    .min(bytes.len());
                // The reader places a row after the previous row's last byte: the line ends
                // and blank lines between belong to neither.
                let gap = bytes[start..]
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                let gap_lines = memchr::memchr_iter(b'\n', &bytes[start..start + gap]).count();
                let start = start + gap;
                let location = Location {
                    line: record
                        .position()
                        .map_or(location.line, |p| line_base + p.line() + gap_lines as u64),
                    record: None,
                };
                let end = (reader.position().byte() as usize).min(bytes.len());
                let raw = &bytes[start.min(end)..end];
                if record.iter().all(|cell| cell.trim_ascii().is_empty()) {
                    continue;
                }
                let row = if record.len() != names.len() {
                    // An odd number of quotes: a quoted field opened and never closed, so the
                    // reader took the rest of the file as its text.
                    let unclosed = raw.iter().filter(|&&b| b == b'"').count() % 2 == 1;
                    Err(format!(
                        "row has {} fields, the header has {}{}",
                        record.len(),
                        names.len(),
                        if unclosed {
                            " (a quoted field never closes: the rest of the file was read into it)"
                        } else {
                            ""
                        }
                    ))
                } else {
                    map_row(names, targets, &record)
                };
                sink(location, raw, row);
            }
            Err(e) => {
                let raw = &bytes[after_previous.min(bytes.len())..];
                sink(location, raw, Err(format!("malformed CSV: {e}")));
                break;
            }
        }
    }
}

/// The column each header feeds; `None` sends the cell to `AdditionalFields` under its header
/// (also for the second of a repeated header).
fn header_targets(names: &[String]) -> Vec<Option<Target>> {
    let admin_center = names.iter().any(|name| {
        let name = fields::normalize_header(name).to_ascii_lowercase();
        name == "date (utc)" || name == "request id"
    });
    let mut seen = Vec::new();
    names
        .iter()
        .map(|name| {
            let target = if admin_center {
                fields::admin_center_header(name)
            } else {
                fields::log_analytics(&fields::normalize_header(name))
            }?;
            if seen.contains(&target) {
                return None;
            }
            seen.push(target);
            Some(target)
        })
        .collect()
}

fn map_row<'a>(
    names: &[String],
    targets: &[Option<Target>],
    record: &'a csv::ByteRecord,
) -> Result<Row<'a>, String> {
    let mut row = Row::default();
    let mut extra = JsonObject::default();
    for ((name, target), cell) in names.iter().zip(targets).zip(record.iter()) {
        let cell = std::str::from_utf8(cell).map_err(|e| {
            format!(
                "column {:?}: not valid UTF-8 (byte {})",
                clip(name),
                e.valid_up_to()
            )
        })?;
        let field_error = |e: String| format!("column {:?}: {e}", clip(name));
        match target {
            Some(Target::Text(column)) => row.text[*column as usize] = Cow::Borrowed(cell),
            Some(Target::TimeGenerated) if !cell.is_empty() => {
                row.time_generated = Some(parse_timestamp(cell).map_err(field_error)?);
            }
            Some(Target::CreatedDateTime) if !cell.is_empty() => {
                row.created = Some(parse_timestamp(cell).map_err(field_error)?);
            }
            Some(Target::IsInteractive) => {
                row.is_interactive = parse_bool(cell).map_err(field_error)?
            }
            Some(Target::TableType) => row.table_type = Some(Cow::Borrowed(cell)),
            Some(Target::UserKey) => row.user_key = Some(Cow::Borrowed(cell)),
            Some(_) => {}
            None => extra.push_string(name, cell),
        }
    }
    if row.text(Text::ResultType).is_empty() {
        row.text[Text::ResultType as usize] = super::json::error_code(row.text(Text::Status))?;
    }
    row.set_additional_fields(Cow::Owned(extra.finish()));
    Ok(row)
}
