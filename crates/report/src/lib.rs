//! The evidence report, the last stage of the pipeline: a radioactivity [`Report`] (the
//! data, from `tracemark-radioactivity`) written as `report.json` and as one self-contained
//! HTML page ([`html::render`]) that a non-statistician can read and archive.
//!
//! # Why hand-written SVG, no scripts
//! An evidence report must open offline, years later, in any browser, and must not run
//! anything: it is mailed to lawyers and attached to abuse tickets. So the page inlines its
//! CSS and its charts ([`svg`]), has no scripts and fetches nothing, and every string that
//! came from a suspect is escaped ([`markup::escape`]). The chart primitives in [`svg`] are
//! also what the paper reproductions draw their figures with.

#![deny(missing_docs)]

mod charts;
pub mod html;
mod labels;
pub mod markup;
pub mod svg;

use std::path::Path;

use tracemark_io::IoError;
pub use tracemark_radioactivity::Report;

/// The files a report folder holds.
pub const REPORT_FILES: [&str; 2] = ["report.json", "report.html"];

/// Checks, before a long test runs, that `dir` can take a report: a folder (or nothing yet),
/// not holding a report already unless `force`.
pub fn check_report_dir(dir: &Path, force: bool) -> Result<(), IoError> {
    let bad = |message: String| IoError::Input {
        input: dir.display().to_string(),
        message,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(bad(
            "--report expects a folder (for report.json and report.html), but this is a file"
                .into(),
        ));
    }
    if !force && REPORT_FILES.iter().any(|f| dir.join(f).exists()) {
        return Err(bad(
            "already holds a report (use --force to replace it, or another folder)".into(),
        ));
    }
    Ok(())
}

/// Writes `report.json` and `report.html` into `dir` (created if missing), each atomically:
/// an interrupted run leaves either the old file or the new one, never half of one.
pub fn write_report(dir: &Path, report: &Report) -> Result<(), IoError> {
    std::fs::create_dir_all(dir).map_err(|e| IoError::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let json = serde_json::to_string_pretty(report).expect("reports serialize");
    let [json_file, html_file] = REPORT_FILES;
    tracemark_io::atomic::write_atomic(&dir.join(json_file), json.as_bytes(), false, true)?;
    tracemark_io::atomic::write_atomic(
        &dir.join(html_file),
        html::render(report).as_bytes(),
        false,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_folders_are_checked_before_the_test_runs() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("evidence");
        check_report_dir(&folder, false).unwrap();
        std::fs::create_dir(&folder).unwrap();
        check_report_dir(&folder, false).unwrap();
        std::fs::write(folder.join("report.html"), "old").unwrap();
        let e = check_report_dir(&folder, false).unwrap_err().to_string();
        assert!(
            e.contains("already holds a report") && e.contains("--force"),
            "{e}"
        );
        check_report_dir(&folder, true).unwrap();
        let file = dir.path().join("report.txt");
        std::fs::write(&file, "x").unwrap();
        let e = check_report_dir(&file, true).unwrap_err().to_string();
        assert!(e.contains("expects a folder"), "{e}");
    }
}
