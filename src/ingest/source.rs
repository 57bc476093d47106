//! Input content: decompressing it as it arrives (gzip and zstd transparently, by magic
//! bytes), cutting it into pieces at record boundaries, and telling its format.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The input formats, as `--format` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Parquet,
}

impl crate::choice::Choice for Format {
    const OFFERED: &'static [(Self, &'static str, &'static str)] = &[
        (
            Format::Json,
            "json",
            "Any JSON shape: JSON lines, {\"records\":[...]}, {\"value\":[...]}, arrays, one object",
        ),
        (
            Format::Csv,
            "csv",
            "Log Analytics portal CSV or Entra admin-center CSV download",
        ),
        (
            Format::Parquet,
            "parquet",
            "Parquet with Log Analytics columns",
        ),
    ];
}

/// Part of a file's decompressed content, ending where a record ends (or where the content
/// ends). Lines longer than the record cap are not in `bytes` (an empty line stands in, so
/// that later lines keep their numbers) but in `oversized`.
#[derive(Debug, Default)]
pub struct Piece {
    pub bytes: Vec<u8>,
    /// Lines of the file before this piece.
    pub line_base: u64,
    pub oversized: Vec<Oversized>,
    /// Why the content stopped before its end: damage, or outgrowing its share of memory
    /// (the lines before are kept, docs/tables.md).
    pub truncated: Option<String>,
    /// Nothing follows.
    pub last: bool,
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
    /// Most bytes of content held at once.
    pub content: usize,
    /// Content parsed at a time where records can be told apart without parsing (lines,
    /// CSV rows).
    pub piece: usize,
}

/// Where a piece may end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// At any line end.
    Lines,
    /// At a line end outside quotes.
    CsvRows,
    /// Nowhere: a JSON document is read whole, up to the content cap.
    Never,
    /// Nowhere, and the content is not text: Parquet.
    Binary,
}

/// Bytes of an oversized line kept for its reject.
const HEAD: usize = 1024;

/// Most of a piece allocated ahead; a larger one grows as it fills.
const PIECE_RESERVE: usize = 64 << 20;

/// A file's content as it arrives, decompressed on the fly (gzip or zstd, recognised by their
/// magic bytes) and handed out in pieces, so that neither a large file nor a decompression
/// bomb (2 GB of NULs without a line end from an 8 MB file) is ever held whole.
pub struct Content<'a> {
    input: BufReader<Box<dyn Read + 'a>>,
    compressed: bool,
    limits: Limits,
    /// The number of the line being read, and the content offset of its first byte.
    line: u64,
    line_offset: u64,
    /// Content bytes consumed.
    offset: u64,
    skipping: Option<Oversized>,
    /// An odd number of quotes since the current CSV row began.
    in_quotes: bool,
    ended: bool,
}

impl<'a> Content<'a> {
    /// # Errors
    /// The raw input cannot be read, or a zstd header is unreadable.
    pub fn open(raw: impl Read + 'a, limits: Limits) -> std::io::Result<Content<'a>> {
        let mut raw = BufReader::with_capacity(1 << 16, raw);
        let magic = raw.fill_buf()?;
        let (input, compressed): (Box<dyn Read + 'a>, bool) = if magic.starts_with(&[0x1f, 0x8b]) {
            (Box::new(flate2::bufread::MultiGzDecoder::new(raw)), true)
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            (
                Box::new(zstd::stream::read::Decoder::with_buffer(raw)?),
                true,
            )
        } else {
            (Box::new(raw), false)
        };
        Ok(Content {
            input: BufReader::with_capacity(1 << 16, input),
            compressed,
            limits,
            line: 1,
            line_offset: 0,
            offset: 0,
            skipping: None,
            in_quotes: false,
            ended: false,
        })
    }

    pub fn compressed(&self) -> bool {
        self.compressed
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The format, told from the first bytes of content and the name.
    pub fn format(&mut self, path: &Path) -> Format {
        let start = loop {
            match self.input.fill_buf() {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The error comes again to the first piece, which reports it.
                Err(_) => break &[][..],
                Ok(start) => break start,
            }
        };
        detect(path, start)
    }

    /// Replaces `piece` by the next one: at least `limits.piece` bytes where `cut` allows,
    /// else to the end. Its buffer is kept: the allocator sees one buffer per file, not one
    /// per piece, so memory stays flat however it recycles them.
    pub fn next_piece(&mut self, piece: &mut Piece, cut: Cut) {
        piece.bytes.clear();
        piece.bytes.reserve(self.limits.piece.min(PIECE_RESERVE));
        piece.line_base = self.line - 1;
        piece.oversized.clear();
        piece.truncated = None;
        self.extend(piece, cut);
    }

    /// Reads more content into `piece`, as [`Content::next_piece`] does.
    pub fn extend(&mut self, piece: &mut Piece, cut: Cut) {
        let out = &mut piece.bytes;
        let binary = cut == Cut::Binary;
        let mut line_start = out.len();
        let mut in_quotes_at_line_start = self.in_quotes;
        let failure = loop {
            if self.ended {
                break None;
            }
            let chunk = match self.input.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(format!("compressed data is damaged or truncated: {e}")),
            };
            if chunk.is_empty() {
                self.ended = true;
                break None;
            }
            let (take, ends_line) = match memchr::memchr(b'\n', chunk) {
                Some(at) if !binary => (at + 1, true),
                _ => (chunk.len(), false),
            };
            match &mut self.skipping {
                Some(skipped) => skipped.len += (take - usize::from(ends_line)) as u64,
                None => {
                    let taken = &chunk[..take];
                    if cut == Cut::CsvRows && memchr::memchr_iter(b'"', taken).count() % 2 == 1 {
                        self.in_quotes = !self.in_quotes;
                    }
                    out.extend_from_slice(taken);
                    let length = out.len() - line_start - usize::from(ends_line);
                    if !binary && length > self.limits.record {
                        let head = out[line_start..line_start + HEAD.min(length)].to_vec();
                        self.skipping = Some(Oversized {
                            line: self.line,
                            offset: self.line_offset,
                            len: length as u64,
                            head,
                        });
                        out.truncate(line_start);
                        self.in_quotes = in_quotes_at_line_start;
                    }
                }
            }
            self.input.consume(take);
            self.offset += take as u64;
            if ends_line {
                if let Some(skipped) = self.skipping.take() {
                    piece.oversized.push(skipped);
                    out.push(b'\n');
                }
                self.line += 1;
                line_start = out.len();
                in_quotes_at_line_start = self.in_quotes;
                self.line_offset = self.offset;
                let boundary = match cut {
                    Cut::Lines => true,
                    Cut::CsvRows => !self.in_quotes,
                    Cut::Never | Cut::Binary => false,
                };
                if boundary && out.len() >= self.limits.piece {
                    return;
                }
            }
            if out.len() > self.limits.content {
                break Some(format!(
                    "decompresses to more than {} bytes, the share of --memory-limit one file \
                     may hold at once; the rest of the file is not read",
                    self.limits.content
                ));
            }
        };
        piece.oversized.extend(self.skipping.take());
        piece.last = true;
        self.ended = true;
        if failure.is_some() && !binary {
            // The last line was cut by the failure: it is not a record that was read.
            let keep = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            out.truncate(keep);
        }
        piece.truncated = failure;
    }
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
