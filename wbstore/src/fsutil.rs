//! Owner-only files and directories, and atomic replacement of a file.
//!
//! The admin side (wbgen, wbkms) is supported on Linux (README, Platforms); on other platforms
//! the crate builds with the file system's defaults (on Windows, the directory's ACL).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use crate::Error;
use crate::error::io;

/// Opens files for the owner only (`0o600`).
#[cfg(unix)]
pub fn owner_only(o: &mut OpenOptions) -> &mut OpenOptions {
    use std::os::unix::fs::OpenOptionsExt as _;
    o.mode(0o600)
}

/// Opens files with the platform's defaults.
#[cfg(not(unix))]
pub fn owner_only(o: &mut OpenOptions) -> &mut OpenOptions {
    o
}

/// Creates `dir` (and its parents) for the owner only (`0o700`), if it does not exist.
///
/// # Errors
/// [`Error::Io`] naming the directory.
pub fn create_private_dir(dir: &Path) -> Result<(), Error> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(io(format!("create the directory {}", dir.display())))
}

/// Makes an existing file readable and writable by its owner only.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn restrict_to_owner(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(io(format!("restrict {} to its owner", path.display())))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `bytes` to `dir/name` atomically: a private temporary file, fsync, rename over the
/// target, fsync of the directory. A crash leaves the old file or the new one.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = owner_only(OpenOptions::new().write(true).create_new(true))
        .open(&tmp)
        .map_err(io(format!("create a temporary file in {}", dir.display())))?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(format!("write {}", tmp.display())));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, &target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(format!("rename into place {}", target.display()))(e));
    }
    sync_dir(dir)
}

/// Makes a rename in `dir` durable (fsync of the directory).
///
/// # Errors
/// [`Error::Io`] naming the directory.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    let d = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::File::open(d)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("sync the directory {}", d.display())))
}

/// A directory cannot be opened as a file here; NTFS journals the rename itself.
///
/// # Errors
/// None.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> Result<(), Error> {
    Ok(())
}
