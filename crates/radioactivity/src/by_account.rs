//! Reading by account, the open-weights side of attribution: a sample of each account's
//! served answers is teacher-forced through the suspect, into the account's own tuple set
//! (the test of that account) and into one global tuple set (the radioactivity verdict).
//!
//! A neural student carries the answers it was trained on rather than a general green bias,
//! so reading the answers served to an account is itself a test of that account. Each
//! account is read in its own sample, so 24,000 accounts cost 24,000 samples, not more.

use rustc_hash::FxHashMap;
use tracemark_core::TokenId;
use tracemark_io::{Document, InputFormat, IoError, Source, TextTokenizer, for_each_document};
use tracemark_model::LanguageModel;

use crate::collect::check_vocabulary;
use crate::reading::{read_block, read_with_model};
use crate::tuples::TupleSet;

/// The answers chosen for reading: the first `per_account` answers of each listed account,
/// in file order. The choice never looks at the text, so it cannot depend on the key.
#[derive(Debug, Clone)]
pub struct ServedSample {
    /// Per listed account (in list order): the sampled answers.
    pub answers: Vec<Vec<Document>>,
    /// Per listed account: how many answers were served to it in the file.
    pub served: Vec<u64>,
    /// Answers served to accounts that are not in the list (skipped).
    pub unlisted: u64,
}

impl ServedSample {
    /// Answers sampled, over all accounts.
    pub fn len(&self) -> usize {
        self.answers.iter().map(Vec::len).sum()
    }

    /// Whether nothing was sampled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Streams the served answers of `source` (records with an `account` field, as `tracemark
/// generate --account` writes them) and keeps the first `per_account` of each account of
/// `accounts`. `progress` gets the bytes read.
pub fn sample_served(
    source: &Source,
    accounts: &[String],
    per_account: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<ServedSample, IoError> {
    let index: FxHashMap<&str, usize> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();
    let mut sample = ServedSample {
        answers: vec![Vec::new(); accounts.len()],
        served: vec![0; accounts.len()],
        unlisted: 0,
    };
    for_each_document::<IoError>(source, InputFormat::Jsonl, |doc, bytes| {
        let Some(account) = doc.account.as_deref() else {
            return Err(IoError::Input {
                input: format!("{}:{}", doc.source, doc.line.unwrap_or(0)),
                message: "record has no \"account\" string field; open-weights tracing reads \
                          answers served to accounts (tracemark generate --account)"
                    .into(),
            });
        };
        match index.get(account) {
            Some(&i) => {
                sample.served[i] += 1;
                if sample.answers[i].len() < per_account {
                    sample.answers[i].push(doc);
                }
            }
            None => sample.unlisted += 1,
        }
        progress(bytes);
        Ok(())
    })?;
    Ok(sample)
}

/// One account's reading.
#[derive(Debug)]
pub struct AccountReading {
    /// Answers read.
    pub answers: u64,
    /// Tokens read.
    pub tokens: u64,
    /// The suspect's (window, prediction) tuples on them, deduplicated within the account.
    pub tuples: TupleSet,
}

/// Every account's reading, and the global tuple set of all of them.
#[derive(Debug)]
pub struct ReadByAccount {
    /// Per listed account, in list order.
    pub accounts: Vec<AccountReading>,
    /// All readings in one tuple set (global dedup), for the radioactivity verdict.
    pub global: TupleSet,
}

/// Teacher-forces every sampled answer through `model` (as [`read_with_model`] does) into
/// its account's tuple set and the global one. `progress` is called once per answer read.
pub fn read_by_account(
    tokenizer: &TextTokenizer,
    model: &mut dyn LanguageModel,
    sample: &ServedSample,
    h: usize,
    progress: &mut dyn FnMut(),
) -> Result<ReadByAccount, IoError> {
    check_vocabulary(tokenizer, model)?;
    let block = read_block(model);
    let mut global = TupleSet::new(h);
    let mut accounts = Vec::with_capacity(sample.answers.len());
    for docs in &sample.answers {
        let mut reading = AccountReading {
            answers: 0,
            tokens: 0,
            tuples: TupleSet::new(h),
        };
        for doc in docs {
            let ids: Vec<TokenId> = tokenizer.encode_ids(&doc.text)?;
            if !ids.is_empty() {
                let (_, predicted) = read_with_model(model, &ids, &mut reading.tuples, None)
                    .map_err(|e| IoError::Input {
                        input: format!("{} (reading {})", model.describe(), doc.source),
                        message: e.to_string(),
                    })?;
                // The same blocks as the account's reading, so the same in-context rule.
                for (text, predicted) in ids.chunks(block).zip(predicted.chunks(block)) {
                    global.add_reading(text, predicted, None);
                }
            }
            reading.answers += 1;
            reading.tokens += ids.len() as u64;
            progress();
        }
        accounts.push(reading);
    }
    Ok(ReadByAccount { accounts, global })
}
