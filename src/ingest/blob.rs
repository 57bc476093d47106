//! Reading a blob. One the manifest has with the same ETag and size is not read at all; an
//! append blob of JSON lines that grew since is read from where the last read stopped (the
//! way diagnostic settings fill `PT1H.json` during its hour); any other change is read whole,
//! and the records the lake already holds fall out as duplicates.

use std::io::Read;
use std::path::PathBuf;

use bytes::{Buf, Bytes};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::{GetOptions, GetRange, ObjectMeta};

use super::listing::Blob;
use super::reader::{self, ReadOptions, Stream};
use super::source::Format;
use super::tap::TAIL;
use super::{Delivered, IngestError};
use crate::lake::{Manifest, Resume, Source};
use crate::store::{BlockingRuntime, Location, StoreError};

/// Reads a blob unless the manifest has it with the same ETag and size, delivering it with
/// `send`; `false` when `send` refused, the ingest stopping.
pub(super) fn read_blob(
    blob: &Blob,
    known: &Manifest,
    read: &ReadOptions,
    io: &Io,
    send: &mut dyn FnMut(Delivered) -> bool,
) -> bool {
    let name = PathBuf::from(&blob.url);
    let previous = known.get(&name);
    let listed = etag(&blob.meta);
    if previous.is_some_and(|previous| {
        previous.etag.is_some() && previous.etag == listed && previous.size == blob.meta.size
    }) {
        return send(Delivered::Unchanged(blob.meta.size));
    }
    let failed = |e| Delivered::Failed(StoreError::new(&blob.url, e).into());
    let grown = previous
        .and_then(|previous| previous.resume.as_ref())
        .filter(|resume| blob.meta.size > resume.offset);
    if let Some(resume) = grown {
        let overlap = TAIL.min(resume.offset as usize);
        let mut body = match io.block_on(Body::open(blob, resume.offset - overlap as u64, io)) {
            Ok(body) => body,
            Err(e) => return send(failed(e)),
        };
        let mut before = vec![0; overlap];
        match body.read_exact(&mut before) {
            Ok(()) if hash(&before) == resume.tail => {
                return read_body(&name, body, &before, Some(resume), read, send);
            }
            // Rewritten rather than appended to: read whole.
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => return send(failed(store_error(e))),
        }
    }
    match io.block_on(Body::open(blob, 0, io)) {
        Ok(body) => read_body(&name, body, &[], None, read, send),
        Err(e) => send(failed(e)),
    }
}

/// Reads the rest of `body`, which follows `before` (the end of what was read last time, if
/// the blob grew since), continuing the line numbers of that read.
fn read_body(
    name: &std::path::Path,
    mut body: Body<'_>,
    before: &[u8],
    previous: Option<&Resume>,
    read: &ReadOptions,
    send: &mut dyn FnMut(Delivered) -> bool,
) -> bool {
    let (offset, lines) = previous.map_or((0, 0), |r| (r.offset, r.lines));
    let meta = body.meta.clone();
    let stream = Stream {
        json_lines: previous.is_some(),
        ..Stream::default()
    };
    // Rejects name their line in the whole blob.
    let shift = |piece: &mut reader::FileOutcome| {
        for reject in piece.rejects.iter_mut().filter(|r| r.line > 0) {
            reject.line += lines;
        }
    };
    let pieces = &mut |mut piece| {
        shift(&mut piece);
        send(Delivered::Piece(piece))
    };
    let Some(finished) = reader::read_stream(name, &mut body, stream, read, pieces) else {
        return false;
    };
    let tapped = finished.tapped;
    if let Some(e) = tapped.error {
        let e = StoreError::new(&name.to_string_lossy(), store_error(e));
        return send(Delivered::Failed(e.into()));
    }
    let resumable = finished.json_lines
        && tapped.ends_line()
        && read.format.is_none_or(|format| format == Format::Json);
    let resume = resumable.then(|| {
        let mut tail = before.to_vec();
        tail.extend_from_slice(&tapped.tail);
        Resume {
            offset: offset + tapped.bytes,
            lines: lines + tapped.newlines,
            tail: hash(&tail[tail.len().saturating_sub(TAIL)..]),
        }
    });
    let mut outcome = finished.outcome;
    shift(&mut outcome);
    outcome.source = Some(Source {
        path: name.to_path_buf(),
        size: meta.size,
        hash: String::new(),
        etag: etag(&meta),
        resume,
    });
    send(Delivered::Piece(outcome))
}

/// A blob's content from some byte on, as it arrives.
struct Body<'io> {
    meta: ObjectMeta,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    current: Bytes,
    io: &'io Io,
}

impl<'io> Body<'io> {
    async fn open(blob: &Blob, from: u64, io: &'io Io) -> object_store::Result<Body<'io>> {
        let options = GetOptions {
            range: (from > 0).then_some(GetRange::Offset(from)),
            ..GetOptions::default()
        };
        let result = blob.store.get_opts(&blob.meta.location, options).await?;
        Ok(Body {
            meta: result.meta.clone(),
            stream: result.into_stream(),
            current: Bytes::new(),
            io,
        })
    }
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.io.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// The store's error inside a failed read of a body.
fn store_error(e: std::io::Error) -> object_store::Error {
    match e.downcast::<object_store::Error>() {
        Ok(e) => e,
        Err(e) => object_store::Error::Generic {
            store: "blob",
            source: Box::new(e),
        },
    }
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
