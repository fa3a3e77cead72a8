//! Key files: JSON, mode 0600, never overwritten by accident, never echoed.

use std::path::Path;

use tracemark_core::Key;

use crate::IoError;
use crate::atomic::write_atomic;

/// Key files are small; anything larger is not a key file.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Writes `key` to `path` with mode 0600. Refuses to replace an existing file unless `force`.
pub fn write_key(path: &Path, key: &Key, force: bool) -> Result<(), IoError> {
    write_atomic(path, key.to_json().as_bytes(), true, force)
}

/// Reads and validates a key file.
pub fn read_key(path: &Path) -> Result<Key, IoError> {
    let read_err = |e: std::io::Error| IoError::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() || meta.len() > MAX_KEY_FILE_BYTES {
        return Err(IoError::Key {
            path: path.to_path_buf(),
            message: "not a key file (too large or not a regular file)".into(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|_| IoError::Key {
        path: path.to_path_buf(),
        message: "not a key file (not UTF-8 text)".into(),
    })?;
    Key::from_json(&text).map_err(|e| IoError::Key {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// A warning when other users may read the key file at `path` (any group or other
/// permission bit, Unix), with the command that fixes it; `None` when it is private.
pub fn permissions_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "{} is readable by other users (mode {mode:04o}): anyone who can read it can \
                 forge or remove the watermark; run chmod 600 {}",
                path.display(),
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_core::WatermarkConfig;

    #[test]
    fn key_files_are_private_and_not_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let key = Key::generate(WatermarkConfig::default()).unwrap();
        write_key(&path, &key, false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = Key::generate(WatermarkConfig::default()).unwrap();
        assert!(matches!(
            write_key(&path, &other, false),
            Err(IoError::Exists(_))
        ));
        assert_eq!(read_key(&path).unwrap().id(), key.id());
        write_key(&path, &other, true).unwrap();
        assert_eq!(read_key(&path).unwrap().id(), other.id());
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(permissions_warning(&path), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let warning = permissions_warning(&path).unwrap();
            assert!(
                warning.contains("mode 0644") && warning.contains("chmod 600"),
                "{warning}"
            );
        }
    }
}
