//! The demo's account story: the teacher serves its answers to many accounts, a few of which
//! harvest for a competitor; the student is distilled from the harvest mixed with clean
//! data, and `trace` must name the harvesters and no one else.

use tracemark_attribution::{Attribution, ColourTable, attribute};
use tracemark_core::{AccountLayer, Key, Watermark};
use tracemark_radioactivity::{AttributionSection, SetTestRow};
use tracemark_workflow::WorkflowError;
use tracemark_workflow::distil::shuffled;
use tracemark_workflow::trace::{assumed_colour_rate, phantoms, section};

/// Share of the training prompts that the harvesters collect, split among them in volumes
/// 2H − 1 : 2H − 2 : … : H (for H = 3: 5 : 4 : 3); clean answers make up the rest.
pub const HARVEST_SHARE: f64 = 0.75;

/// How many accounts the teacher serves, and how many of them harvest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountStory {
    /// Served accounts, N.
    pub accounts: usize,
    /// Harvesting accounts among them, H.
    pub harvesters: usize,
}

impl AccountStory {
    /// Checks 1 ≤ H and 2H ≤ N (the innocent set test needs H innocent accounts).
    pub fn new(accounts: usize, harvesters: usize) -> Result<Self, WorkflowError> {
        if harvesters == 0 || 2 * harvesters > accounts {
            return Err(WorkflowError::Invalid(format!(
                "--harvesters must be at least 1 and at most half of --accounts, got {harvesters} \
                 of {accounts}"
            )));
        }
        Ok(Self {
            accounts,
            harvesters,
        })
    }
}

/// Who was served what.
#[derive(Debug, Clone)]
pub struct Serving {
    /// Every served account id.
    pub accounts: Vec<String>,
    /// The harvesters, largest volume first.
    pub harvesters: Vec<String>,
    /// H innocent accounts, fixed before any score is seen: the innocent set.
    pub innocent_set: Vec<String>,
    /// The account prompt `i` was served to.
    pub served_to: Vec<String>,
    /// Whether prompt `i`'s answer was harvested.
    pub harvested: Vec<bool>,
}

/// Serves `prompts` training prompts: the harvesters take [`HARVEST_SHARE`] of them (in
/// falling volumes), the innocent accounts the rest, round robin, all in seeded order.
pub fn serve(story: AccountStory, prompts: usize, seed: u64) -> Serving {
    let accounts: Vec<String> = (0..story.accounts)
        .map(|i| format!("acct-{i:05}"))
        .collect();
    let order = shuffled(story.accounts, seed ^ 0xacc0);
    let harvesters: Vec<String> = order[..story.harvesters]
        .iter()
        .map(|&i| accounts[i].clone())
        .collect();
    let innocent: Vec<String> = order[story.harvesters..]
        .iter()
        .map(|&i| accounts[i].clone())
        .collect();
    let h = story.harvesters;
    let weight = |k: usize| 2 * h - 1 - k;
    let weights: usize = (0..h).map(weight).sum();
    let harvest = (HARVEST_SHARE * prompts as f64).round() as usize;
    let prompt_order = shuffled(prompts, seed ^ 0x9a27);
    let mut served_to = vec![String::new(); prompts];
    let mut harvested = vec![false; prompts];
    let mut next = 0;
    for (k, account) in harvesters.iter().enumerate() {
        let volume = (harvest * weight(k)).div_ceil(weights).min(prompts - next);
        for &p in &prompt_order[next..next + volume] {
            served_to[p] = account.clone();
            harvested[p] = true;
        }
        next += volume;
    }
    for (j, &p) in prompt_order[next..].iter().enumerate() {
        served_to[p] = innocent[j % innocent.len()].clone();
    }
    Serving {
        innocent_set: innocent[..h].to_vec(),
        accounts,
        harvesters,
        served_to,
        harvested,
    }
}

/// The master key of the story: the demo key with an account layer of δa = δ.
pub(crate) fn master(key: &Key) -> Result<Key, WorkflowError> {
    let delta = match key.config().scheme {
        tracemark_core::Scheme::Kgw { delta, .. } => f64::from(delta.get()),
        tracemark_core::Scheme::Gumbel => {
            return Err(WorkflowError::Invalid(
                "--accounts needs a KGW demo watermark".into(),
            ));
        }
    };
    let layer = AccountLayer::new(
        AccountLayer::DEFAULT_COLOURS,
        AccountLayer::DEFAULT_DIGITS,
        delta,
    )?;
    Ok(key.clone().with_accounts(layer)?)
}

/// Attributes the student's colour table and builds the report section, with the set
/// tests of the harvesters and of the innocent set.
pub(crate) fn attribute_student(
    master: &Key,
    table: &ColourTable,
    serving: &Serving,
    suspect: &str,
    alpha: f64,
) -> Result<AttributionSection, WorkflowError> {
    let wm = Watermark::new(master);
    let rate = assumed_colour_rate(master.accounts().expect("a master key"));
    let harvest = attribute(
        &wm,
        table,
        &serving.accounts,
        Some(&serving.harvesters),
        alpha,
        rate,
    )?;
    let innocent = attribute(
        &wm,
        table,
        &serving.accounts,
        Some(&serving.innocent_set),
        alpha,
        rate,
    )?;
    let set = |a: &Attribution, name: &str| {
        let s = a.set_test.as_ref().expect("a set was given");
        SetTestRow {
            name: name.to_string(),
            size: s.size,
            log10_p: s.log10_p,
        }
    };
    let mut harvest_only = harvest.clone();
    harvest_only.set_test = None;
    let mut section = section(
        suspect,
        &harvest_only,
        alpha,
        vec![
            set(&harvest, "the harvesters"),
            set(&innocent, "as many innocent accounts"),
        ],
        phantoms(&wm, table, alpha)?,
    );
    section.harvesters = Some(serving.harvesters.clone());
    section.harvesters_set_p = harvest.set_test.as_ref().map(|s| s.p_value);
    section.innocent_set_p = innocent.set_test.as_ref().map(|s| s.p_value);
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harvesters_take_three_quarters_of_the_prompts_in_falling_volumes() {
        let story = AccountStory::new(200, 3).unwrap();
        let s = serve(story, 200, 7);
        let volume = |a: &str| s.served_to.iter().filter(|x| *x == a).count();
        let v: Vec<usize> = s.harvesters.iter().map(|a| volume(a)).collect();
        assert_eq!(v, [63, 50, 38], "{v:?}");
        assert!(v[0] > v[1] && v[1] > v[2], "{v:?}");
        assert_eq!(s.harvested.iter().filter(|&&h| h).count(), 151);
        assert!(s.innocent_set.iter().all(|a| !s.harvesters.contains(a)));
        assert!(s.served_to.iter().all(|a| !a.is_empty()));
        assert!(AccountStory::new(4, 3).is_err() && AccountStory::new(4, 0).is_err());
    }
}
