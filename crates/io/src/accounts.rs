//! Account lists: the ids a provider served, one per line of a text file.

use std::path::Path;

use crate::IoError;

/// The account ids of `path`: one per line, exactly as written (only the line ending is
/// removed), blank lines skipped. Ids are arbitrary UTF-8 strings, so a file that is not
/// UTF-8 is an error, not a guess.
pub fn read_accounts(path: &Path) -> Result<Vec<String>, IoError> {
    let bytes = std::fs::read(path).map_err(|source| IoError::File {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| IoError::Input {
        input: path.display().to_string(),
        message: format!(
            "not UTF-8 text (invalid byte at offset {}); account lists hold one id per line",
            e.utf8_error().valid_up_to()
        ),
    })?;
    Ok(text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_per_line_with_blank_lines_and_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.txt");
        std::fs::write(&path, "alice\r\n\nbob smith\nünï\n\n").unwrap();
        assert_eq!(read_accounts(&path).unwrap(), ["alice", "bob smith", "ünï"]);
        std::fs::write(&path, b"a\n\xff\n").unwrap();
        let err = read_accounts(&path).unwrap_err().to_string();
        assert!(err.contains("not UTF-8") && !err.contains('\n'), "{err}");
        assert!(read_accounts(&dir.path().join("missing")).is_err());
    }
}
