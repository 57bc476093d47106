//! Reading a blob. One the manifest has with the same ETag and size is not read at all; an
//! append blob of JSON lines that grew since is read from where the last read stopped (the
//! way diagnostic settings fill `PT1H.json` during its hour); any other change is read whole,
//! and the records the lake already holds fall out as duplicates.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use object_store::{GetOptions, GetRange, ObjectMeta};

use super::IngestError;
use super::listing::Blob;
use super::reader::{self, FileOutcome, ReadOptions};
use super::source::{Format, detect};
use crate::lake::{Manifest, Resume, Source};
use crate::store::{BlockingRuntime, Location, StoreError};

/// Bytes before the resume point read again and compared with the manifest's hash of them.
const TAIL: u64 = 4096;

/// A blob's size (or the bytes read of it) and outcome: `None` if unchanged.
pub(super) fn read_blob(
    blob: &Blob,
    known: &Manifest,
    read: &ReadOptions,
    io: &Io,
) -> (u64, Result<Option<FileOutcome>, IngestError>) {
    let name = PathBuf::from(&blob.url);
    let previous = known.get(&name);
    let listed = etag(&blob.meta);
    if previous.is_some_and(|previous| {
        previous.etag.is_some() && previous.etag == listed && previous.size == blob.meta.size
    }) {
        return (blob.meta.size, Ok(None));
    }
    let failed = |e| (0, Err(StoreError::new(&blob.url, e).into()));
    let grown = previous
        .and_then(|previous| previous.resume.as_ref())
        .filter(|resume| blob.meta.size > resume.offset);
    if let Some(resume) = grown {
        let overlap = TAIL.min(resume.offset);
        let (meta, bytes) = match io.block_on(fetch(blob, resume.offset - overlap)) {
            Ok(fetched) => fetched,
            Err(e) => return failed(e),
        };
        let overlap = overlap as usize;
        if bytes.len() >= overlap && hash(&bytes[..overlap]) == resume.tail {
            let outcome = outcome(&name, meta, &bytes, overlap, Some(resume), read);
            return (outcome.bytes, Ok(Some(outcome)));
        }
        // Rewritten rather than appended to: read whole.
    }
    match io.block_on(fetch(blob, 0)) {
        Ok((meta, bytes)) => {
            let outcome = outcome(&name, meta, &bytes, 0, None, read);
            (outcome.bytes, Ok(Some(outcome)))
        }
        Err(e) => failed(e),
    }
}

/// The blob from byte `from` on, with its metadata as of that read.
async fn fetch(blob: &Blob, from: u64) -> object_store::Result<(ObjectMeta, Bytes)> {
    let options = GetOptions {
        range: (from > 0).then_some(GetRange::Offset(from)),
        ..GetOptions::default()
    };
    let result = blob.store.get_opts(&blob.meta.location, options).await?;
    let meta = result.meta.clone();
    Ok((meta, result.bytes().await?))
}

/// Reads `bytes[overlap..]`, the part of the blob not read before, continuing the line
/// numbers of `before`.
fn outcome(
    name: &Path,
    meta: ObjectMeta,
    bytes: &[u8],
    overlap: usize,
    before: Option<&Resume>,
    read: &ReadOptions,
) -> FileOutcome {
    let new = &bytes[overlap..];
    let (offset, lines) = before.map_or((0, 0), |r| (r.offset, r.lines));
    let resumable = new.ends_with(b"\n")
        && read.format.is_none_or(|format| format == Format::Json)
        && (before.is_some() || json_lines(new));
    let resume = resumable.then(|| Resume {
        offset: offset + new.len() as u64,
        lines: lines + new.iter().filter(|&&b| b == b'\n').count() as u64,
        tail: hash(&bytes[bytes.len().saturating_sub(TAIL as usize)..]),
    });
    let source = Source {
        path: name.to_path_buf(),
        size: meta.size,
        hash: String::new(),
        etag: etag(&meta),
        resume,
    };
    let mut outcome = reader::read_file(name, new.to_vec(), source, read);
    for reject in &mut outcome.rejects {
        if reject.line > 0 {
            reject.line += lines;
        }
    }
    outcome
}

/// Plain (uncompressed) JSON whose first line is a whole document: more lines can follow.
fn json_lines(bytes: &[u8]) -> bool {
    if detect(Path::new(""), bytes) != Format::Json {
        return false;
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    text.split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|line| !line.is_empty())
        .is_some_and(|line| {
            line.starts_with(b"{") && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
        })
}

/// The ETag without the quotes that some answers put around it (Azure's listings leave them
/// out, its reads do not).
fn etag(meta: &ObjectMeta) -> Option<String> {
    meta.e_tag
        .as_deref()
        .map(|tag| tag.trim_start_matches("W/").trim_matches('"').to_string())
}

fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The runtime blobs are listed and fetched on, if any input is remote. Listing local inputs
/// needs none, so an ingest of local files may run inside another runtime (the sample lake's).
pub(super) struct Io {
    pub(super) runtime: Option<BlockingRuntime>,
}

impl Io {
    pub(super) fn for_inputs(inputs: &[Location]) -> Result<Io, IngestError> {
        if !inputs.iter().any(|i| matches!(i, Location::Remote(_))) {
            return Ok(Io { runtime: None });
        }
        let runtime = BlockingRuntime::new().map_err(|e| IngestError::Input {
            path: PathBuf::from("(runtime)"),
            reason: format!("cannot start the I/O runtime: {e}"),
        })?;
        Ok(Io {
            runtime: Some(runtime),
        })
    }

    pub(super) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        match &self.runtime {
            Some(runtime) => runtime.block_on(future),
            None => futures::executor::block_on(future),
        }
    }
}
