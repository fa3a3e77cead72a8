//! The account layer of a master key: exactly which logits get which bias, and that answers
//! served to an account favour its colours while keeping the provider-wide green signal.

mod common;

use common::{gaussian_logits, key, kgw};
use tracemark_core::{AccountLayer, Key, SeedingKind, TokenScore, Watermark};
use tracemark_embed::{DEFAULT_SELFHASH_CANDIDATES, Embedder, KgwBias, SamplingParams};

const V: usize = 1000;

fn master(seed: u8, seeding: SeedingKind, h: usize, account_delta: f64) -> Key {
    key(seed, kgw(0.25, 2.0), seeding, h)
        .with_accounts(AccountLayer::new(2, 64, account_delta).unwrap())
        .unwrap()
}

#[test]
fn each_green_token_gets_delta_on_the_accounts_colour_and_less_off_it() {
    for (seeding, h) in [
        (SeedingKind::LeftHash, 1),
        (SeedingKind::MinHash, 2),
        (SeedingKind::SelfHash, 2),
    ] {
        let key = master(11, seeding, h, 1.5);
        let wm = Watermark::new(&key);
        let layer = *wm.accounts().unwrap();
        let code = wm.account_code("acct-7").unwrap();
        let context = [4, 8, 15];
        let window = wm.window(&context).unwrap();
        let original = gaussian_logits(99, V, 3.0);
        let mut logits = original.clone();
        let stats = KgwBias::new().apply_for_account(&wm, &code, &context, &mut logits, V);
        let (mut on, mut off) = (0, 0);
        for t in 0..V as u32 {
            let word = wm.tuple_seed(window, t).word(t);
            let expected = if wm.score_word(word) == TokenScore::Green(true) {
                let (digit, colour) = layer.slot(word);
                if code.colour(digit) == colour {
                    on += 1;
                    2.0
                } else {
                    off += 1;
                    0.5
                }
            } else {
                0.0
            };
            let got = logits[t as usize] - original[t as usize];
            assert!(
                (got - expected).abs() < 1e-5,
                "{seeding:?} token {t}: {got} vs {expected}"
            );
        }
        assert_eq!(stats.green, on + off);
        assert!(on > 50 && off > 50, "{on} {off}");
    }
}

#[test]
fn an_account_needs_a_master_key() {
    let params = SamplingParams::new(0.7, 0, 0.95, 1).unwrap();
    let plain = key(3, kgw(0.25, 2.0), SeedingKind::SelfHash, 3);
    assert!(
        Embedder::new(Some(&plain), params)
            .with_account("a")
            .is_err()
    );
    assert!(Embedder::new(None, params).with_account("a").is_err());
    let m = master(3, SeedingKind::SelfHash, 3, 2.0);
    assert_eq!(
        Embedder::new(Some(&m), params)
            .with_account("a")
            .unwrap()
            .account(),
        Some("a")
    );
}

/// Green rate and account-colour rate (among green tuples) of 4 × 150 generated tokens.
fn rates(key: &Key, account: Option<&str>, scored_as: &str) -> (f64, f64) {
    let wm = Watermark::new(key);
    let layer = *wm.accounts().unwrap();
    let code = wm.account_code(scored_as).unwrap();
    let (mut scored, mut green, mut matching) = (0, 0, 0);
    for seed in 0..4 {
        let params = SamplingParams::new(1.0, 0, 1.0, seed).unwrap();
        let mut embedder =
            Embedder::new(Some(key), params).with_selfhash_candidates(DEFAULT_SELFHASH_CANDIDATES);
        if let Some(a) = account {
            embedder = embedder.with_account(a).unwrap();
        }
        let mut tokens = vec![1, 2, 3];
        for _ in 0..150 {
            let mut logits = gaussian_logits(u64::from(*tokens.last().unwrap()) + 7, V, 3.0);
            let next = embedder.next_token(&tokens, &mut logits);
            let word = wm.tuple_seed(wm.window(&tokens).unwrap(), next).word(next);
            tokens.push(next);
            scored += 1;
            if wm.score_word(word) == TokenScore::Green(true) {
                green += 1;
                let (digit, colour) = layer.slot(word);
                matching += usize::from(code.colour(digit) == colour);
            }
        }
    }
    (green as f64 / scored as f64, matching as f64 / green as f64)
}

#[test]
fn answers_favour_their_accounts_colours_and_stay_green() {
    let key = master(21, SeedingKind::SelfHash, 3, 1.0);
    let (green, own) = rates(&key, Some("harvester"), "harvester");
    let (_, other) = rates(&key, Some("harvester"), "someone-else");
    let (plain_green, plain_own) = rates(&key, None, "harvester");
    // 600 tokens: sd of a rate ≈ 0.02; of a colour rate among ~400 green ≈ 0.025.
    // Measured: green 0.56 (0.59 without an account), own colour 0.67.
    assert!(green > 0.45, "green rate with an account {green}");
    assert!(plain_green < green + 0.1, "{plain_green} {green}");
    assert!(own > 0.6, "own colour rate {own}");
    assert!(
        (other - 0.5).abs() < 0.12,
        "another account's colour rate {other}"
    );
    assert!(
        (plain_own - 0.5).abs() < 0.12,
        "without an account {plain_own}"
    );
}
