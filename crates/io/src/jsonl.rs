//! JSONL outputs: written whole and atomically ([`write_jsonl`]), or appended one synced
//! record at a time so that a killed job can resume ([`JsonlAppender`]).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::IoError;
use crate::atomic::write_atomic;

/// One record as a JSON line (with its newline).
fn line<T: Serialize>(record: &T) -> String {
    let mut line = serde_json::to_string(record).expect("records serialize");
    line.push('\n');
    line
}

/// Writes `records` to `path` as JSONL, atomically: readers see the old file or the whole
/// new one, never half of it. Without `overwrite`, an existing file is an error.
pub fn write_jsonl<T: Serialize>(
    path: &Path,
    records: impl IntoIterator<Item = T>,
    overwrite: bool,
) -> Result<(), IoError> {
    let text: String = records.into_iter().map(|r| line(&r)).collect();
    write_atomic(path, text.as_bytes(), false, overwrite)
}

/// The complete records of the JSONL file at `path`, parsed as `T`, without changing the
/// file: none if it does not exist, and a partial last line (left by a killed run) is
/// passed over. `what` names the record type in errors.
pub fn read_complete_jsonl<T: DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<Vec<T>, IoError> {
    Ok(parse_complete(path, what)?.0)
}

/// The complete records at `path`, the length of the complete lines and the file's length.
fn parse_complete<T: DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<(Vec<T>, u64, u64), IoError> {
    if !path.exists() {
        return Ok((Vec::new(), 0, 0));
    }
    let bytes = std::fs::read(path).map_err(|e| IoError::file(path, e))?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut records = Vec::new();
    for (n, line) in bytes[..complete].lines().enumerate() {
        let line = line.map_err(|e| IoError::file(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|e| IoError::Input {
            input: format!("{}:{}", path.display(), n + 1),
            message: format!("not a {what} ({e})"),
        })?;
        records.push(record);
    }
    Ok((records, complete as u64, bytes.len() as u64))
}

/// A JSONL file that grows one record at a time, each synced to disk before the next is
/// written, so a job killed at any point loses at most the record it was writing.
#[derive(Debug)]
pub struct JsonlAppender {
    file: std::fs::File,
    path: PathBuf,
}

impl JsonlAppender {
    /// Opens `path` for appending (created if missing) and returns the complete records it
    /// already holds, parsed as `T`. A partial last line, left by a killed run, is cut off
    /// first. `what` names the record type in errors (e.g. "tracemark generation record").
    pub fn open<T: DeserializeOwned>(path: &Path, what: &str) -> Result<(Self, Vec<T>), IoError> {
        let (records, complete, len) = parse_complete(path, what)?;
        if complete < len {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| IoError::file(path, e))?;
            f.set_len(complete).map_err(|e| IoError::file(path, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| IoError::file(path, e))?;
        Ok((
            Self {
                file,
                path: path.to_path_buf(),
            },
            records,
        ))
    }

    /// Creates `path` anew, empty, replacing any file there (`--force`).
    pub fn create(path: &Path) -> Result<Self, IoError> {
        let file = std::fs::File::create(path).map_err(|e| IoError::file(path, e))?;
        drop(file);
        let (appender, _) = Self::open::<serde_json::Value>(path, "record")?;
        Ok(appender)
    }

    /// Appends one record as a single line and syncs it to disk.
    pub fn append<T: Serialize>(&mut self, record: &T) -> Result<(), IoError> {
        let fail = |e| IoError::file(&self.path, e);
        self.file.write_all(line(record).as_bytes()).map_err(fail)?;
        self.file.sync_data().map_err(fail)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct R {
        index: usize,
    }

    #[test]
    fn reading_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        assert!(
            read_complete_jsonl::<R>(&path, "test record")
                .unwrap()
                .is_empty()
        );
        assert!(!path.exists(), "reading must not create the file");
        std::fs::write(&path, "{\"index\":0}\n{\"ind").unwrap();
        let found = read_complete_jsonl::<R>(&path, "test record").unwrap();
        assert_eq!(found, vec![R { index: 0 }]);
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"index\":0}\n{\"ind");
    }

    #[test]
    fn resume_keeps_complete_records_and_cuts_a_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let (mut out, done) = JsonlAppender::open::<R>(&path, "test record").unwrap();
        assert!(done.is_empty());
        out.append(&R { index: 0 }).unwrap();
        out.append(&R { index: 1 }).unwrap();
        drop(out);
        // A run killed in the middle of writing record 2.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"index\": 2, \"prom").unwrap();
        drop(f);
        let (_, done) = JsonlAppender::open::<R>(&path, "test record").unwrap();
        assert_eq!(done, [R { index: 0 }, R { index: 1 }]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
        std::fs::write(&path, "{\"other\": 1}\n").unwrap();
        let err = JsonlAppender::open::<R>(&path, "test record").unwrap_err();
        assert!(
            err.to_string().contains("out.jsonl:1: not a test record"),
            "{err}"
        );
        JsonlAppender::create(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn whole_files_are_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.jsonl");
        write_jsonl(&path, [R { index: 3 }, R { index: 4 }], false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"index\":3}\n{\"index\":4}\n"
        );
        assert!(matches!(
            write_jsonl(&path, [R { index: 5 }], false),
            Err(IoError::Exists(_))
        ));
    }
}
