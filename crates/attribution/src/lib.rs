//! Account attribution: on the answers served to *which accounts* did a suspect learn?
//!
//! A master key's answers carry their account in the low bits of each green PRF word
//! ([`tracemark_core::AccountLayer`]). Attribution reads those bits from the suspect's
//! distinct tuples, once, into a [`ColourTable`]; an account's score is then L table
//! lookups, and its p-value comes from the exact conditional null ([`AccountNull`]). So
//! K accounts over N tuples cost N PRF words plus K · L lookups, never K · N PRF words.
//!
//! 1. [`ColourTable::from_tuples`]: one PRF word per distinct tuple of the suspect.
//! 2. [`attribute`]: every account's score and p-value, a Holm step-down list of attributed
//!    accounts at family-wise level α, the set test for a suspected subset, and the power
//!    statement (the smallest signal an account needs to be attributed at this N).
//! 3. Open weights ([`attribute_readings`]): each account's own served answers are read
//!    through the suspect, so each account has its own table and its own exact test.
//!
//! The p-values are valid under the hard null, a suspect trained on other accounts'
//! answers; phantom accounts (ids never served) are draws from that null, and the tests of
//! this crate check it over hundreds of random master keys.
#![deny(missing_docs)]

mod null;
mod rank;
mod reading;
mod table;

pub use null::AccountNull;
pub use rank::{AccountEvidence, Attribution, Power, SetTest, attribute, check_accounts, holm};
pub use reading::{AccountTable, attribute_readings, phantom_readings};
pub use table::ColourTable;

/// Errors of attribution. Messages are one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AttributionError {
    /// The key has no account layer.
    #[error(
        "attribution needs a master key (tracemark keygen --accounts); this key has no account layer"
    )]
    NotAMasterKey,
    /// The suspect gave nothing to score.
    #[error("the suspect's text has no scorable tuples (too short, or all excluded)")]
    NoScorableTuples,
    /// The account list is empty.
    #[error("the account list is empty")]
    NoAccounts,
    /// An account id appears twice.
    #[error("account {0:?} appears more than once in the account list")]
    DuplicateAccount(String),
    /// A suspected account is not in the account list.
    #[error("suspected account {0:?} is not in the account list")]
    UnknownSuspected(String),
    /// The suspected set is empty.
    #[error("the suspected set is empty")]
    EmptySuspected,
    /// α outside (0, 1).
    #[error("alpha must be between 0 and 1, got {0}")]
    Alpha(f64),
}
