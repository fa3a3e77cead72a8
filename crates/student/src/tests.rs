//! The student's contract: Kneser-Ney probabilities, the `LanguageModel` behaviour, and the
//! file format.

use tracemark_model::{LanguageModel, ModelError, argmax};

use crate::{KneserNey, SpecialTokens, StudentConfig, StudentError, Trainer};

const SPECIALS: SpecialTokens = SpecialTokens {
    separator: 1,
    end_of_answer: 2,
};

fn trainer(vocab_size: usize, order: usize) -> Trainer {
    Trainer::new(StudentConfig::new(vocab_size, order, SPECIALS).unwrap())
}

/// A small deterministic generator (xorshift64*), so the tests need no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Tokens from a skewed distribution, so that some n-grams repeat.
    fn token(&mut self, vocab_size: u64) -> u32 {
        let a = self.below(vocab_size);
        let b = self.below(vocab_size);
        a.min(b) as u32
    }
}

/// A random corpus of `sequences` sequences over tokens `0..used` (out of `vocab_size`).
fn random_model(
    seed: u64,
    vocab_size: usize,
    used: u64,
    order: usize,
    sequences: usize,
) -> KneserNey {
    let mut rng = Rng(seed);
    let mut t = trainer(vocab_size, order);
    for _ in 0..sequences {
        let len = 1 + rng.below(40) as usize;
        let ids: Vec<u32> = (0..len).map(|_| rng.token(used)).collect();
        if rng.below(2) == 0 {
            t.add_sequence(&ids).unwrap();
        } else {
            let split = rng.below(len as u64) as usize;
            t.add_exchange(&ids[..split], &ids[split..]).unwrap();
        }
    }
    t.finish().unwrap()
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-12, "{what}: {a} vs {b}");
}

#[test]
fn kneser_ney_on_a_tiny_corpus_matches_hand_computation() {
    // One sequence 0 1 0 1 0 2 over a vocabulary of 5, order 2.
    let mut t = trainer(5, 2);
    t.add_sequence(&[0, 1, 0, 1, 0, 2]).unwrap();
    let m = t.finish().unwrap();
    assert_eq!(m.ngram_counts(), vec![3, 3]);

    // Bigrams (raw counts): 0→1 ×2, 1→0 ×2, 0→2 ×1. Count-of-counts [1, 2, 0, 0] lack n3
    // and n4, so plain KN: D = 1 / (1 + 2·2) = 0.2 for every count.
    // Unigrams (continuation counts): 0 follows {1} and starts the sequence → 2;
    // 1 follows {0} → 1; 2 follows {0} → 1. Count-of-counts [2, 1, 0, 0]: D = 2 / 4 = 0.5.
    let d = m.discounts();
    assert_close(d[1][0], 0.2, "bigram D");
    assert_close(d[0][0], 0.5, "unigram D");

    // Unigram level: total 4, γ = 0.5·3/4 = 0.375, base 0.375/5 = 0.075.
    //   P(0) = 1.5/4 + 0.075 = 0.45, P(1) = P(2) = 0.5/4 + 0.075 = 0.2, P(3) = P(4) = 0.075.
    let uni = [0.45, 0.2, 0.2, 0.075, 0.075];
    for (w, (&p, &e)) in m.probabilities(&[]).unwrap().iter().zip(&uni).enumerate() {
        assert_close(p, e, &format!("P({w})"));
    }
    // After 0: total 3, γ = 0.2·2/3.
    //   P(1|0) = 1.8/3 + γ·0.2 = 0.6 + 0.02667 = 0.62667, P(2|0) = 0.8/3 + γ·0.2 = 0.29333,
    //   P(0|0) = γ·0.45 = 0.06, P(3|0) = P(4|0) = γ·0.075 = 0.01.
    let g = 0.2 * 2.0 / 3.0;
    let after0 = [
        g * 0.45,
        0.6 + g * 0.2,
        0.8 / 3.0 + g * 0.2,
        g * 0.075,
        g * 0.075,
    ];
    for (w, (&p, &e)) in m
        .probabilities(&[0])
        .unwrap()
        .iter()
        .zip(&after0)
        .enumerate()
    {
        assert_close(p, e, &format!("P({w}|0)"));
    }
    assert_close(after0.iter().sum(), 1.0, "hand-computed row");
    // 2 ends the sequence (no successors) and 3 was never seen: both back off to unigrams.
    for ctx in [2, 3] {
        assert_eq!(
            m.probabilities(&[ctx]).unwrap(),
            m.probabilities(&[]).unwrap()
        );
    }
}

#[test]
fn probabilities_sum_to_one_and_every_logit_is_finite() {
    for (seed, order) in [(1, 1), (2, 2), (3, 3), (4, 4), (5, 6)] {
        let mut m = random_model(seed, 300, 60, order, 200);
        let mut rng = Rng(seed + 100);
        for len in [0, 1, 2, 3, 5, 9] {
            // Seen tokens, and unseen ones (60..300).
            let ctx: Vec<u32> = (0..len)
                .map(|i| {
                    if i % 4 == 3 {
                        60 + rng.below(240) as u32
                    } else {
                        rng.token(60)
                    }
                })
                .collect();
            let p = m.probabilities(&ctx).unwrap();
            let sum: f64 = p.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-9,
                "order {order} ctx {ctx:?}: sum {sum}"
            );
            assert!(p.iter().all(|&x| x > 0.0));
            if !ctx.is_empty() {
                let logits = m.start(&ctx).unwrap();
                assert!(logits.iter().all(|l| l.is_finite()));
                let sum: f64 = logits.iter().map(|&l| f64::from(l).exp()).sum();
                assert!((sum - 1.0).abs() < 1e-6, "logits of {ctx:?}: sum {sum}");
            }
        }
    }
}

#[test]
fn unseen_contexts_back_off_to_lower_orders() {
    // Order 3. "5 6" and "7 6" are seen, "9 6" never; 6 is always followed by 8.
    let mut t = trainer(20, 3);
    t.add_sequence(&[5, 6, 8, 3]).unwrap();
    t.add_sequence(&[7, 6, 8, 4]).unwrap();
    let m = t.finish().unwrap();
    let bigram = m.probabilities(&[6]).unwrap();
    // The trigram context "9 6" is unseen: exactly the bigram distribution after 6.
    assert_eq!(m.probabilities(&[9, 6]).unwrap(), bigram);
    assert_eq!(
        argmax(&bigram.iter().map(|&p| p as f32).collect::<Vec<_>>()),
        8
    );
    // A seen trigram context differs from its back-off.
    assert_ne!(m.probabilities(&[5, 6]).unwrap(), bigram);
    // Unseen all the way down: the unigram distribution, which gives unseen tokens the
    // same nonzero probability.
    let uni = m.probabilities(&[]).unwrap();
    assert_eq!(m.probabilities(&[19, 18]).unwrap(), uni);
    assert!(uni[10] > 0.0 && uni[10] == uni[19]);
}

#[test]
fn a_repeated_answer_is_reproduced_greedily_and_stops() {
    let answer: Vec<u32> = vec![40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50];
    let mut t = trainer(1000, 4);
    for _ in 0..20 {
        t.add_exchange(&[10, 11, 12], &answer).unwrap();
    }
    let mut m = t.finish().unwrap();
    assert_eq!(m.eog_tokens(), &[2]);
    let mut out = Vec::new();
    let mut next = argmax(m.start(&m.chat_prompt(&[10, 11, 12])).unwrap());
    while !m.is_eog(next) && out.len() < 50 {
        out.push(next);
        next = argmax(m.step(next).unwrap());
    }
    assert_eq!(out, answer);
}

#[test]
fn answers_are_conditioned_on_the_prompt() {
    let mut t = trainer(100, 4);
    for _ in 0..5 {
        t.add_exchange(&[10, 11], &[30, 31, 32]).unwrap();
        t.add_exchange(&[20, 21], &[40, 41, 42]).unwrap();
    }
    let mut m = t.finish().unwrap();
    for (prompt, answer) in [([10, 11], [30, 31, 32]), ([20, 21], [40, 41, 42])] {
        let ids = m.chat_prompt(&prompt);
        assert_eq!(ids, [prompt[0], prompt[1], 1]);
        let mut input = ids.clone();
        input.extend_from_slice(&answer);
        let top = m.top1_all(&input).unwrap();
        // After the separator and each answer token: the next answer token, then the end.
        assert_eq!(&top[2..], &[answer[0], answer[1], answer[2], 2]);
    }
}

#[test]
fn top1_all_equals_the_argmax_of_score_all() {
    let mut checked = 0;
    for seed in 0..40u64 {
        let order = 1 + (seed % 5) as usize;
        // Tiny vocabularies make ties common; `used < vocab` leaves unseen tokens.
        let (vocab, used) = [(6, 6), (10, 7), (30, 12), (200, 150)][(seed % 4) as usize];
        let mut m = random_model(seed + 7, vocab, used, order, 1 + (seed as usize * 7) % 60);
        let mut rng = Rng(seed + 1000);
        for _ in 0..5 {
            let len = 1 + rng.below(30) as usize;
            let tokens: Vec<u32> = (0..len).map(|_| rng.below(vocab as u64) as u32).collect();
            let dense: Vec<u32> = m.score_all(&tokens).unwrap().rows().map(argmax).collect();
            assert_eq!(
                m.top1_all(&tokens).unwrap(),
                dense,
                "seed {seed} tokens {tokens:?}"
            );
            checked += len;
        }
    }
    assert!(checked > 500);
}

#[test]
fn top1_all_breaks_ties_by_lowest_id() {
    // Every token seen once, each in its own sequence: a flat unigram distribution over the
    // seen tokens, so the argmax is the lowest seen id (3), not an unseen one.
    let mut t = trainer(10, 2);
    for w in [7, 3, 5] {
        t.add_sequence(&[w]).unwrap();
    }
    let mut m = t.finish().unwrap();
    assert_eq!(argmax(m.start(&[9]).unwrap()), 3);
    assert_eq!(m.top1_all(&[9, 8]).unwrap(), vec![3, 3]);
}

#[test]
fn step_score_all_and_errors_follow_the_trait_contract() {
    let mut m = random_model(11, 50, 40, 3, 50);
    assert!(matches!(m.step(3), Err(ModelError::NotStarted)));
    assert!(matches!(m.start(&[]), Err(ModelError::EmptyInput)));
    assert!(matches!(m.score_all(&[]), Err(ModelError::EmptyInput)));
    assert!(matches!(m.top1_all(&[]), Err(ModelError::EmptyInput)));
    assert!(matches!(
        m.start(&[1, 50]),
        Err(ModelError::TokenOutOfRange {
            token: 50,
            vocab_size: 50
        })
    ));
    let tokens = [4, 9, 9, 17, 3, 0, 22];
    let rows = m.score_all(&tokens).unwrap();
    assert_eq!(rows.len(), tokens.len());
    // start + step reproduce the rows, and step continues after score_all.
    let mut stepped = m.start(&tokens[..1]).unwrap().to_vec();
    assert_eq!(stepped, rows.row(0));
    for (i, &t) in tokens.iter().enumerate().skip(1) {
        stepped = m.step(t).unwrap().to_vec();
        assert_eq!(stepped, rows.row(i), "row {i}");
    }
    m.score_all(&tokens[..3]).unwrap();
    assert_eq!(m.step(tokens[3]).unwrap(), rows.row(3));
    m.top1_all(&tokens[..4]).unwrap();
    assert_eq!(m.step(tokens[4]).unwrap(), rows.row(4));
    assert!(matches!(
        m.step(99),
        Err(ModelError::TokenOutOfRange { .. })
    ));
    assert_eq!(m.context_length(), None);
    assert_eq!(m.vocab_size(), 50);
    assert!(
        m.describe().starts_with("kn3 student (n-gram, "),
        "{}",
        m.describe()
    );
}

#[test]
fn describe_counts_training_tokens() {
    let mut t = trainer(2000, 4);
    t.add_sequence(&(0..1500).collect::<Vec<_>>()).unwrap();
    assert_eq!(t.tokens(), 1500);
    let m = t.finish().unwrap();
    assert_eq!(m.describe(), "kn4 student (n-gram, 1,500 training tokens)");
}

#[test]
fn configuration_and_training_errors() {
    assert!(matches!(
        StudentConfig::new(100, 0, SPECIALS),
        Err(StudentError::Order { order: 0, .. })
    ));
    assert!(StudentConfig::new(100, 11, SPECIALS).is_err());
    assert!(matches!(
        StudentConfig::new(0, 3, SPECIALS),
        Err(StudentError::VocabSize(0))
    ));
    let far = SpecialTokens {
        separator: 1,
        end_of_answer: 100,
    };
    let err = StudentConfig::new(100, 3, far).unwrap_err().to_string();
    assert!(
        err.contains("end of answer") && err.contains("100"),
        "{err}"
    );

    let mut t = trainer(10, 3);
    assert_eq!(
        t.add_sequence(&[1, 10]),
        Err(StudentError::TokenOutOfRange {
            token: 10,
            vocab_size: 10
        })
    );
    assert_eq!(t.tokens(), 0, "a rejected sequence adds nothing");
    t.add_sequence(&[]).unwrap();
    assert_eq!(
        t.clone().finish().unwrap_err(),
        StudentError::NoTrainingData
    );
    t.add_exchange(&[], &[]).unwrap();
    assert_eq!(
        (t.tokens(), t.sequences()),
        (2, 1),
        "separator and end of answer"
    );
    t.finish().unwrap();
}

#[test]
fn files_round_trip_exactly() {
    for (seed, order) in [(21, 1), (22, 3), (23, 4), (24, 5)] {
        let mut m = random_model(seed, 120, 100, order, 80);
        let bytes = m.to_bytes();
        assert_eq!(&bytes[..8], b"TMSTUDNT");
        let mut back = KneserNey::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(
            (
                back.order(),
                back.specials(),
                back.training_tokens(),
                back.sequences()
            ),
            (m.order(), m.specials(), m.training_tokens(), m.sequences())
        );
        assert_eq!(back.ngram_counts(), m.ngram_counts());
        assert_eq!(back.discounts(), m.discounts());
        let tokens = [5, 1, 99, 7, 7, 2, 0, 119];
        assert_eq!(
            back.score_all(&tokens).unwrap(),
            m.score_all(&tokens).unwrap()
        );
        assert_eq!(
            back.top1_all(&tokens).unwrap(),
            m.top1_all(&tokens).unwrap()
        );
    }
}

/// Replaces the payload checksum so that a deliberately altered payload passes it.
fn rehash(bytes: &mut [u8]) {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(&bytes[52..]);
    bytes[20..52].copy_from_slice(&digest);
}

#[test]
fn bad_files_are_one_line_errors() {
    let m = random_model(31, 64, 64, 3, 30);
    let good = m.to_bytes();
    let err = |bytes: &[u8]| {
        let e = KneserNey::from_bytes(bytes).unwrap_err();
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        (e, msg)
    };

    // Foreign files.
    for foreign in [
        &b""[..],
        b"GGUF\x03\0\0\0 and more",
        b"{\"text\": \"hello\"}\n",
        b"TMS",
    ] {
        let (e, _) = err(foreign);
        if foreign == b"TMS" {
            assert!(matches!(e, StudentError::Corrupt(_)), "{e}");
        } else {
            assert_eq!(e, StudentError::NotAStudent);
        }
    }
    assert_eq!(
        err(&good[..0]).1,
        "not a tracemark student file (wrong magic bytes)"
    );

    // Another format version.
    let mut v2 = good.clone();
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let (e, msg) = err(&v2);
    assert_eq!(
        e,
        StudentError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert!(
        msg.contains("version 2") && msg.contains("version 1"),
        "{msg}"
    );

    // Truncated anywhere, or extended.
    for cut in [9, 30, 52, 60, good.len() / 2, good.len() - 1] {
        let (e, msg) = err(&good[..cut]);
        assert!(matches!(e, StudentError::Corrupt(_)), "cut at {cut}: {msg}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(err(&longer).1.contains("after the payload"));

    // Any flipped payload byte breaks the checksum.
    for at in [52, 60, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        let (_, msg) = err(&bad);
        assert!(msg.contains("checksum mismatch"), "byte {at}: {msg}");
    }

    // A crafted payload with a valid checksum is still checked: order 1 token table.
    let mut crafted = good.clone();
    // Payload: vocab u64, order/sep/eoa u32, tokens u64, sequences u64, then per order
    // (count u64, 3 f64): 3 orders × 32 bytes, then order 1's tokens.
    let first_token = 52 + 8 + 12 + 16 + 3 * 32;
    crafted[first_token..first_token + 4].copy_from_slice(&1000u32.to_le_bytes());
    rehash(&mut crafted);
    let (_, msg) = err(&crafted);
    assert!(msg.contains("outside the vocabulary"), "{msg}");
    // A lying table size (order 1's n-gram count).
    let mut crafted = good.clone();
    crafted[52 + 36..52 + 44].copy_from_slice(&u64::MAX.to_le_bytes());
    rehash(&mut crafted);
    assert!(err(&crafted).1.contains("end early"));

    // Random bytes with the right header never panic.
    let mut rng = Rng(5);
    for len in [52, 53, 100, 1000] {
        let mut junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        junk[..8].copy_from_slice(b"TMSTUDNT");
        junk[8..12].copy_from_slice(&1u32.to_le_bytes());
        junk[12..20].copy_from_slice(&((len - 52) as u64).to_le_bytes());
        rehash(&mut junk);
        assert!(matches!(err(&junk).0, StudentError::Corrupt(_)));
    }
}
