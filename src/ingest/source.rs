//! Input content: decompressing it (gzip and zstd transparently, by magic bytes) and telling
//! its format.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use clap::ValueEnum;

/// The input formats, as `--format` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Any JSON shape: JSON lines, `{"records":[...]}`, `{"value":[...]}`, arrays, one object.
    Json,
    /// Log Analytics portal CSV or Entra admin-center CSV download.
    Csv,
    /// Parquet with Log Analytics columns.
    Parquet,
}

/// A file's content after decompression; `truncated` holds the reason when decompression
/// failed part way, or the content outgrew its share of memory (the lines before are kept,
/// docs/tables.md). Lines longer than the record cap are not in `bytes` (an empty line stands in,
/// so that later lines keep their numbers) but in `oversized`.
#[derive(Debug)]
pub struct Content {
    pub bytes: Vec<u8>,
    pub truncated: Option<String>,
    pub oversized: Vec<Oversized>,
}

/// A line longer than the record cap, skipped to its end without being held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oversized {
    /// 1-based.
    pub line: u64,
    /// Of the line's first byte, in the decompressed content.
    pub offset: u64,
    /// Without the line end.
    pub len: u64,
    /// The line's first bytes, for the reject.
    pub head: Vec<u8>,
}

/// Bounds on what one file may hold in memory once decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (record) kept.
    pub record: usize,
    /// Most bytes of content kept.
    pub content: usize,
}

/// Bytes of an oversized line kept for its reject.
const HEAD: usize = 1024;

/// Decompresses gzip or zstd content, recognised by its magic bytes, within `limits`: a
/// decompression bomb (2 GB of NULs without a line end from an 8 MB file) is read in bounded
/// memory. Plain content is returned as it is unless a line outgrows the record cap. Parquet
/// is binary: its content is only held to the content cap.
pub fn decompress(raw: Vec<u8>, limits: Limits) -> std::io::Result<Content> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        bounded(flate2::read::MultiGzDecoder::new(raw.as_slice()), limits)
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        bounded(zstd::stream::read::Decoder::new(raw.as_slice())?, limits)
    } else if raw.starts_with(b"PAR1") || longest_line(&raw) <= limits.record {
        Ok(Content {
            bytes: raw,
            truncated: None,
            oversized: Vec::new(),
        })
    } else {
        bounded(raw.as_slice(), limits)
    }
}

fn longest_line(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// `input` line by line into memory, oversized lines skipped and noted, up to the content cap.
fn bounded(input: impl Read, limits: Limits) -> std::io::Result<Content> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut out: Vec<u8> = Vec::new();
    let mut oversized = Vec::new();
    // Where the current line starts, in `out` and in the content; and its number.
    let (mut line, mut line_start, mut line_offset, mut offset) = (1u64, 0usize, 0u64, 0u64);
    let mut skipping: Option<Oversized> = None;
    let mut parquet = None;
    let failure = loop {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Some(format!("compressed data is damaged or truncated: {e}")),
        };
        if chunk.is_empty() {
            break None;
        }
        let binary = *parquet.get_or_insert_with(|| chunk.starts_with(b"PAR1"));
        let (take, ends_line) = match chunk.iter().position(|&b| b == b'\n') {
            Some(at) if !binary => (at + 1, true),
            _ => (chunk.len(), false),
        };
        match &mut skipping {
            Some(skipped) => skipped.len += (take - usize::from(ends_line)) as u64,
            None => {
                out.extend_from_slice(&chunk[..take]);
                let length = out.len() - line_start - usize::from(ends_line);
                if !binary && length > limits.record {
                    let head = out[line_start..line_start + HEAD.min(length)].to_vec();
                    skipping = Some(Oversized {
                        line,
                        offset: line_offset,
                        len: length as u64,
                        head,
                    });
                    out.truncate(line_start);
                }
            }
        }
        input.consume(take);
        offset += take as u64;
        if ends_line {
            if let Some(skipped) = skipping.take() {
                oversized.push(skipped);
                out.push(b'\n');
            }
            line += 1;
            line_start = out.len();
            line_offset = offset;
        }
        if out.len() > limits.content {
            break Some(format!(
                "decompresses to more than {} bytes, the share of --memory-limit one file may \
                 hold; the rest of the file is not read",
                limits.content
            ));
        }
    };
    oversized.extend(skipping);
    if failure.is_some() {
        // The last line was cut by the failure: it is not a record that was read.
        let keep = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        out.truncate(keep);
    }
    Ok(Content {
        bytes: out,
        truncated: failure,
        oversized,
    })
}

/// Tells the format from the content, ignoring compression suffixes of the name.
pub fn detect(path: &Path, bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PAR1") {
        return Format::Parquet;
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match text.trim_ascii_start().first() {
        Some(b'{' | b'[') => Format::Json,
        Some(_) => Format::Csv,
        None => {
            let name = path.to_string_lossy().to_ascii_lowercase();
            if name.contains(".csv") {
                Format::Csv
            } else {
                Format::Json
            }
        }
    }
}
