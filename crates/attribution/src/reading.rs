//! Open-weights attribution: every account is read in its own sample of served answers, so
//! every account has its own colour table, its own exact null, and its own p-value.
//!
//! Account a's table comes from the suspect's predictions on a's answers. Its code is
//! independent of that table unless the suspect learned from a's answers: at a fresh window
//! the prediction is made before the served token is seen, so its (digit, colour) is a PRF
//! output that a's answer has not influenced, and a suspect trained on other accounts pushes
//! it toward *their* codes. The per-account null of [`AccountNull`] is therefore exact on
//! each table, and the tables' codes are independent, so the set test sums independent
//! nulls ([`AccountNull::sum_log10_p`]). The tests of this crate check it.

use rayon::prelude::*;
use tracemark_core::Watermark;

use crate::AttributionError;
use crate::null::AccountNull;
use crate::rank::{AccountEvidence, Attribution, SetTest, check_inputs, power, rank};
use crate::table::ColourTable;

/// One account's reading: the answers read and the colour table of the suspect's
/// predictions on them.
#[derive(Debug, Clone)]
pub struct AccountTable {
    /// The account id.
    pub account: String,
    /// Served answers read through the suspect.
    pub answers_read: u64,
    /// Their colour table (possibly empty: score 0, p = 1).
    pub table: ColourTable,
}

/// Attributes an open suspect over `accounts`, from each account's own reading
/// (`readings`, accounts of the list with at least one answer read; the others are
/// reported as unread and not tested). The Holm family is the accounts read; `suspected`
/// gets the set test, where unread members add nothing. The power statement is for an
/// account whose reading has the median number of green tuples.
pub fn attribute_readings(
    wm: &Watermark,
    readings: &[AccountTable],
    accounts: &[String],
    suspected: Option<&[String]>,
    alpha: f64,
    colour_rate: f64,
) -> Result<Attribution, AttributionError> {
    check_inputs(wm, accounts, suspected, alpha)?;
    let read: rustc_hash::FxHashMap<&str, usize> = readings
        .iter()
        .enumerate()
        .map(|(i, r)| (r.account.as_str(), i))
        .collect();
    if read.is_empty()
        || read
            .values()
            .map(|&i| readings[i].table.scored())
            .sum::<u64>()
            == 0
    {
        return Err(AttributionError::NoScorableTuples);
    }
    let tested: Vec<(AccountNull, u64)> = readings
        .par_iter()
        .map(|r| {
            let code = wm.account_code(&r.account).expect("a master key");
            (AccountNull::new(&r.table), r.table.score(&code))
        })
        .collect();
    let mut evidence: Vec<AccountEvidence> = readings
        .iter()
        .zip(&tested)
        .map(|(r, (null, score))| {
            let log10_p = null.log10_p(*score);
            AccountEvidence {
                account: r.account.clone(),
                score: *score,
                log10_p,
                p_value: 10f64.powf(log10_p),
                rank: 0,
                answers_read: Some(r.answers_read),
            }
        })
        .collect();
    let attributed = rank(&mut evidence, alpha);
    let set_test = suspected.map(|set| {
        let members: Vec<usize> = set
            .iter()
            .filter_map(|a| read.get(a.as_str()).copied())
            .collect();
        let score = members.iter().map(|&i| tested[i].1).sum();
        let nulls: Vec<&AccountNull> = members.iter().map(|&i| &tested[i].0).collect();
        let log10_p = AccountNull::sum_log10_p(&nulls, score);
        SetTest {
            size: set.len(),
            score,
            log10_p,
            p_value: 10f64.powf(log10_p),
        }
    });
    let mut by_green: Vec<usize> = (0..readings.len()).collect();
    by_green.sort_by_key(|&i| readings[i].table.green());
    let median = by_green[by_green.len() / 2];
    let power = power(
        &tested[median].0,
        &readings[median].table,
        readings.len(),
        alpha,
        colour_rate,
    );
    let unread = accounts
        .iter()
        .filter(|a| !read.contains_key(a.as_str()))
        .cloned()
        .collect();
    Ok(Attribution {
        scored: readings.iter().map(|r| r.table.scored()).sum(),
        green: readings.iter().map(|r| r.table.green()).sum(),
        null_mean: tested.iter().map(|(n, _)| n.mean()).sum::<f64>() / tested.len() as f64,
        accounts: evidence,
        attributed,
        set_test,
        power,
        unread,
    })
}

/// log10 p of phantom accounts (ids never served), phantom i scored on reading i mod K's
/// table: draws from each table's null, for the calibration plot.
pub fn phantom_readings(
    wm: &Watermark,
    readings: &[AccountTable],
    phantoms: &[String],
) -> Result<Vec<f64>, AttributionError> {
    if wm.accounts().is_none() {
        return Err(AttributionError::NotAMasterKey);
    }
    if readings.is_empty() {
        return Err(AttributionError::NoScorableTuples);
    }
    let nulls: Vec<AccountNull> = (0..readings.len().min(phantoms.len()).max(1))
        .into_par_iter()
        .map(|i| AccountNull::new(&readings[i].table))
        .collect();
    Ok(phantoms
        .par_iter()
        .enumerate()
        .map(|(i, id)| {
            let k = i % nulls.len();
            let code = wm.account_code(id).expect("a master key");
            nulls[k].log10_p(readings[k].table.score(&code))
        })
        .collect())
}
