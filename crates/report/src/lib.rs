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

pub mod html;
pub mod markup;
pub mod svg;

use std::path::Path;

use tracemark_io::IoError;
pub use tracemark_radioactivity::Report;

/// Writes `report.json` and `report.html` into `dir` (created if missing), each atomically:
/// an interrupted run leaves either the old file or the new one, never half of one.
pub fn write_report(dir: &Path, report: &Report) -> Result<(), IoError> {
    std::fs::create_dir_all(dir).map_err(|e| IoError::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let json = serde_json::to_string_pretty(report).expect("reports serialize");
    tracemark_io::atomic::write_atomic(&dir.join("report.json"), json.as_bytes(), false, true)?;
    tracemark_io::atomic::write_atomic(
        &dir.join("report.html"),
        html::render(report).as_bytes(),
        false,
        true,
    )
}
