//! Output files appear whole or not at all: write a temporary file beside the target, then rename.

use std::io::Write;
use std::path::Path;

use crate::IoError;

/// The operating system's error without the temporary file's name, which tempfile adds and
/// which means nothing to the user.
fn os_cause(e: std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => {
            let inner = e
                .get_ref()
                .and_then(|x| x.source())
                .and_then(|s| s.downcast_ref::<std::io::Error>());
            match inner.and_then(std::io::Error::raw_os_error) {
                Some(code) => std::io::Error::from_raw_os_error(code),
                None if e.get_ref().is_some() => std::io::Error::from(e.kind()),
                None => e,
            }
        }
    }
}

/// The process umask, read without changing it (Linux `/proc/self/status`); 022 if unknown.
#[cfg(unix)]
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Writes `bytes` to `path` atomically. With `private`, the file is created mode 0600 (Unix)
/// before any byte is written. With `overwrite = false`, an existing file is an error.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    private: bool,
    overwrite: bool,
) -> Result<(), IoError> {
    let fail = |e: std::io::Error| IoError::Write {
        path: path.to_path_buf(),
        source: os_cause(e),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "directory does not exist");
        return Err(IoError::Write {
            path: path.to_path_buf(),
            source: missing,
        });
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tracemark-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Temporary files are created 0600; public outputs get the usual 0644 (less umask).
        let mode = if private {
            0o600
        } else {
            0o666 & !current_umask()
        };
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut tmp = builder.tempfile_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    if overwrite {
        tmp.persist(path).map_err(|e| fail(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                IoError::Exists(path.to_path_buf())
            } else {
                fail(e.error)
            }
        })?;
    }
    Ok(())
}
