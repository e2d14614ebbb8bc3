//! Files that hold secrets, and the data directory that keeps them: owner-only (0700
//! directories, 0600 files) whatever the umask, since the database holds sealed keys and
//! `secrets.key` the key that opens them.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path`, readable by the owner only (mode 0600 on Unix, also when the
/// file existed with a wider mode).
///
/// # Errors
/// The I/O error.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = open_private(path, true)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)
}

/// Creates `path` empty with mode 0600 unless it exists, so that whoever fills it (SQLite,
/// which otherwise creates its files 0644) finds it owner-only.
///
/// # Errors
/// The I/O error.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    open_private(path, false).map(drop)
}

/// Opens `path` for appending, made with mode 0600 when it is new.
///
/// # Errors
/// The I/O error.
pub fn append_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn open_private(path: &Path, truncate: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes `dir` a private data directory: creates it (and missing parents) with mode 0700,
/// and takes group and other access away from it and from everything in it (an older
/// `berthd` made it 0755 and its database 0644), logging each path it tightened.
///
/// # Errors
/// The I/O error, when the directory cannot be made or its modes changed.
pub fn prepare_private_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let mut tightened = Vec::new();
    #[cfg(unix)]
    {
        let unwalked: Vec<PathBuf> = UNWALKED.iter().map(|p| dir.join(p)).collect();
        tighten(dir, &unwalked, &mut tightened)?;
    }
    for path in &tightened {
        tracing::warn!(path = %path.display(), "took group and other access away from a file of the data directory");
    }
    Ok(tightened)
}

/// Subdirectories of a data directory whose contents [`prepare_private_dir`] leaves as they
/// are (the directory itself is still made 0700).
pub const UNWALKED: &[&str] = &["registry/storage"];

/// Strips the group and other bits of `path` and, for a directory, of what it holds; a
/// directory is set to exactly 0700 (the umask may have made it anything).
#[cfg(unix)]
fn tighten(path: &Path, unwalked: &[PathBuf], tightened: &mut Vec<PathBuf>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        // Not followed: what a link points at is not the data directory's to change.
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o7777;
    if meta.is_dir() {
        if mode != 0o700 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
            if mode & 0o077 != 0 {
                tightened.push(path.to_owned());
            }
        }
        if unwalked.iter().any(|u| u == path) {
            return Ok(());
        }
        for entry in std::fs::read_dir(path)? {
            tighten(&entry?.path(), unwalked, tightened)?;
        }
    } else if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        tightened.push(path.to_owned());
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn a_data_directory_left_readable_is_made_owner_only() -> std::io::Result<()> {
        let tmp = tempfile::tempdir()?;
        let fresh = tmp.path().join("a/data");
        assert!(prepare_private_dir(&fresh)?.is_empty());
        assert_eq!(mode(&fresh), 0o700);

        let old = tmp.path().join("old");
        std::fs::create_dir_all(old.join("tls"))?;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755))?;
        std::fs::set_permissions(old.join("tls"), std::fs::Permissions::from_mode(0o755))?;
        for file in ["berth.db", "berth.db-wal", "tls/dev-key.pem"] {
            std::fs::write(old.join(file), b"x")?;
            std::fs::set_permissions(old.join(file), std::fs::Permissions::from_mode(0o644))?;
        }
        assert_eq!(prepare_private_dir(&old)?.len(), 5);
        assert_eq!(mode(&old), 0o700);
        assert_eq!(mode(&old.join("tls")), 0o700);
        assert_eq!(mode(&old.join("berth.db")), 0o600);
        assert_eq!(mode(&old.join("tls/dev-key.pem")), 0o600);
        assert!(prepare_private_dir(&old)?.is_empty(), "nothing left to do");

        // Blob storage keeps its files' modes; its directory is still owner-only.
        let storage = old.join("registry/storage");
        std::fs::create_dir_all(storage.join("blobs"))?;
        std::fs::set_permissions(&storage, std::fs::Permissions::from_mode(0o755))?;
        std::fs::write(storage.join("blobs/data"), b"x")?;
        std::fs::set_permissions(
            storage.join("blobs/data"),
            std::fs::Permissions::from_mode(0o644),
        )?;
        prepare_private_dir(&old)?;
        assert_eq!(mode(&storage), 0o700);
        assert_eq!(mode(&storage.join("blobs/data")), 0o644);

        let file = old.join("written");
        std::fs::write(&file, b"old")?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
        write_private(&file, b"new")?;
        assert_eq!(mode(&file), 0o600, "rewriting a file makes it private too");
        create_private(&file)?;
        assert_eq!(std::fs::read(&file)?, b"new", "an existing file is kept");
        Ok(())
    }
}
