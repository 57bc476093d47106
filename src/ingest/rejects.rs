//! Records that could not be ingested, kept for inspection in `LAKE/_rejects/` with their source
//! file, line or record number, reason and raw text. Nothing bad is ever dropped silently.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::json::Location;

/// Raw text kept per reject: enough to see the problem, bounded for 100 MB lines.
const MAX_RAW: usize = 1 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct Reject {
    pub source: PathBuf,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    pub reason: String,
    pub raw: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw_truncated: bool,
}

impl Reject {
    pub fn new(source: &Path, location: Location, raw: &[u8], reason: String) -> Reject {
        let truncated = raw.len() > MAX_RAW;
        Reject {
            source: source.to_path_buf(),
            line: location.line,
            record: location.record,
            reason,
            raw: String::from_utf8_lossy(&raw[..raw.len().min(MAX_RAW)]).into_owned(),
            raw_truncated: truncated,
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source.display(), self.line)?;
        if let Some(record) = self.record {
            write!(f, " (record {record})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// One JSON-lines file per ingest run, named by its start time; written as `.partial` and
/// renamed when the run ends, so a finished file is never appended to.
#[derive(Debug)]
pub struct RejectLog {
    dir: PathBuf,
    name: String,
    writer: Option<BufWriter<File>>,
    pub count: u64,
}

impl RejectLog {
    pub fn new(dir: PathBuf) -> RejectLog {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
        RejectLog {
            dir,
            name: format!("ingest-{stamp}-{}.jsonl", std::process::id()),
            writer: None,
            count: 0,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    fn partial_path(&self) -> PathBuf {
        self.dir.join(format!("{}.partial", self.name))
    }

    pub fn write(&mut self, reject: &Reject) -> std::io::Result<()> {
        if self.writer.is_none() {
            std::fs::create_dir_all(&self.dir)?;
            self.writer = Some(BufWriter::new(File::create(self.partial_path())?));
        }
        let writer = self.writer.as_mut().expect("opened above");
        serde_json::to_writer(&mut *writer, reject)?;
        writer.write_all(b"\n")?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and publishes the file; returns its path if anything was rejected.
    pub fn finish(&mut self) -> std::io::Result<Option<PathBuf>> {
        let Some(mut writer) = self.writer.take() else {
            return Ok(None);
        };
        writer.flush()?;
        writer.get_ref().sync_all()?;
        std::fs::rename(self.partial_path(), self.path())?;
        Ok(Some(self.path()))
    }
}
