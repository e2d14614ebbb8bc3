//! Files that hold secrets.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path`, readable by the owner only (mode 0600 on Unix).
///
/// # Errors
/// The I/O error.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}
