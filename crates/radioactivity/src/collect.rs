//! Collecting a test's tuples from files: suspect answers (closed), watermarked texts read
//! through a suspect model (open), and the watermarked training corpus (the supervised
//! filter); all streamed record by record, tokenized and collected into a [`TupleSet`], with
//! a few documents kept as report samples.

use tracemark_core::{TokenId, TokenScore, Watermark};
use tracemark_detect::WindowSet;
use tracemark_io::{InputFormat, IoError, Prompts, Source, TextTokenizer, for_each_document};
use tracemark_model::LanguageModel;

use crate::report::{Mark, Piece, Sample};
use crate::tuples::{Outcome, Skip, TupleSet, WindowCounts};

/// The supervised filter: windows of the watermarked training corpus, all or the `top`
/// most frequent.
pub fn training_filter(
    tokenizer: &TextTokenizer,
    source: &Source,
    h: usize,
    top: Option<usize>,
) -> Result<WindowSet, IoError> {
    let mut counts = WindowCounts::new(h);
    for_each_document::<IoError>(source, InputFormat::Auto, |doc, _| {
        counts.add(&tokenizer.encode_ids(&doc.text)?);
        Ok(())
    })?;
    Ok(counts.filter(top))
}

/// A document kept for the report, before its tokens are coloured.
#[derive(Debug, Clone)]
pub struct SampleDraft {
    id: Option<String>,
    prompt: Option<String>,
    text: String,
    spans: Vec<(usize, usize)>,
    outcomes: Vec<Outcome>,
    /// Open mode: the suspect's prediction at each position.
    predicted: Option<Vec<TokenId>>,
}

/// The tuples of a test plus report samples.
#[derive(Debug)]
pub struct Collected {
    /// The deduplicated tuples.
    pub tuples: TupleSet,
    /// The first documents, for the report.
    pub samples: Vec<SampleDraft>,
}

/// How a closed test collects its tuples.
#[derive(Debug, Clone, Copy)]
pub struct ClosedOptions<'a> {
    /// The key's context width h.
    pub h: usize,
    /// Prompts for answers whose records lack a `prompt` field.
    pub prompts: Option<&'a Prompts>,
    /// Exclude windows that occur in each answer's prompt (the default; turning it off is
    /// invalid when the prompts carry the watermark).
    pub exclude_prompts: bool,
    /// Supervised: only positions whose preceding context is in this set count.
    pub filter: Option<&'a WindowSet>,
    /// How many documents to keep as report samples.
    pub samples: usize,
}

/// Closed test: streams the suspect's answers from `source` and collects their tuples.
///
/// Each answer's prompt comes from its record's `prompt` field, else from
/// `options.prompts`. `progress` gets the bytes read.
pub fn collect_answers(
    tokenizer: &TextTokenizer,
    source: &Source,
    options: &ClosedOptions<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Collected, IoError> {
    let ClosedOptions {
        h,
        prompts,
        exclude_prompts,
        filter,
        samples,
    } = *options;
    let mut tuples = TupleSet::new(h);
    let mut drafts = Vec::new();
    let mut index = 0;
    for_each_document::<IoError>(source, InputFormat::Auto, |doc, bytes| {
        let prompt = doc.prompt.clone().or_else(|| {
            prompts
                .and_then(|p| p.lookup(index, doc.id.as_deref()))
                .map(str::to_string)
        });
        index += 1;
        if exclude_prompts && prompt.is_none() {
            tuples.note_missing_prompt();
        }
        let windows = match (&prompt, exclude_prompts) {
            (Some(p), true) => {
                let mut set = WindowSet::new(h);
                set.extend_from(&tokenizer.encode_ids(p)?);
                Some(set)
            }
            _ => None,
        };
        if drafts.len() >= samples {
            tuples.add_answer(&tokenizer.encode_ids(&doc.text)?, windows.as_ref(), filter);
            progress(bytes);
            return Ok(());
        }
        let enc = tokenizer.encode(&doc.text)?;
        let outcomes = tuples.add_answer(&enc.ids, windows.as_ref(), filter);
        drafts.push(SampleDraft {
            id: doc.id.or(doc.line.map(|l| format!("line {l}"))),
            prompt,
            text: doc.text,
            spans: enc.spans,
            outcomes,
            predicted: None,
        });
        progress(bytes);
        Ok(())
    })?;
    Ok(Collected {
        tuples,
        samples: drafts,
    })
}

/// Open test (reading mode): streams watermarked texts from `source`, teacher-forces each
/// through `model` and collects (window, top-1 prediction) tuples.
///
/// The model must share the watermark's vocabulary; a mismatch is an error, not a result.
pub fn collect_reading(
    tokenizer: &TextTokenizer,
    model: &mut dyn LanguageModel,
    source: &Source,
    h: usize,
    filter: Option<&WindowSet>,
    samples: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Collected, IoError> {
    check_vocabulary(tokenizer, model)?;
    let mut tuples = TupleSet::new(h);
    let mut drafts = Vec::new();
    for_each_document::<IoError>(source, InputFormat::Auto, |doc, bytes| {
        let enc = tokenizer.encode(&doc.text)?;
        if !enc.ids.is_empty() {
            let (outcomes, predicted) =
                crate::read_with_model(model, &enc.ids, &mut tuples, filter).map_err(|e| {
                    IoError::Input {
                        input: format!("{} (reading {})", model.describe(), doc.source),
                        message: e.to_string(),
                    }
                })?;
            if drafts.len() < samples {
                drafts.push(SampleDraft {
                    id: doc.id.or(doc.line.map(|l| format!("line {l}"))),
                    prompt: doc.prompt,
                    text: doc.text,
                    spans: enc.spans,
                    outcomes,
                    predicted: Some(predicted),
                });
            }
        }
        progress(bytes);
        Ok(())
    })?;
    Ok(Collected {
        tuples,
        samples: drafts,
    })
}

/// Reading mode needs a suspect with the watermark's vocabulary: a mismatch is an error,
/// not a result.
pub fn check_vocabulary(
    tokenizer: &TextTokenizer,
    model: &dyn LanguageModel,
) -> Result<(), IoError> {
    if model.vocab_size() != tokenizer.vocab_size() {
        return Err(IoError::Input {
            input: model.describe(),
            message: format!(
                "vocabulary mismatch: the suspect model has {} tokens but the watermark's \
                 tokenizer ({}) has {}; reading mode needs a suspect with the same tokenizer",
                model.vocab_size(),
                tokenizer.name(),
                tokenizer.vocab_size()
            ),
        });
    }
    Ok(())
}

/// Colours the kept documents under the true key.
pub fn finish_samples(
    drafts: Vec<SampleDraft>,
    tuples: &TupleSet,
    watermark: &Watermark,
    tokenizer: &TextTokenizer,
) -> Vec<Sample> {
    let mark = |o: Option<&Outcome>| match o {
        None => Mark::Skipped {
            reason: Skip::Prefix,
        },
        Some(Outcome::Skipped(reason)) => Mark::Skipped { reason: *reason },
        Some(&Outcome::Tuple(n)) => {
            let (window, token) = tuples.get(n as usize);
            match watermark.score(window, token) {
                TokenScore::Green(green) => Mark::Kgw { green },
                TokenScore::Gumbel(score) => Mark::Gumbel { score },
            }
        }
    };
    drafts
        .into_iter()
        .map(|d| {
            let mut pieces = Vec::with_capacity(d.spans.len());
            let mut start = 0;
            for (i, &(_, end)) in d.spans.iter().enumerate() {
                let end = end.max(start);
                // Closed: outcome i is token i's. Open: token i was predicted at position i,
                // whose outcome is number i − 1.
                let (outcome, predicted) = match &d.predicted {
                    None => (d.outcomes.get(i), None),
                    Some(p) => (
                        i.checked_sub(1).and_then(|j| d.outcomes.get(j)),
                        i.checked_sub(1)
                            .and_then(|j| p.get(j))
                            .map(|&t| tokenizer.decode(&[t])),
                    ),
                };
                pieces.push(Piece {
                    text: d.text[start..end].to_string(),
                    predicted,
                    mark: mark(outcome),
                });
                start = end;
            }
            if start < d.text.len() {
                pieces.push(Piece {
                    text: d.text[start..].to_string(),
                    predicted: None,
                    mark: Mark::Skipped {
                        reason: Skip::Prefix,
                    },
                });
            }
            Sample {
                id: d.id,
                prompt: d.prompt,
                pieces,
            }
        })
        .collect()
}
