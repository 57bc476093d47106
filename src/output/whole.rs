//! Files that appear whole or not at all: written under a hidden name beside their place,
//! synced, then renamed into it, so that a failed or killed writer never leaves a truncated
//! file where a reader (a person, a spreadsheet, another engine) would take it for complete.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// What to do when `path` already exists once the new file is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    Replace,
    /// Fail, leaving the existing file as it was.
    Fail,
}

/// Writes `path` with `write`, whole or not at all. Its folder must exist. The file gets the
/// mode `File::create` would give it (the umask applies), not a temporary file's 0600.
///
/// # Errors
/// What `write` returns, and I/O errors creating, syncing or renaming the file.
pub fn write_whole(
    path: &Path,
    if_exists: IfExists,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".retrohunt-").suffix(".partial");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut partial = builder.tempfile_in(folder)?;
    write(partial.as_file_mut())?;
    partial.as_file_mut().flush()?;
    partial.as_file().sync_all()?;
    match if_exists {
        IfExists::Replace => partial.persist(path).map_err(|e| e.error)?,
        IfExists::Fail => partial.persist_noclobber(path).map_err(|e| e.error)?,
    };
    File::open(folder)?.sync_all()
}
