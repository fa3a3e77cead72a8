//! Tracing a suspect to accounts: the radioactivity test of [`crate::investigate`], then
//! account attribution on the same tuples, under a master key.

use serde::Serialize;
use tracemark_attribution::{Attribution, ColourTable, attribute, check_accounts};
use tracemark_core::Watermark;
use tracemark_radioactivity::Investigation;

use crate::investigate::{Examination, examine_tuples};
use crate::{Progress, WorkflowError};

/// The rate at which a learned green tuple is assumed to carry its account's colour, for the
/// power statement: 1 / (1 + (r − 1) e^−δa), the share of the account's colour among the
/// green tokens of its served answers when every step has many near-equal candidates. Real
/// answers carry less (low-entropy steps), and a student less than it saw, so the statement
/// is optimistic by that factor: it says what the test can see at best.
pub fn assumed_colour_rate(layer: &tracemark_core::AccountLayer) -> f64 {
    let r = f64::from(layer.colours());
    1.0 / (1.0 + (r - 1.0) * (-f64::from(layer.delta().get())).exp())
}

/// One attribution of one suspect.
pub struct Tracing<'a> {
    /// The radioactivity test (its key must be a master key).
    pub examination: Examination<'a>,
    /// The served account ids.
    pub accounts: &'a [String],
    /// Accounts the provider already suspects: the set test.
    pub suspected: Option<&'a [String]>,
}

/// The radioactivity verdict and the attribution.
#[derive(Debug, Clone, Serialize)]
pub struct Traced {
    /// The global test, as `tracemark radioactivity` gives it.
    pub investigation: Investigation,
    /// The accounts.
    pub attribution: Attribution,
}

/// Runs the radioactivity test, then attributes its tuples to `accounts`. The key, the
/// account list and the set are checked before anything is read.
pub fn trace(t: Tracing<'_>, progress: &dyn Progress) -> Result<Traced, WorkflowError> {
    let key = t.examination.key;
    let Some(layer) = key.accounts() else {
        return Err(tracemark_attribution::AttributionError::NotAMasterKey.into());
    };
    let colour_rate = assumed_colour_rate(layer);
    check_accounts(t.accounts, t.suspected)?;
    let alpha = t.examination.alpha;
    let (investigation, tuples) = examine_tuples(t.examination, progress)?;
    let wm = Watermark::new(key);
    let table = ColourTable::from_tuples(&wm, &tuples)?;
    let attribution = attribute(&wm, &table, t.accounts, t.suspected, alpha, colour_rate)?;
    Ok(Traced {
        investigation,
        attribution,
    })
}
