//! Validity under the hard null, by test: over 200 random master keys, a suspect learned
//! from the answers served to two guilty accounts (an n-gram student trained on them, or a
//! republisher that reproduces them verbatim), and phantom accounts (ids never served) must
//! get super-uniform p-values, a family-wise error of the attributed list at most α, and
//! super-uniform set tests. The guilty accounts must be found (power sanity).

use tracemark_attribution::{ColourTable, attribute};
use tracemark_core::{AccountLayer, Key, Watermark, WatermarkConfig};
use tracemark_embed::{Embedder, SamplingParams, generate};
use tracemark_radioactivity::TupleSet;
use tracemark_student::{SpecialTokens, StudentConfig, Trainer};

const V: usize = 1000;
const MASTERS: u64 = 200;
const PHANTOMS: usize = 48;
const ALPHA: f64 = 0.05;

/// A toy model: logits N(0, 2.5²) per (previous token, vocabulary entry), from SplitMix64.
fn toy_logits(previous: u32, out: &mut [f32]) {
    let mut x = u64::from(previous).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF;
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    for pair in out.chunks_mut(2) {
        let (u, v) = (next().max(1e-300), next());
        let r = (-2.0 * u.ln()).sqrt() * 2.5;
        let t = std::f64::consts::TAU * v;
        pair[0] = (r * t.cos()) as f32;
        if pair.len() > 1 {
            pair[1] = (r * t.sin()) as f32;
        }
    }
}

/// Answers served to `account`: `n` sequences of 150 tokens.
fn served(key: &Key, account: &str, seed: u64, n: u64) -> Vec<Vec<u32>> {
    let mut logits = vec![0f32; V];
    (0..n)
        .map(|i| {
            let params = SamplingParams::new(1.0, 0, 1.0, seed * 1000 + i).unwrap();
            let mut e = Embedder::new(Some(key), params)
                .with_account(account)
                .unwrap();
            let mut tokens = vec![(seed % 97) as u32 + 1, i as u32 + 2, 3];
            for _ in 0..150 {
                toy_logits(*tokens.last().unwrap(), &mut logits);
                let t = e.next_token(&tokens, &mut logits);
                tokens.push(t);
            }
            tokens
        })
        .collect()
}

fn one_sided_ks(mut p: Vec<f64>) -> f64 {
    p.sort_by(f64::total_cmp);
    let n = p.len() as f64;
    p.iter()
        .enumerate()
        .map(|(i, &x)| (i + 1) as f64 / n - x)
        .fold(0.0, f64::max)
}

/// How the suspect learned from the guilty accounts' answers.
#[derive(Clone, Copy)]
enum Suspect {
    /// Republishes them verbatim.
    Verbatim,
    /// An order-4 Kneser-Ney student trained on them.
    Student,
}

/// The suspect's text: the guilty answers, or 8 answers of 150 tokens by a student of them
/// (sampled at temperature 0.5, so it reproduces much of what it saw).
fn suspect_text(answers: Vec<Vec<u32>>, how: Suspect, seed: u64) -> Vec<Vec<u32>> {
    let Suspect::Student = how else {
        return answers;
    };
    let specials = SpecialTokens {
        separator: V as u32 - 2,
        end_of_answer: V as u32 - 1,
    };
    let mut trainer = Trainer::new(StudentConfig::new(V, 4, specials).unwrap());
    for a in &answers {
        trainer.add_exchange(&[], a).unwrap();
    }
    let mut student = trainer.finish().unwrap();
    let prompt = student.chat_prompt(&[]);
    (0..8)
        .map(|i| {
            let params = SamplingParams::new(0.5, 0, 1.0, seed * 100 + i).unwrap();
            let mut e = Embedder::new(None, params);
            let mut ids = prompt.clone();
            ids.extend(
                generate(&mut student, &mut e, &prompt, 150, |_| {})
                    .unwrap()
                    .ids,
            );
            ids
        })
        .collect()
}

#[test]
fn phantom_accounts_are_valid_when_a_student_learned_from_other_accounts() {
    check_hard_null(Suspect::Student);
}

#[test]
fn phantom_accounts_are_valid_when_other_accounts_answers_are_republished() {
    check_hard_null(Suspect::Verbatim);
}

fn check_hard_null(how: Suspect) {
    let layer = AccountLayer::new(2, 256, 1.0).unwrap();
    let (mut phantom_p, mut set_p) = (Vec::new(), Vec::new());
    let mut phantom_green = Vec::new();
    let (mut fwer_hits, mut guilty_found, mut guilty_set_strong) = (0, 0, 0);
    for m in 0..MASTERS {
        let key = Key::random(77, m, WatermarkConfig::default())
            .with_accounts(layer)
            .unwrap();
        let wm = Watermark::new(&key);
        let guilty = [format!("harvester-{m}-a"), format!("harvester-{m}-b")];
        let mut answers = Vec::new();
        for (g, account) in guilty.iter().enumerate() {
            answers.extend(served(&key, account, m * 2 + g as u64, 2));
        }
        let mut tuples = TupleSet::new(wm.lookback());
        for ids in suspect_text(answers, how, m) {
            tuples.add_answer(&ids, None, None);
        }
        let table = ColourTable::from_tuples(&wm, &tuples).unwrap();
        phantom_green.push(table.green() as f64 / table.scored() as f64);
        let phantoms: Vec<String> = (0..PHANTOMS).map(|i| format!("phantom-{m}-{i}")).collect();
        let mut accounts = phantoms.clone();
        accounts.extend(guilty.iter().cloned());
        let set = &phantoms[..3];
        let a = attribute(&wm, &table, &accounts, Some(set), ALPHA, 0.7).unwrap();
        phantom_p.extend(
            a.accounts
                .iter()
                .filter(|e| e.account.starts_with("phantom"))
                .map(|e| e.p_value),
        );
        fwer_hits += usize::from(a.attributed.iter().any(|id| id.starts_with("phantom")));
        guilty_found += a
            .attributed
            .iter()
            .filter(|id| id.starts_with("harvester"))
            .count();
        set_p.push(a.set_test.unwrap().p_value);
        let g = attribute(&wm, &table, &accounts, Some(&guilty), ALPHA, 0.7).unwrap();
        guilty_set_strong += usize::from(g.set_test.unwrap().log10_p < -3.0);
    }
    let n = phantom_p.len() as f64;
    // One-sided KS (empirical CDF above the uniform's) at level 1e-3; discrete p-values
    // are conservative, which passes.
    let d = one_sided_ks(phantom_p.clone());
    assert!(
        d < (1000f64.ln() / (2.0 * n)).sqrt(),
        "phantom p-values: D+ = {d}"
    );
    for t in [0.001, 0.01, 0.05, 0.2] {
        let rate = phantom_p.iter().filter(|&&p| p <= t).count() as f64 / n;
        assert!(
            rate <= t + 4.0 * (t * (1.0 - t) / n).sqrt(),
            "P(p ≤ {t}) = {rate}"
        );
    }
    // Family-wise error over 200 masters: at most α, allowing 3 binomial sd.
    let fwer = fwer_hits as f64 / MASTERS as f64;
    assert!(
        fwer <= ALPHA + 3.0 * (ALPHA * (1.0 - ALPHA) / MASTERS as f64).sqrt(),
        "FWER {fwer}"
    );
    let d = one_sided_ks(set_p.clone());
    assert!(
        d < (1000f64.ln() / (2.0 * set_p.len() as f64)).sqrt(),
        "set p-values: D+ = {d}"
    );
    eprintln!(
        "phantoms {n}, FWER {fwer}, guilty attributed {guilty_found} of {}, guilty sets at p < 1e-3: {guilty_set_strong}",
        2 * MASTERS
    );
    // Measured: verbatim 202 of 400 attributed, 187 sets at p < 1e-3; student 134 and 156.
    let (found, strong) = match how {
        Suspect::Verbatim => (MASTERS * 3 / 4, MASTERS * 4 / 5),
        Suspect::Student => (MASTERS / 2, MASTERS * 3 / 5),
    };
    assert!(
        guilty_found as u64 > found,
        "power: {guilty_found} guilty accounts attributed"
    );
    assert!(
        guilty_set_strong as u64 > strong,
        "power: {guilty_set_strong} guilty sets"
    );
}
