//! The fast exact path for byte-level BPE tokenizers.
//!
//! Hugging Face's pipeline is reproduced step by step on plain byte ranges: added tokens are
//! split out with the same leftmost-longest automaton (`daachorse`), the pre-tokenizer runs
//! as [`Step`]s, and each resulting word goes to the tokenizer's own BPE model
//! (`Model::tokenize`) only on a miss of a word cache keyed by the word's raw bytes. The
//! `NormalizedString` bookkeeping is skipped: byte spans are computed the way HF's alignment
//! tracking ends up computing them (a token covering part of a multi-byte character is given
//! that whole character).
//!
//! Only configurations whose every step is reproduced are accepted ([`FastPath::new`]);
//! the rest go through the HF pipeline.

use std::sync::{Mutex, PoisonError};

use daachorse::{DoubleArrayAhoCorasick, DoubleArrayAhoCorasickBuilder, MatchKind};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::split::SplitPattern;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{Model, ModelWrapper, SplitDelimiterBehavior, Tokenizer};

use super::cache::{MAX_WORD, Piece, WordCache};
use super::pretok::{BYTE_LEVEL_REGEX, Cut, SplitRegex, Step, for_each_piece};

/// Caches kept for reuse across calls (one per concurrent caller).
const MAX_POOLED_CACHES: usize = 16;

/// Receives tokens: id and HF's byte offsets in the text.
pub(crate) trait Sink {
    /// One token.
    fn push(&mut self, id: u32, start: usize, end: usize);
}

impl Sink for Vec<u32> {
    fn push(&mut self, id: u32, _start: usize, _end: usize) {
        Vec::push(self, id);
    }
}

/// A tokenizer configuration the fast path reproduces exactly.
#[derive(Debug)]
pub(crate) struct FastPath {
    specials: Option<Specials>,
    steps: Vec<Step>,
    /// The post-processor leaves offsets alone (no `ByteLevel` offset trimming).
    spans_exact: bool,
    /// Where texts may be cut; `None`: nowhere known.
    cut: Option<Cut>,
    scratch: Mutex<Vec<Scratch>>,
}

/// What one call works with: the word cache and the steps' regex caches.
#[derive(Debug)]
struct Scratch {
    words: WordCache,
    regex: Vec<Option<regex_automata::hybrid::dfa::Cache>>,
}

/// The added vocabulary.
struct Specials {
    /// Leftmost-longest over every added token, as HF's `AddedVocabulary` splits.
    split: DoubleArrayAhoCorasick<u32>,
    /// Every occurrence of the added tokens containing whitespace (the only ones that can
    /// span a cut before whitespace), with the longest one's length.
    spaced: Option<(DoubleArrayAhoCorasick<u32>, usize)>,
}

impl std::fmt::Debug for Specials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Specials").finish_non_exhaustive()
    }
}

impl FastPath {
    /// The fast path for `tok`, or `None` if some part of its pipeline is not reproduced:
    /// a normalizer, truncation or padding, a model other than deterministic BPE, a
    /// pre-tokenizer other than `Digits`/`Split` (isolated, regex `regex-automata` can run
    /// after emulating `\s+(?!\S)`) steps ending in `ByteLevel` without prefix space, a
    /// post-processor other than `ByteLevel`/`TemplateProcessing`, or added tokens with
    /// `single_word`, `lstrip`, `rstrip` or `normalized` set.
    pub(crate) fn new(tok: &Tokenizer) -> Option<Self> {
        if tok.get_normalizer().is_some()
            || tok.get_truncation().is_some()
            || tok.get_padding().is_some()
            || tok.get_encode_special_tokens()
        {
            return None;
        }
        let ModelWrapper::BPE(bpe) = tok.get_model() else {
            return None;
        };
        if bpe.dropout.is_some_and(|d| d != 0.0) {
            return None;
        }
        let steps = steps_of(tok.get_pre_tokenizer()?)?;
        let spans_exact = offsets_untouched(tok.get_post_processor())?;
        let specials = specials_of(tok)?;
        Some(Self {
            // Offsets trimmed by the post-processor are not known to chunk exactly.
            cut: cut_of(&steps).filter(|_| spans_exact),
            specials,
            steps,
            spans_exact,
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Whether [`FastPath::encode`] gives HF's offsets too (not only its ids).
    pub(crate) fn spans_exact(&self) -> bool {
        self.spans_exact
    }

    /// Whether some cut points are known.
    pub(crate) fn is_chunkable(&self) -> bool {
        self.cut.is_some()
    }

    /// Tokenizes `text` into `sink` exactly as HF's `encode(text, false)` does.
    pub(crate) fn encode<S: Sink>(
        &self,
        model: &ModelWrapper,
        text: &str,
        sink: &mut S,
    ) -> tokenizers::Result<()> {
        let popped = self
            .scratch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut scratch = popped.unwrap_or_else(|| Scratch {
            words: WordCache::default(),
            regex: vec![None; self.steps.len()],
        });
        let result = self.encode_with(model, &mut scratch, text, sink);
        let mut pool = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < MAX_POOLED_CACHES {
            pool.push(scratch);
        }
        result
    }

    fn encode_with<S: Sink>(
        &self,
        model: &ModelWrapper,
        scratch: &mut Scratch,
        text: &str,
        sink: &mut S,
    ) -> tokenizers::Result<()> {
        let Scratch { words, regex } = scratch;
        let mut segment = |start: usize, end: usize, sink: &mut S| {
            for_each_piece(&self.steps, regex, text, start, end, &mut |s, e| {
                words.word(model, text, s, e, sink)
            })
        };
        let mut from = 0;
        if let Some(specials) = &self.specials {
            for m in specials.split.leftmost_find_iter(text) {
                if from < m.start() {
                    segment(from, m.start(), sink)?;
                }
                sink.push(m.value(), m.start(), m.end());
                from = m.end();
            }
        }
        if from < text.len() {
            segment(from, text.len(), sink)?;
        }
        Ok(())
    }

    /// Whether tokenizing `text[..i]` and `text[i..]` apart gives the tokens of `text`.
    ///
    /// The pre-tokenizer must allow a cut between the characters around `i` and place a
    /// piece boundary there (see [`Cut`]), and no occurrence of an added token may span
    /// `i` (then added tokens split both sides as they split the whole).
    pub(crate) fn is_cut(&self, text: &str, i: usize) -> bool {
        let Some(cut) = self.cut else {
            return false;
        };
        if i == 0 || i >= text.len() || !text.is_char_boundary(i) {
            return false;
        }
        let (Some(prev), Some(next)) = (text[..i].chars().next_back(), text[i..].chars().next())
        else {
            return false;
        };
        if !cut.allows(prev, next) {
            return false;
        }
        match self.specials.as_ref().and_then(|s| s.spaced.as_ref()) {
            None => true,
            Some((spaced, max_len)) => {
                let lo = i.saturating_sub(*max_len);
                let hi = (i + max_len).min(text.len());
                !spaced
                    .find_overlapping_iter(&text.as_bytes()[lo..hi])
                    .any(|m| lo + m.start() < i && i < lo + m.end())
            }
        }
    }

    /// Bytes of text that must follow a cut for [`FastPath::is_cut`] to see every added
    /// token that could span it.
    pub(crate) fn lookahead(&self) -> usize {
        let spaced = self.specials.as_ref().and_then(|s| s.spaced.as_ref());
        spaced.map_or(0, |(_, max_len)| *max_len).max(4)
    }
}

/// The pre-tokenizer as steps; `None` unless it is `Digits`/`Split` steps and a final
/// `ByteLevel` without prefix space.
fn steps_of(pre: &PreTokenizerWrapper) -> Option<Vec<Step>> {
    fn flatten<'a>(p: &'a PreTokenizerWrapper, out: &mut Vec<&'a PreTokenizerWrapper>) {
        match p {
            PreTokenizerWrapper::Sequence(seq) => {
                seq.as_ref().iter().for_each(|p| flatten(p, out));
            }
            p => out.push(p),
        }
    }
    let mut flat = Vec::new();
    flatten(pre, &mut flat);
    let (PreTokenizerWrapper::ByteLevel(byte_level), before) = flat.split_last()? else {
        return None;
    };
    if byte_level.add_prefix_space {
        return None;
    }
    let mut steps = before
        .iter()
        .map(|p| match p {
            PreTokenizerWrapper::Digits(d) => Some(Step::Digits {
                individual: d.individual_digits,
            }),
            PreTokenizerWrapper::Split(s)
                if s.behavior == SplitDelimiterBehavior::Isolated && !s.invert =>
            {
                let pattern = match &s.pattern {
                    SplitPattern::String(s) => regex_syntax::escape(s),
                    SplitPattern::Regex(r) => r.clone(),
                };
                SplitRegex::new(&pattern).map(|re| Step::Regex(Box::new(re)))
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    if byte_level.use_regex {
        steps.push(Step::Regex(Box::new(SplitRegex::new(BYTE_LEVEL_REGEX)?)));
    }
    Some(steps)
}

/// `Some(spans untouched)` for the post-processors that leave ids alone when no special
/// tokens are added; `None` for the others.
fn offsets_untouched(post: Option<&PostProcessorWrapper>) -> Option<bool> {
    match post {
        None | Some(PostProcessorWrapper::Template(_)) => Some(true),
        Some(PostProcessorWrapper::ByteLevel(b)) => Some(!b.trim_offsets),
        Some(PostProcessorWrapper::Sequence(seq)) => seq
            .as_ref()
            .iter()
            .try_fold(true, |all, p| Some(all && offsets_untouched(Some(p))?)),
        Some(_) => None,
    }
}

/// The added vocabulary's automata: `Some(None)` if it is empty, `None` if some token
/// needs matching rules this path does not reproduce.
fn specials_of(tok: &Tokenizer) -> Option<Option<Specials>> {
    let added = tok.get_added_tokens_decoder();
    if added.is_empty() {
        return Some(None);
    }
    let mut pairs = Vec::with_capacity(added.len());
    for (&id, t) in &added {
        if t.single_word || t.lstrip || t.rstrip || t.normalized || t.content.is_empty() {
            return None;
        }
        pairs.push((t.content.as_str(), id));
    }
    let split = DoubleArrayAhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .build_with_values(pairs.iter().copied())
        .ok()?;
    let spaced: Vec<_> = pairs
        .into_iter()
        .filter(|(c, _)| c.chars().any(char::is_whitespace))
        .collect();
    let spaced = match spaced.iter().map(|(c, _)| c.len()).max() {
        None => None,
        Some(max_len) => Some((
            DoubleArrayAhoCorasickBuilder::new()
                .build_with_values(spaced)
                .ok()?,
            max_len,
        )),
    };
    Some(Some(Specials { split, spaced }))
}

/// The cut rule of the whole pre-tokenizer: some step must make the cut a boundary, and
/// every step must allow it.
fn cut_of(steps: &[Step]) -> Option<Cut> {
    let cuts: Vec<Cut> = steps.iter().map(Step::cut).collect();
    if cuts.contains(&Cut::Nowhere) {
        return None;
    }
    // `BeforeSpaceNotNewline` ⊂ `BeforeSpace` ⊂ `AtWhitespace` ⊂ `Anywhere`.
    if cuts.contains(&Cut::BeforeSpaceNotNewline) {
        Some(Cut::BeforeSpaceNotNewline)
    } else if cuts.contains(&Cut::BeforeSpace) {
        Some(Cut::BeforeSpace)
    } else {
        None
    }
}

impl WordCache {
    /// Tokenizes the word `text[start..end]` into `sink`.
    fn word<S: Sink>(
        &mut self,
        model: &ModelWrapper,
        text: &str,
        start: usize,
        end: usize,
        sink: &mut S,
    ) -> tokenizers::Result<()> {
        let word = &text[start..end];
        if let Some(pieces) = self.get(word.as_bytes()) {
            for p in pieces {
                sink.push(
                    p.id,
                    start + usize::from(p.start),
                    start + usize::from(p.end),
                );
            }
            return Ok(());
        }
        let tokens = tokenize_word(model, word)?;
        for &(id, s, e) in &tokens {
            sink.push(id, start + s, start + e);
        }
        if word.len() <= MAX_WORD {
            let pieces: Vec<Piece> = tokens
                .iter()
                .map(|&(id, s, e)| Piece {
                    id,
                    // Offsets stay within the word, at most MAX_WORD.
                    start: u16::try_from(s).unwrap_or(u16::MAX),
                    end: u16::try_from(e).unwrap_or(u16::MAX),
                })
                .collect();
            self.insert(word.as_bytes(), &pieces);
        }
        Ok(())
    }
}

/// Byte-level maps `word` and runs the BPE model on it: ids with HF's offsets in the word.
fn tokenize_word(model: &ModelWrapper, word: &str) -> tokenizers::Result<Vec<(u32, usize, usize)>> {
    let table = byte_chars();
    let mut mapped = String::with_capacity(word.len() * 2);
    // The word byte each byte of `mapped` stands for.
    let mut origin = Vec::with_capacity(word.len() * 2 + 1);
    for (j, &b) in word.as_bytes().iter().enumerate() {
        let c = table[usize::from(b)];
        origin.extend(std::iter::repeat_n(j, c.len_utf8()));
        mapped.push(c);
    }
    origin.push(word.len());
    let tokens = model.tokenize(&mapped)?;
    Ok(tokens
        .into_iter()
        .map(|t| {
            // HF aligns every byte-level character with the whole character it came from,
            // and maps a token to the alignments of its first and last byte. (Its offsets
            // count the lengths of the symbols kept, so they drift when a character missing
            // from the vocabulary is dropped.)
            let (first, last) = (origin[t.offsets.0], origin[t.offsets.1.max(1) - 1]);
            (
                t.id,
                floor_boundary(word, first),
                ceil_boundary(word, last + 1),
            )
        })
        .collect())
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// GPT-2's byte-to-character table, as HF's `ByteLevel` maps bytes.
fn byte_chars() -> &'static [char; 256] {
    static TABLE: std::sync::OnceLock<[char; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = ['\0'; 256];
        let mut next = 256u32;
        for b in 0..=255u8 {
            let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
            let code = if printable {
                u32::from(b)
            } else {
                next += 1;
                next - 1
            };
            table[usize::from(b)] = char::from_u32(code).unwrap_or('\0');
        }
        table
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_hf_alphabet() {
        let ours: std::collections::HashSet<char> = byte_chars().iter().copied().collect();
        let hf = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet();
        assert_eq!(ours.len(), 256);
        assert_eq!(ours, hf.into_iter().collect());
        assert_eq!(byte_chars()[usize::from(b' ')], 'Ġ');
        assert_eq!(byte_chars()[usize::from(b'\n')], 'Ċ');
    }
}
