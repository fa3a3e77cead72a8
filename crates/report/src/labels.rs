//! Words for a report's settings, shared by the page's sections.

use tracemark_radioactivity::{Investigation, Mode};

use crate::markup::thousands;

/// The test's kind in words: `closed (answers)` or `open (reading)`.
pub(crate) fn mode_text(mode: Mode) -> &'static str {
    match mode {
        Mode::Closed => "closed (answers)",
        Mode::Open => "open (reading)",
    }
}

/// Whether a training filter was applied, and which.
pub(crate) fn supervised_text(inv: &Investigation) -> String {
    match (inv.supervised, inv.filter_top) {
        (false, _) => "no".to_string(),
        (true, Some(n)) => format!("yes, top {}", thousands(n as u64)),
        (true, None) => "yes, all training windows".to_string(),
    }
}
