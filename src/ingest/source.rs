//! Input files: walking folders, reading (gzip and zstd transparently, by magic bytes), and
//! telling the format of each file.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::lake::layout::not_data;

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
/// failed part way (the bytes before the failure are kept, SPEC §2).
#[derive(Debug)]
pub struct Content {
    pub bytes: Vec<u8>,
    pub truncated: Option<String>,
}

/// Lists the files of every input: files as given, folders walked recursively in name order so
/// that runs are repeatable. Hidden files and our own lake bookkeeping are not inputs.
pub fn list_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, (PathBuf, String)> {
    let mut files = Vec::new();
    for input in inputs {
        let metadata = std::fs::metadata(input).map_err(|e| (input.clone(), e.to_string()))?;
        if metadata.is_file() {
            files.push(input.clone());
            continue;
        }
        let walker = walkdir::WalkDir::new(input)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !not_data(entry.file_name()));
        for entry in walker {
            let entry = entry.map_err(|e| (input.clone(), e.to_string()))?;
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

/// Decompresses gzip or zstd content, recognised by its magic bytes; other content is returned as is.
pub fn decompress(raw: Vec<u8>) -> std::io::Result<Content> {
    let mut bytes = Vec::new();
    let result = if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut bytes)
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::stream::read::Decoder::new(raw.as_slice())?.read_to_end(&mut bytes)
    } else {
        return Ok(Content {
            bytes: raw,
            truncated: None,
        });
    };
    let truncated = result.err().map(|e| {
        // The last line was cut by the failure: it is not a record that was read.
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(keep);
        format!("compressed data is damaged or truncated: {e}")
    });
    Ok(Content { bytes, truncated })
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
