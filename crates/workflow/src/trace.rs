//! Tracing a suspect to accounts: the radioactivity test of [`crate::investigate`], then
//! account attribution on the same tuples, under a master key.

use serde::Serialize;
use tracemark_attribution::{Attribution, ColourTable, attribute, check_accounts};
use tracemark_core::Watermark;
use tracemark_radioactivity::{AttributionSection, Investigation, RankedAccount, SetTestRow};

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

/// The account layer of `key`, or the error that attribution needs a master key.
pub fn require_master(
    key: &tracemark_core::Key,
) -> Result<&tracemark_core::AccountLayer, WorkflowError> {
    key.accounts()
        .ok_or_else(|| tracemark_attribution::AttributionError::NotAMasterKey.into())
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

/// Phantom accounts (ids never served) scored for the report's calibration plot.
pub const PHANTOMS: usize = 1_000;

/// Accounts shown in the report's ranking.
pub const RANKED: usize = 25;

/// The radioactivity verdict and the attribution.
#[derive(Debug, Clone, Serialize)]
pub struct Traced {
    /// The global test, as `tracemark radioactivity` gives it.
    pub investigation: Investigation,
    /// The accounts.
    pub attribution: Attribution,
    /// log10 p of [`PHANTOMS`] phantom accounts, the calibration.
    pub phantom_log10_p: Vec<f64>,
}

impl Traced {
    /// The report's attribution section; `extra_sets` are further named set tests.
    pub fn section(&self, extra_sets: Vec<SetTestRow>) -> AttributionSection {
        section(
            &self.investigation.suspect,
            &self.attribution,
            self.investigation.alpha,
            extra_sets,
            self.phantom_log10_p.clone(),
        )
    }
}

/// The report's attribution section of `a`.
pub fn section(
    suspect: &str,
    a: &Attribution,
    alpha: f64,
    extra_sets: Vec<SetTestRow>,
    phantom_log10_p: Vec<f64>,
) -> AttributionSection {
    let mut set_tests: Vec<SetTestRow> = a
        .set_test
        .iter()
        .map(|s| SetTestRow {
            name: "the suspected accounts".into(),
            size: s.size,
            log10_p: s.log10_p,
        })
        .collect();
    set_tests.extend(extra_sets);
    AttributionSection {
        suspect: suspect.to_string(),
        served_accounts: a.accounts.len() + a.unread.len(),
        alpha,
        scored: a.scored,
        green: a.green,
        ranking: a
            .accounts
            .iter()
            .take(RANKED)
            .map(|e| RankedAccount {
                account: e.account.clone(),
                rank: e.rank,
                score: e.score,
                log10_p: e.log10_p,
                attributed: a.attributed.contains(&e.account),
                answers_read: e.answers_read,
            })
            .collect(),
        attributed: a.attributed.clone(),
        set_tests,
        phantom_log10_p,
        min_share: a.power.min_share,
        harvesters: None,
        harvesters_set_p: None,
        innocent_set_p: None,
    }
}

/// log10 p of [`PHANTOMS`] phantom accounts on `table`: draws from the null.
pub fn phantoms(
    wm: &Watermark,
    table: &ColourTable,
    alpha: f64,
) -> Result<Vec<f64>, WorkflowError> {
    let ids: Vec<String> = (0..PHANTOMS).map(|i| format!("phantom-{i:05}")).collect();
    let rate = assumed_colour_rate(
        wm.accounts()
            .ok_or(tracemark_attribution::AttributionError::NotAMasterKey)?,
    );
    Ok(attribute(wm, table, &ids, None, alpha, rate)?
        .accounts
        .iter()
        .map(|e| e.log10_p)
        .collect())
}

/// Runs the radioactivity test, then attributes its tuples to `accounts`. The key, the
/// account list and the set are checked before anything is read.
pub fn trace(t: Tracing<'_>, progress: &dyn Progress) -> Result<Traced, WorkflowError> {
    let key = t.examination.key;
    let layer = require_master(key)?;
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
        phantom_log10_p: phantoms(&wm, &table, alpha)?,
    })
}
