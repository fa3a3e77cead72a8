//! The scorer's fast paths (seed cache, single-block words, hashed dedup, chunked passes) and
//! the detector's single pass, pinned against a reference built only from
//! [`Watermark::score`] and a set of full (PRF input ids, token) tuples.

use std::collections::HashSet;

use tracemark_core::{
    Delta, Gamma, Key, Scheme, Seeding, SeedingKind, TokenId, Watermark, WatermarkConfig,
};
use tracemark_detect::{
    DetectOptions, Detection, Detector, Scorer, SkipReason, Tally, TokenStatus, WindowSet,
    exact_test,
};

/// Every seeding the tests cover, with its context width.
const SEEDINGS: [(SeedingKind, usize); 8] = [
    (SeedingKind::LeftHash, 0),
    (SeedingKind::LeftHash, 1),
    (SeedingKind::LeftHash, 3),
    (SeedingKind::MinHash, 1),
    (SeedingKind::MinHash, 4),
    (SeedingKind::SelfHash, 0),
    (SeedingKind::SelfHash, 1),
    (SeedingKind::SelfHash, 3),
];

fn schemes() -> [Scheme; 2] {
    [
        Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(2.0).unwrap(),
        },
        Scheme::Gumbel,
    ]
}

fn watermarks() -> impl Iterator<Item = Watermark> {
    SEEDINGS.into_iter().flat_map(|(kind, h)| {
        schemes().into_iter().map(move |scheme| {
            let config = WatermarkConfig {
                scheme,
                seeding: Seeding::new(kind, h).unwrap(),
            };
            Watermark::new(&Key::from_secret([0x5a; 32], config))
        })
    })
}

/// Ids with heavy repetition (a small alphabet), a 50k vocabulary, and rare huge ids (beyond
/// the MinHash rank table, near u32::MAX).
fn text(seed: u64, n: usize) -> Vec<TokenId> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 100 {
                0..60 => (x >> 40) as u32 % 12,
                60..97 => (x >> 40) as u32 % 50_000,
                97..99 => (1 << 20) + (x >> 40) as u32 % 5_000,
                _ => u32::MAX - (x >> 40) as u32 % 64,
            }
        })
        .collect()
}

/// Today's semantics from first principles: statuses of `tokens`, deduplicated on the full
/// (PRF input ids, token) against `seen`, scored by [`Watermark::score`].
fn reference(
    wm: &Watermark,
    tokens: &[TokenId],
    exclude: Option<&WindowSet>,
    dedup: bool,
    seen: &mut HashSet<(Vec<TokenId>, TokenId)>,
) -> Vec<TokenStatus> {
    let h = wm.lookback();
    (0..tokens.len())
        .map(|i| {
            if i < h {
                return TokenStatus::Skipped(SkipReason::Prefix);
            }
            let (window, token) = (&tokens[i - h..i], tokens[i]);
            if exclude.is_some_and(|set| set.contains_tuple(window, token)) {
                return TokenStatus::Skipped(SkipReason::PromptWindow);
            }
            let ids = wm.prf_input(window, token, |t| wm.rank(t)).ids().to_vec();
            if dedup && !seen.insert((ids, token)) {
                return TokenStatus::Skipped(SkipReason::Duplicate);
            }
            TokenStatus::Scored(wm.score(window, token))
        })
        .collect()
}

fn tally_of(statuses: &[TokenStatus]) -> Tally {
    let mut tally = Tally::default();
    for &s in statuses {
        tally.add(s);
    }
    tally
}

#[test]
fn scorer_matches_the_reference_for_every_seeding_and_scheme() {
    for (k, wm) in watermarks().enumerate() {
        let label = format!("{:?}", wm.config());
        for dedup in [true, false] {
            let mut scorer = Scorer::new(&wm, dedup);
            let mut seen = HashSet::new();
            // Several calls share the dedup state; lengths straddle chunk boundaries.
            for (j, n) in [0usize, 1, 2, 63, 64, 65, 3_000].into_iter().enumerate() {
                let tokens = text((k * 10 + j) as u64, n);
                let mut out = Vec::new();
                let tally = scorer.score(&tokens, None, None, Some(&mut out));
                let expected = reference(&wm, &tokens, None, dedup, &mut seen);
                assert_eq!(out, expected, "{label} dedup={dedup} n={n}");
                assert_eq!(tally, tally_of(&expected), "{label} dedup={dedup} n={n}");
            }
            // Without per-token output, and then tuple by tuple.
            let tokens = text(999 + k as u64, 2_000);
            let expected = reference(&wm, &tokens, None, dedup, &mut seen);
            assert_eq!(
                scorer.score(&tokens, None, None, None),
                tally_of(&expected),
                "{label}"
            );
            let h = wm.lookback();
            let tokens = text(7_777 + k as u64, 2_000);
            let expected = reference(&wm, &tokens, None, dedup, &mut seen);
            for i in h..tokens.len() {
                let got = scorer.score_tuple(&tokens[i - h..i], tokens[i]);
                let want = match expected[i] {
                    TokenStatus::Scored(s) => Some(s),
                    _ => None,
                };
                assert_eq!(got, want, "{label} dedup={dedup} tuple {i}");
            }
        }
    }
}

#[test]
fn exclusions_and_filters_match_the_reference() {
    for wm in watermarks() {
        let h = wm.lookback();
        let tokens = text(42, 4_000);
        let mut prompt = WindowSet::new(h);
        prompt.extend_from(&text(43, 300));
        let mut out = Vec::new();
        let tally = Scorer::new(&wm, true).score(&tokens, Some(&prompt), None, Some(&mut out));
        let expected = reference(&wm, &tokens, Some(&prompt), true, &mut HashSet::new());
        assert_eq!(out, expected, "{:?}", wm.config());
        assert_eq!(tally, tally_of(&expected));
        // A required-window filter: every status is the unfiltered one or NotInFilter.
        let mut allowed = WindowSet::new(h);
        allowed.extend_from(&tokens[..2_000]);
        let mut filtered = Vec::new();
        Scorer::new(&wm, false).score(&tokens, None, Some(&allowed), Some(&mut filtered));
        let all = reference(&wm, &tokens, None, false, &mut HashSet::new());
        for (i, (&got, &want)) in filtered.iter().zip(&all).enumerate() {
            let kept = i < h || allowed.contains_tuple(&tokens[i - h..i], tokens[i]);
            let want = if kept {
                want
            } else {
                TokenStatus::Skipped(SkipReason::NotInFilter)
            };
            assert_eq!(got, want, "{:?} at {i}", wm.config());
        }
    }
}

/// Everything a detection reports, in a comparable form.
fn summary(d: &Detection) -> (String, Option<Vec<TokenStatus>>) {
    (serde_json::to_string(d).unwrap(), d.per_token.clone())
}

#[test]
fn single_pass_detector_matches_separate_document_and_corpus_scoring() {
    for wm in watermarks() {
        let h = wm.lookback();
        for dedup in [true, false] {
            let options = DetectOptions {
                dedup,
                window: Some(16),
                per_token: true,
                ..DetectOptions::default()
            };
            let mut detector = Detector::new(&wm, options);
            let mut corpus_seen = HashSet::new();
            let mut corpus = Tally::default();
            // Documents repeat one another in part, so corpus dedup differs from document dedup.
            let shared = text(5, 400);
            for d in 0..6u64 {
                let mut doc = text(100 + d, 300 + 200 * d as usize);
                if d % 2 == 1 {
                    doc.extend_from_slice(&shared);
                }
                let prompt = (d % 3 == 0).then(|| text(200 + d, 50));
                let got = detector.detect(&doc, prompt.as_deref());

                let exclude = prompt.as_ref().map(|p| {
                    let mut set = WindowSet::new(h);
                    set.extend_from(p);
                    set
                });
                // Document: its own dedup, with the per-token statuses and window scan.
                let statuses = reference(&wm, &doc, exclude.as_ref(), dedup, &mut HashSet::new());
                let mut alone = Detector::new(&wm, options);
                let want = alone.detect(&doc, prompt.as_deref());
                assert_eq!(summary(&got), summary(&want), "{:?} doc {d}", wm.config());
                assert_eq!(got.per_token.as_deref(), Some(&statuses[..]));
                let tally = tally_of(&statuses);
                assert_eq!(got.test, exact_test(&wm.config().scheme, &tally));
                // Corpus: dedup across every document so far.
                let in_corpus = reference(&wm, &doc, exclude.as_ref(), dedup, &mut corpus_seen);
                corpus.merge(&tally_of(&in_corpus));
            }
            let aggregate = detector.aggregate();
            assert_eq!(aggregate.test, exact_test(&wm.config().scheme, &corpus));
            assert_eq!(
                (
                    aggregate.skipped.prefix,
                    aggregate.skipped.duplicate,
                    aggregate.skipped.prompt
                ),
                (
                    corpus.skipped_prefix,
                    corpus.skipped_duplicate,
                    corpus.skipped_prompt
                ),
                "{:?} dedup={dedup}",
                wm.config()
            );
            assert_eq!(detector.documents(), 6);
        }
    }
}

#[test]
fn the_dedup_set_stays_a_few_bytes_per_tuple() {
    // One large pass and many small ones: the table is 8-byte slots, ⅜ to ¾ full.
    for wm in watermarks() {
        let mut one = Scorer::new(&wm, true);
        one.score(&text(11, 150_000), None, None, None);
        let mut many = Scorer::new(&wm, true);
        for d in 0..150 {
            many.score(&text(1_000 + d, 1_000), None, None, None);
        }
        for scorer in [&one, &many] {
            let seen = scorer.seen();
            let per_tuple = seen.heap_bytes() as f64 / seen.len() as f64;
            // Slots ⅜ to ¾ full, plus the 512 spare slots.
            let bound = 8.0 / 0.375 + 4096.0 / seen.len() as f64;
            assert!(per_tuple <= bound, "{:?}: {per_tuple}", wm.config());
        }
    }
}
