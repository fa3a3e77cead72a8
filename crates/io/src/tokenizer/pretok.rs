//! Pre-tokenization without Hugging Face's `NormalizedString` machinery: the `Digits` and
//! `Split` steps that precede byte-level mapping, on plain byte ranges of the text.
//!
//! Regex splits run on `regex-automata`, which has no look-around. The one look-around the
//! byte-level regexes use, a top-level `\s+(?!\S)` alternative, is emulated exactly: it is
//! searched as `\s+` (a maximal whitespace run) and then shortened by its last character
//! when a non-whitespace character follows, as backtracking would; when the run is a single
//! character followed by non-whitespace (where the look-around fails), the alternatives after
//! it are tried at that position, anchored, as a backtracking engine would.

use std::sync::OnceLock;

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Class, Hir, HirKind};

/// The regex of Hugging Face's `ByteLevel` pre-tokenizer when `use_regex` is set.
pub(crate) const BYTE_LEVEL_REGEX: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// The alternative emulated without look-around.
const LOOKAHEAD_ALT: &str = r"\s+(?!\S)";

/// GPT-2-style regexes: no match contains a non-whitespace character followed by a
/// whitespace character, and every character is matched (or left as a one-character gap).
const GPT2_FAMILY: &[&str] = &[
    BYTE_LEVEL_REGEX,
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
];

/// Llama-3-style regexes: as GPT-2's, except that ` ?[^\s\p{L}\p{N}]+[\r\n]*` lets a
/// punctuation run absorb the line breaks after it.
const LLAMA3_FAMILY: &[&str] = &[
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
];

/// Where a step lets the text be cut: tokenizing both sides apart gives the same pieces as
/// cutting the pieces of the whole at that point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Anywhere (the step looks at one character at a time).
    Anywhere,
    /// Before a whitespace character, or after one (the regex never matches whitespace).
    AtWhitespace,
    /// Between a non-whitespace and a whitespace character, which is also always a piece
    /// boundary (GPT-2 family).
    BeforeSpace,
    /// As [`Cut::BeforeSpace`], but not before `\r` or `\n` (Llama 3 family).
    BeforeSpaceNotNewline,
    /// Nowhere known to be safe.
    Nowhere,
}

impl Cut {
    /// Whether the step can be cut between `prev` and `next`.
    pub(crate) fn allows(self, prev: char, next: char) -> bool {
        match self {
            Self::Anywhere => true,
            Self::AtWhitespace => prev.is_whitespace() || next.is_whitespace(),
            Self::BeforeSpace => !prev.is_whitespace() && next.is_whitespace(),
            Self::BeforeSpaceNotNewline => {
                !prev.is_whitespace() && next.is_whitespace() && next != '\r' && next != '\n'
            }
            Self::Nowhere => false,
        }
    }
}

/// One splitting step before byte-level mapping.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// HF `Digits`: numeric characters alone (`individual`) or in runs, isolated.
    Digits { individual: bool },
    /// HF `Split` with `Isolated` behaviour: matches and the gaps between them.
    Regex(Box<SplitRegex>),
}

impl Step {
    /// Where this step may be cut.
    pub(crate) fn cut(&self) -> Cut {
        match self {
            Self::Digits { .. } => Cut::Anywhere,
            Self::Regex(re) => re.cut,
        }
    }
}

/// Calls `f` with the byte range of every final piece of `text[start..end]` after `steps`.
///
/// `caches` holds a slot per step for its lazy-DFA cache, filled on first use.
pub(crate) fn for_each_piece<E>(
    steps: &[Step],
    caches: &mut [Option<Cache>],
    text: &str,
    start: usize,
    end: usize,
    f: &mut dyn FnMut(usize, usize) -> Result<(), E>,
) -> Result<(), E> {
    let (Some((step, rest)), Some((cache, caches))) =
        (steps.split_first(), caches.split_first_mut())
    else {
        return f(start, end);
    };
    let piece = &text[start..end];
    match step {
        Step::Digits { individual } => {
            let bytes = piece.as_bytes();
            let (mut from, mut i) = (0, 0);
            // Skip to the next ASCII digit or non-ASCII character, then check it.
            while let Some(k) = bytes[i..]
                .iter()
                .position(|&b| b.is_ascii_digit() || !b.is_ascii())
            {
                i += k;
                let numeric_len = |at: usize| {
                    let c = piece[at..].chars().next().unwrap_or('\0');
                    c.is_numeric().then(|| c.len_utf8())
                };
                let Some(n) = numeric_len(i) else {
                    i += piece[i..].chars().next().map_or(1, char::len_utf8);
                    continue;
                };
                // A numeric character, or a run of them.
                let mut to = i + n;
                while !*individual && let Some(n) = numeric_len(to) {
                    to += n;
                }
                if from < i {
                    for_each_piece(rest, caches, text, start + from, start + i, f)?;
                }
                for_each_piece(rest, caches, text, start + i, start + to, f)?;
                (from, i) = (to, to);
            }
            if from < piece.len() {
                for_each_piece(rest, caches, text, start + from, end, f)?;
            }
            Ok(())
        }
        Step::Regex(re) => {
            let cache = cache.get_or_insert_with(|| re.dfa.create_cache());
            re.for_each_split(cache, piece, &mut |s, e| {
                for_each_piece(rest, caches, text, start + s, start + e, f)
            })
        }
    }
}

/// A split regex compiled for `regex-automata`, with the `\s+(?!\S)` emulation.
#[derive(Debug, Clone)]
pub(crate) struct SplitRegex {
    /// The alternatives as patterns of one regex, in priority order.
    re: Regex,
    /// The patterns, for building `dense`.
    patterns: Vec<String>,
    /// The same as a dense DFA for anchored forward searches (no start to look for),
    /// built on first use; `None` if it would be too large.
    dense: OnceLock<Option<dense::DFA<Vec<u32>>>>,
    /// The same as a lazy DFA, where the dense one is too large.
    dfa: DFA,
    /// The pattern that stands for `\s+(?!\S)`, if any.
    lookahead: Option<usize>,
    /// The alternatives after it, for an anchored retry where the look-ahead fails.
    after: Option<Regex>,
    /// Where this split may be cut.
    cut: Cut,
}

impl SplitRegex {
    /// Compiles `pattern` as HF's `Split` (fancy-regex) would match it; `None` if it uses
    /// look-around other than a top-level `\s+(?!\S)`, anything else `regex-automata`
    /// lacks, or can match the empty string.
    pub(crate) fn new(pattern: &str) -> Option<Self> {
        if !pattern.contains(LOOKAHEAD_ALT) {
            return Self::plain(pattern);
        }
        let alts = top_level_alternatives(pattern)?;
        let Some(k) = alts.iter().position(|a| *a == LOOKAHEAD_ALT) else {
            return Self::plain(pattern);
        };
        if alts.iter().filter(|a| **a == LOOKAHEAD_ALT).count() > 1 {
            return None;
        }
        let patterns: Vec<&str> = alts
            .iter()
            .map(|a| if *a == LOOKAHEAD_ALT { r"\s+" } else { a })
            .collect();
        for p in &patterns {
            let hir = regex_automata::util::syntax::parse(p).ok()?;
            hir.properties().minimum_len().filter(|&n| n > 0)?;
        }
        let after = match &patterns[k + 1..] {
            [] => None,
            rest => Some(Regex::new_many(rest).ok()?),
        };
        let cut = if GPT2_FAMILY.contains(&pattern) {
            Cut::BeforeSpace
        } else if LLAMA3_FAMILY.contains(&pattern) {
            Cut::BeforeSpaceNotNewline
        } else {
            Cut::Nowhere
        };
        Some(Self {
            re: Regex::new_many(&patterns).ok()?,
            dfa: DFA::new_many(&patterns).ok()?,
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
            dense: OnceLock::new(),
            lookahead: Some(k),
            after,
            cut,
        })
    }

    /// A regex without look-around, compiled whole.
    fn plain(pattern: &str) -> Option<Self> {
        let hir = regex_automata::util::syntax::parse(pattern).ok()?;
        hir.properties().minimum_len().filter(|&n| n > 0)?;
        let cut = if never_matches_whitespace(&hir) {
            Cut::AtWhitespace
        } else {
            Cut::Nowhere
        };
        Some(Self {
            re: Regex::new(pattern).ok()?,
            dfa: DFA::new(pattern).ok()?,
            patterns: vec![pattern.to_string()],
            dense: OnceLock::new(),
            lookahead: None,
            after: None,
            cut,
        })
    }

    /// Calls `f` with every match and every gap between matches of `piece`, in order.
    fn for_each_split<E>(
        &self,
        cache: &mut Cache,
        piece: &str,
        f: &mut dyn FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let len = piece.len();
        let (mut pos, mut gap) = (0, 0);
        while pos < len {
            let Some((start, mut end, pattern)) = self.find(cache, piece, pos) else {
                break;
            };
            if Some(pattern) == self.lookahead && end < len {
                // A maximal whitespace run followed by non-whitespace.
                let last = piece[start..end]
                    .chars()
                    .next_back()
                    .map_or(1, char::len_utf8);
                if end - start > last {
                    end -= last;
                } else {
                    let retry = self.after.as_ref().and_then(|after| {
                        after.search(&Input::new(piece).span(start..len).anchored(Anchored::Yes))
                    });
                    match retry {
                        Some(r) => end = r.end(),
                        None => {
                            // Nothing matches here: the character joins the gap.
                            pos = end;
                            continue;
                        }
                    }
                }
            }
            if gap < start {
                f(gap, start)?;
            }
            f(start, end)?;
            pos = end;
            gap = end;
        }
        if gap < len {
            f(gap, len)?;
        }
        Ok(())
    }
}

/// Largest dense DFA built (bytes); beyond it the lazy DFA is used.
const DENSE_LIMIT: usize = 16 << 20;

impl SplitRegex {
    /// The dense DFA, built on first use.
    fn dense(&self) -> Option<&dense::DFA<Vec<u32>>> {
        self.dense
            .get_or_init(|| {
                let config = dense::Config::new()
                    .start_kind(StartKind::Anchored)
                    .dfa_size_limit(Some(DENSE_LIMIT))
                    .determinize_size_limit(Some(DENSE_LIMIT));
                dense::Builder::new()
                    .configure(config)
                    .build_many(&self.patterns)
                    .ok()
            })
            .as_ref()
    }

    /// The leftmost-first match in `piece[pos..]`: start, end and pattern index.
    fn find(&self, cache: &mut Cache, piece: &str, pos: usize) -> Option<(usize, usize, usize)> {
        // Most regexes match wherever the last match ended: an anchored forward search
        // there finds it without a reverse scan for its start, and when it hits it is the
        // leftmost match. The DFAs cannot fail here (no quit bytes, no Unicode word
        // boundaries), but the full regex engine stands in if they ever do.
        let input = Input::new(piece).span(pos..piece.len());
        let anchored = input.clone().anchored(Anchored::Yes);
        let hit = match self.dense() {
            Some(dense) => dense.try_search_fwd(&anchored),
            None => self.dfa.try_search_fwd(cache, &anchored),
        };
        match hit {
            Ok(Some(m)) => return Some((pos, m.offset(), m.pattern().as_usize())),
            Ok(None) => {}
            Err(_) => {
                if let Some(m) = self.re.search(&anchored) {
                    return Some((m.start(), m.end(), m.pattern().as_usize()));
                }
            }
        }
        let m = self.re.search(&input)?;
        Some((m.start(), m.end(), m.pattern().as_usize()))
    }
}

/// Splits `pattern` at its top-level `|`; `None` if its brackets do not balance.
fn top_level_alternatives(pattern: &str) -> Option<Vec<&str>> {
    let bytes = pattern.as_bytes();
    let (mut depth, mut class, mut from) = (0usize, 0usize, 0);
    let mut alts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' => {
                class += 1;
                // A `]` first in a class (after an optional `^`) is literal.
                if bytes.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if bytes.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if class > 0 => class -= 1,
            b'(' if class == 0 => {
                // A flag group such as `(?i)` at top level reaches across alternatives.
                if depth == 0 && bytes.get(i + 1) == Some(&b'?') {
                    let flags = bytes[i + 2..]
                        .iter()
                        .take_while(|b| b.is_ascii_alphabetic() || **b == b'-')
                        .count();
                    if bytes.get(i + 2 + flags) == Some(&b')') {
                        return None;
                    }
                }
                depth += 1;
            }
            b')' if class == 0 => depth = depth.checked_sub(1)?,
            b'|' if class == 0 && depth == 0 => {
                alts.push(&pattern[from..i]);
                from = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 || class != 0 {
        return None;
    }
    alts.push(&pattern[from..]);
    Some(alts)
}

/// Whether no match of `hir` can contain a whitespace character, with no assertions (so
/// that cutting the text at whitespace never changes its matches).
fn never_matches_whitespace(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty => true,
        HirKind::Literal(lit) => {
            std::str::from_utf8(&lit.0).is_ok_and(|s| !s.chars().any(char::is_whitespace))
        }
        HirKind::Class(Class::Unicode(cls)) => cls.ranges().iter().all(|r| {
            // White_Space is 25 code points; check each against the range.
            WHITESPACE
                .iter()
                .all(|&w| !(r.start()..=r.end()).contains(&w))
        }),
        HirKind::Class(Class::Bytes(_)) | HirKind::Look(_) => false,
        HirKind::Repetition(rep) => never_matches_whitespace(&rep.sub),
        HirKind::Capture(cap) => never_matches_whitespace(&cap.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().all(never_matches_whitespace),
    }
}

/// The Unicode White_Space characters (`\s`).
const WHITESPACE: [char; 25] = [
    '\t', '\n', '\u{b}', '\u{c}', '\r', ' ', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}',
    '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}',
    '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
];

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(re: &SplitRegex, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cache = re.dfa.create_cache();
        re.for_each_split::<()>(&mut cache, s, &mut |a, b| {
            out.push(s[a..b].to_string());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn whitespace_table_is_white_space() {
        let all: Vec<char> = (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        assert_eq!(all, WHITESPACE);
    }

    #[test]
    fn lookahead_is_emulated() {
        let re = SplitRegex::new(BYTE_LEVEL_REGEX).unwrap();
        assert_eq!(re.cut, Cut::BeforeSpace);
        assert_eq!(pieces(&re, "a   b"), ["a", "  ", " b"]);
        assert_eq!(pieces(&re, "a\tb  "), ["a", "\t", "b", "  "]);
        assert_eq!(pieces(&re, "it's"), ["it", "'s"]);
        let no_tail = SplitRegex::new(GPT2_FAMILY[1]).unwrap();
        assert!(no_tail.after.is_none());
        assert_eq!(pieces(&no_tail, "a\tb"), ["a", "\t", "b"]);
    }

    #[test]
    fn lazy_dfa_splits_like_the_dense_one() {
        let gpl = std::fs::read_to_string("/usr/share/common-licenses/GPL-3").unwrap_or_default();
        let texts = [
            gpl.as_str(),
            "a   b\t\tc \n\n  d!!\r\n's 'LL 日本語 123456 \u{3000}x \u{85}",
            "  \n \t",
        ];
        for pattern in GPT2_FAMILY
            .iter()
            .chain(LLAMA3_FAMILY)
            .chain(&[r"\p{N}{1,3}"])
        {
            let dense = SplitRegex::new(pattern).unwrap();
            let lazy = SplitRegex::new(pattern).unwrap();
            assert!(lazy.dense.set(None).is_ok());
            assert!(dense.dense().is_some());
            for t in texts {
                assert_eq!(pieces(&dense, t), pieces(&lazy, t), "{pattern}");
            }
        }
    }

    #[test]
    fn alternatives_and_cuts() {
        assert_eq!(
            top_level_alternatives(r"(?i:a|b)|[|(]|\|c").unwrap(),
            [r"(?i:a|b)", "[|(]", r"\|c"]
        );
        assert!(top_level_alternatives("(a").is_none());
        assert!(top_level_alternatives("(?i)a|b").is_none());
        assert_eq!(
            SplitRegex::new(r"[\p{P}\$\+<=>\^~\|`]+").unwrap().cut,
            Cut::AtWhitespace
        );
        assert_eq!(
            SplitRegex::new(r"\p{N}{1,3}").unwrap().cut,
            Cut::AtWhitespace
        );
        assert_eq!(SplitRegex::new(r"\s+|a").unwrap().cut, Cut::Nowhere);
        assert_eq!(SplitRegex::new(r"(?-u:\b)a").unwrap().cut, Cut::Nowhere);
        assert!(SplitRegex::new(r"a(?=b)").is_none());
        assert!(SplitRegex::new(r"a*").is_none());
        for re in LLAMA3_FAMILY {
            assert_eq!(SplitRegex::new(re).unwrap().cut, Cut::BeforeSpaceNotNewline);
        }
    }
}
