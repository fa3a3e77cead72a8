//! Scores, p-values, the family-wise attributed list, the set test and the power statement.

use rayon::prelude::*;
use rustc_hash::FxHashSet;
use serde::Serialize;
use tracemark_core::Watermark;

use crate::AttributionError;
use crate::null::AccountNull;
use crate::table::ColourTable;

/// One account's evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountEvidence {
    /// The account id.
    pub account: String,
    /// Green tuples carrying the account's colour at their digit.
    pub score: u64,
    /// log10 of the exact conditional p-value.
    pub log10_p: f64,
    /// The p-value (0 when below the f64 range; `log10_p` is exact).
    pub p_value: f64,
    /// 1 for the strongest evidence.
    pub rank: usize,
    /// Open weights: how many of the account's served answers were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers_read: Option<u64>,
}

/// The set test: did the suspect learn from the answers served to these accounts?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetTest {
    /// How many accounts the set holds.
    pub size: usize,
    /// Sum of their scores.
    pub score: u64,
    /// log10 p of the sum under the null (exact, or a Chernoff bound; see `exact`).
    pub log10_p: f64,
    /// The p-value.
    pub p_value: f64,
}

/// What "no account attributed" means at this amount of suspect text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Power {
    /// The family-wise level.
    pub alpha: f64,
    /// The score an account needs to be attributed first (Holm's first step, α / K).
    pub threshold_score: Option<u64>,
    /// That score's excess over the null mean, in green tuples.
    pub min_excess: Option<f64>,
    /// The smallest share of the suspect's green tuples that must come from an account's
    /// answers for attribution, if such tuples carry the account's colour at the rate of
    /// `colour_rate` (else none can suffice).
    pub min_share: Option<f64>,
    /// The assumed rate at which a learned green tuple carries its account's colour.
    pub colour_rate: f64,
}

/// The attribution of a suspect over a list of accounts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// Distinct tuples scored.
    pub scored: u64,
    /// Of them, green.
    pub green: u64,
    /// Null mean of an account score.
    pub null_mean: f64,
    /// Every account, strongest evidence first.
    pub accounts: Vec<AccountEvidence>,
    /// Accounts attributed by Holm's step-down at family-wise level α, strongest first.
    pub attributed: Vec<String>,
    /// The set test of the suspected accounts, if a set was given.
    pub set_test: Option<SetTest>,
    /// The power statement.
    pub power: Power,
    /// Open weights: served accounts with no answer to read (not tested).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<String>,
}

/// Attributes the suspect whose colour table is `table` over `accounts` (the served ids),
/// at family-wise level `alpha`; `suspected` (a subset of `accounts`) gets the set test.
/// `colour_rate` is the power statement's assumption (see [`Power`]).
pub fn attribute(
    wm: &Watermark,
    table: &ColourTable,
    accounts: &[String],
    suspected: Option<&[String]>,
    alpha: f64,
    colour_rate: f64,
) -> Result<Attribution, AttributionError> {
    check_inputs(wm, accounts, suspected, alpha)?;
    let null = AccountNull::new(table);
    let scores: Vec<u64> = accounts
        .par_iter()
        .map(|a| table.score(&wm.account_code(a).expect("a master key")))
        .collect();
    let mut evidence: Vec<AccountEvidence> = accounts
        .iter()
        .zip(&scores)
        .map(|(a, &score)| {
            let log10_p = null.log10_p(score);
            AccountEvidence {
                account: a.clone(),
                score,
                log10_p,
                p_value: 10f64.powf(log10_p),
                rank: 0,
                answers_read: None,
            }
        })
        .collect();
    let attributed = rank(&mut evidence, alpha);
    let set_test = suspected.map(|set| {
        let index: rustc_hash::FxHashMap<&str, u64> = accounts
            .iter()
            .map(String::as_str)
            .zip(scores.iter().copied())
            .collect();
        let score = set.iter().map(|a| index[a.as_str()]).sum();
        let log10_p = null.set_log10_p(set.len(), score);
        SetTest {
            size: set.len(),
            score,
            log10_p,
            p_value: 10f64.powf(log10_p),
        }
    });
    let power = power(&null, table, accounts.len(), alpha, colour_rate);
    Ok(Attribution {
        scored: table.scored(),
        green: table.green(),
        null_mean: null.mean(),
        accounts: evidence,
        attributed,
        set_test,
        power,
        unread: Vec::new(),
    })
}

/// Sorts `evidence` strongest first (ties by id), numbers the ranks, and returns the ids
/// that Holm's step-down attributes at family-wise level α.
pub(crate) fn rank(evidence: &mut [AccountEvidence], alpha: f64) -> Vec<String> {
    evidence.sort_by(|a, b| {
        a.log10_p
            .total_cmp(&b.log10_p)
            .then_with(|| a.account.cmp(&b.account))
    });
    for (i, e) in evidence.iter_mut().enumerate() {
        e.rank = i + 1;
    }
    let log10_ps: Vec<f64> = evidence.iter().map(|e| e.log10_p).collect();
    evidence[..holm(&log10_ps, alpha)]
        .iter()
        .map(|e| e.account.clone())
        .collect()
}

/// The checks shared by both attributions: a level in (0, 1), a master key, and an
/// account list as [`check_accounts`] wants it.
pub(crate) fn check_inputs(
    wm: &Watermark,
    accounts: &[String],
    suspected: Option<&[String]>,
    alpha: f64,
) -> Result<(), AttributionError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(AttributionError::Alpha(alpha));
    }
    if wm.accounts().is_none() {
        return Err(AttributionError::NotAMasterKey);
    }
    check_accounts(accounts, suspected)
}

/// Checks an account list and a suspected set before any work: the list is non-empty
/// without repeats, and the set is a non-empty subset of it without repeats.
pub fn check_accounts(
    accounts: &[String],
    suspected: Option<&[String]>,
) -> Result<(), AttributionError> {
    if accounts.is_empty() {
        return Err(AttributionError::NoAccounts);
    }
    let mut seen = FxHashSet::default();
    for a in accounts {
        if !seen.insert(a.as_str()) {
            return Err(AttributionError::DuplicateAccount(a.clone()));
        }
    }
    if let Some(set) = suspected {
        if set.is_empty() {
            return Err(AttributionError::EmptySuspected);
        }
        let mut in_set = FxHashSet::default();
        for a in set {
            if !seen.contains(a.as_str()) {
                return Err(AttributionError::UnknownSuspected(a.clone()));
            }
            if !in_set.insert(a.as_str()) {
                return Err(AttributionError::DuplicateAccount(a.clone()));
            }
        }
    }
    Ok(())
}

/// How many of the sorted `log10_ps` (ascending) Holm's step-down rejects at level α:
/// the i-th smallest (from 0) is rejected while p ≤ α / (K − i).
pub fn holm(log10_ps: &[f64], alpha: f64) -> usize {
    let k = log10_ps.len();
    log10_ps
        .iter()
        .enumerate()
        .take_while(|&(i, &lp)| lp <= (alpha / (k - i) as f64).log10())
        .count()
}

pub(crate) fn power(
    null: &AccountNull,
    table: &ColourTable,
    k: usize,
    alpha: f64,
    colour_rate: f64,
) -> Power {
    let threshold = null.threshold((alpha / k as f64).log10());
    let min_excess = threshold.map(|t| t as f64 - null.mean());
    let r = f64::from(table.layer().colours());
    let per_tuple = colour_rate - 1.0 / r;
    let min_share = min_excess
        .filter(|_| per_tuple > 0.0 && table.green() > 0)
        .map(|e| e / (per_tuple * table.green() as f64))
        .filter(|&s| s <= 1.0);
    Power {
        alpha,
        threshold_score: threshold,
        min_excess,
        min_share,
        colour_rate,
    }
}
