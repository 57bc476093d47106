//! The sources a lake has ingested, keyed by path (a blob's URL), size and content hash, and
//! for blobs their ETag. Archive blobs are append blobs that grow: a file whose size or hash
//! changed is read again, and the records the lake already holds fall out as duplicates. A
//! blob whose ETag and size are unchanged is not read at all.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::LakeError;
use super::layout;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub path: PathBuf,
    pub size: u64,
    /// BLAKE3 of a local file's bytes as stored (before decompression), hex. Blobs are known
    /// by their ETag instead.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
    /// The store's version tag of a blob, as it was when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Where the read of a blob of JSON lines stopped, so that what is appended to it later
    /// can be read alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// The end of what was read of a blob of JSON lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// Bytes read; the last of them ends a line.
    pub offset: u64,
    /// Lines in those bytes, so that rejects of the appended part keep their line numbers.
    pub lines: u64,
    /// BLAKE3 of the last (up to) 4 KiB before `offset`, hex: read again with the appended
    /// bytes, it shows that the blob was appended to rather than rewritten.
    pub tail: String,
}

#[derive(Debug, Default, Clone)]
pub struct Manifest {
    sources: HashMap<PathBuf, Source>,
}

impl Manifest {
    pub fn load(root: &Path) -> Result<Manifest, LakeError> {
        let path = layout::manifest_file(root);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(LakeError::io(&path, e)),
        };
        Manifest::parse(&text, &path)
    }

    /// A manifest's lines; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, LakeError> {
        let mut sources = HashMap::new();
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let source: Source = serde_json::from_str(line).map_err(|e| LakeError::Manifest {
                path: path.to_path_buf(),
                line: index + 1,
                reason: e.to_string(),
            })?;
            sources.insert(source.path.clone(), source);
        }
        Ok(Manifest { sources })
    }

    pub fn contains(&self, source: &Source) -> bool {
        self.sources.get(&source.path) == Some(source)
    }

    pub fn from_sources(sources: Vec<Source>) -> Manifest {
        Manifest {
            sources: sources.into_iter().map(|s| (s.path.clone(), s)).collect(),
        }
    }

    /// Every source, in path order.
    pub fn sources(&self) -> Vec<Source> {
        let mut sources: Vec<Source> = self.sources.values().cloned().collect();
        sources.sort_by(|a, b| a.path.cmp(&b.path));
        sources
    }

    pub fn get(&self, path: &Path) -> Option<&Source> {
        self.sources.get(path)
    }

    pub fn record(&mut self, source: Source) {
        self.sources.insert(source.path.clone(), source);
    }

    /// Replaces the manifest file atomically.
    pub fn save(&self, root: &Path) -> Result<(), LakeError> {
        let path = layout::manifest_file(root);
        let staging = layout::staging_dir(root);
        let io = |e: std::io::Error| LakeError::io(&path, e);
        std::fs::create_dir_all(&staging).map_err(io)?;
        let mut temp = tempfile::NamedTempFile::new_in(&staging).map_err(io)?;
        for source in self.sources() {
            let line = serde_json::to_string(&source).expect("manifest entries serialise");
            writeln!(temp, "{line}").map_err(io)?;
        }
        temp.as_file().sync_all().map_err(io)?;
        temp.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }
}
