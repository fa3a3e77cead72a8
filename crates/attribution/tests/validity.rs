//! Validity under the hard null, by test: over 200 random master keys, a suspect learned
//! from the answers served to two guilty accounts (an n-gram student trained on them, or a
//! republisher that reproduces them verbatim), and phantom accounts (ids never served) must
//! get super-uniform p-values, a family-wise error of the attributed list at most α, and
//! super-uniform set tests. The guilty accounts must be found (power sanity).

use tracemark_attribution::{Attribution, ColourTable, attribute};
use tracemark_core::{AccountLayer, Key, Watermark, WatermarkConfig};
use tracemark_embed::{Embedder, SamplingParams, generate};
use tracemark_radioactivity::{TupleSet, read_with_model};
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
    toy_answers(Some((key, account)), seed, n)
}

/// `n` toy answers of 150 tokens, watermarked for an account or (`None`) not at all.
fn toy_answers(served_to: Option<(&Key, &str)>, seed: u64, n: u64) -> Vec<Vec<u32>> {
    let mut logits = vec![0f32; V];
    (0..n)
        .map(|i| {
            let params = SamplingParams::new(1.0, 0, 1.0, seed * 1000 + i).unwrap();
            let mut e = match served_to {
                Some((key, account)) => Embedder::new(Some(key), params)
                    .with_account(account)
                    .unwrap(),
                None => Embedder::new(None, params),
            };
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

/// What one validity test gathers over its masters.
#[derive(Default)]
struct Tally {
    /// p-values of accounts under the null (phantom or innocent).
    null_p: Vec<f64>,
    /// p-values of set tests of null accounts.
    set_p: Vec<f64>,
    /// Families (attributions) and those that attributed a null account.
    families: u64,
    false_attributions: u64,
    /// Guilty accounts attributed, and guilty sets at p < 1e-3.
    guilty_found: u64,
    guilty_sets_strong: u64,
}

impl Tally {
    /// Files one attribution whose null accounts are those of `is_null`, and whose set test
    /// (if any) is of null accounts; guilty accounts are those it attributes otherwise.
    fn record(&mut self, a: &Attribution, is_null: impl Fn(&str) -> bool) {
        self.null_p.extend(
            a.accounts
                .iter()
                .filter(|e| is_null(&e.account))
                .map(|e| e.p_value),
        );
        self.families += 1;
        self.false_attributions += u64::from(a.attributed.iter().any(|id| is_null(id)));
        self.guilty_found += a.attributed.iter().filter(|id| !is_null(id)).count() as u64;
        self.set_p.extend(a.set_test.as_ref().map(|t| t.p_value));
    }

    /// Files the set test of the guilty accounts.
    fn record_guilty_set(&mut self, a: &Attribution) {
        self.guilty_sets_strong += u64::from(a.set_test.as_ref().unwrap().log10_p < -3.0);
    }

    /// Null p-values super-uniform (one-sided KS at level 1e-3, and at four levels; discrete
    /// p-values are conservative, which passes), family-wise error at most α allowing 3
    /// binomial sd, set tests super-uniform.
    fn check_validity(&self) {
        assert_super_uniform("null account", &self.null_p);
        let n = self.null_p.len() as f64;
        for t in [0.001, 0.01, 0.05, 0.2] {
            let rate = self.null_p.iter().filter(|&&p| p <= t).count() as f64 / n;
            assert!(
                rate <= t + 4.0 * (t * (1.0 - t) / n).sqrt(),
                "P(p ≤ {t}) = {rate}"
            );
        }
        let families = self.families as f64;
        let fwer = self.false_attributions as f64 / families;
        assert!(
            fwer <= ALPHA + 3.0 * (ALPHA * (1.0 - ALPHA) / families).sqrt(),
            "FWER {fwer}"
        );
        assert_super_uniform("set", &self.set_p);
        eprintln!(
            "null accounts {n}, FWER {fwer} over {families} families, guilty attributed {}, \
             guilty sets at p < 1e-3: {}",
            self.guilty_found, self.guilty_sets_strong
        );
    }
}

/// One-sided KS of `p` against the uniform at level 1e-3.
fn assert_super_uniform(what: &str, p: &[f64]) {
    let d = one_sided_ks(p.to_vec());
    assert!(
        d < (1000f64.ln() / (2.0 * p.len() as f64)).sqrt(),
        "{what} p-values: D+ = {d}"
    );
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
    let mut tally = Tally::default();
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
        let phantoms: Vec<String> = (0..PHANTOMS).map(|i| format!("phantom-{m}-{i}")).collect();
        let mut accounts = phantoms.clone();
        accounts.extend(guilty.iter().cloned());
        let set = &phantoms[..3];
        let a = attribute(&wm, &table, &accounts, Some(set), ALPHA, 0.7).unwrap();
        tally.record(&a, |id| id.starts_with("phantom"));
        let g = attribute(&wm, &table, &accounts, Some(&guilty), ALPHA, 0.7).unwrap();
        tally.record_guilty_set(&g);
    }
    tally.check_validity();
    // Measured: verbatim 202 of 400 attributed, 187 sets at p < 1e-3; student 134 and 156.
    let (found, strong) = match how {
        Suspect::Verbatim => (MASTERS * 3 / 4, MASTERS * 4 / 5),
        Suspect::Student => (MASTERS / 2, MASTERS * 3 / 5),
    };
    assert!(
        tally.guilty_found > found,
        "power: {} guilty accounts attributed",
        tally.guilty_found
    );
    assert!(
        tally.guilty_sets_strong > strong,
        "power: {} guilty sets",
        tally.guilty_sets_strong
    );
}

/// Open weights: over 200 random masters (LeftHash h = 1, so accounts' answers share most
/// windows), a student trained on two guilty accounts' answers reads each of 18 accounts'
/// own answers. The 16 innocent accounts, whose answers the student never saw but whose
/// windows it learned from the guilty ones, must get super-uniform p-values, a family-wise
/// error of the attributed list at most α, and super-uniform set tests; the guilty accounts
/// must be found. A clean student (trained on unwatermarked answers of the same toy model,
/// so it often predicts the served token) reads them all, and all 18 must be valid.
#[test]
fn innocent_accounts_are_valid_when_an_open_student_reads_their_answers() {
    use tracemark_attribution::{AccountTable, attribute_readings, phantom_readings};
    use tracemark_core::{Delta, Gamma, Scheme, Seeding, SeedingKind};
    const INNOCENT: usize = 16;
    let config = WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(2.0).unwrap(),
        },
        seeding: Seeding::new(SeedingKind::LeftHash, 1).unwrap(),
    };
    let layer = AccountLayer::new(2, 256, 1.0).unwrap();
    let (mut tally, mut phantom_p) = (Tally::default(), Vec::new());
    for m in 0..MASTERS {
        let key = Key::random(91, m, config).with_accounts(layer).unwrap();
        let wm = Watermark::new(&key);
        let accounts: Vec<String> = (0..2)
            .map(|g| format!("harvester-{m}-{g}"))
            .chain((0..INNOCENT).map(|i| format!("innocent-{m}-{i}")))
            .collect();
        let served_to: Vec<Vec<Vec<u32>>> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| served(&key, a, m * 100 + i as u64, 2))
            .collect();
        let train = |answers: &[Vec<u32>]| {
            let specials = SpecialTokens {
                separator: V as u32 - 2,
                end_of_answer: V as u32 - 1,
            };
            let mut trainer = Trainer::new(StudentConfig::new(V, 4, specials).unwrap());
            for answer in answers {
                trainer.add_exchange(&[], answer).unwrap();
            }
            trainer.finish().unwrap()
        };
        let read = |student: &mut tracemark_student::KneserNey| -> Vec<AccountTable> {
            accounts
                .iter()
                .zip(&served_to)
                .map(|(a, answers)| {
                    let mut tuples = TupleSet::new(wm.lookback());
                    for ids in answers {
                        read_with_model(student, ids, &mut tuples, None).unwrap();
                    }
                    AccountTable {
                        account: a.clone(),
                        answers_read: answers.len() as u64,
                        table: ColourTable::tally(&wm, &tuples).unwrap(),
                    }
                })
                .collect()
        };
        let mut clean = train(&toy_answers(None, m * 100 + 99, 4));
        let c = attribute_readings(&wm, &read(&mut clean), &accounts, None, ALPHA, 0.7).unwrap();
        // Every account is innocent of the clean student.
        tally.record(&c, |_| true);
        let guilty_answers: Vec<Vec<u32>> = served_to[..2].iter().flatten().cloned().collect();
        let readings = read(&mut train(&guilty_answers));
        let set = &accounts[2..5];
        let a = attribute_readings(&wm, &readings, &accounts, Some(set), ALPHA, 0.7).unwrap();
        tally.record(&a, |id| id.starts_with("innocent"));
        let g = attribute_readings(&wm, &readings, &accounts, Some(&accounts[..2]), ALPHA, 0.7)
            .unwrap();
        tally.record_guilty_set(&g);
        let phantoms: Vec<String> = (0..8).map(|i| format!("phantom-{m}-{i}")).collect();
        phantom_p.extend(
            phantom_readings(&wm, &readings, &phantoms)
                .unwrap()
                .into_iter()
                .map(|lp| 10f64.powf(lp)),
        );
    }
    tally.check_validity();
    assert_super_uniform("phantom", &phantom_p);
    assert!(
        tally.guilty_found > MASTERS,
        "power: {} guilty accounts attributed",
        tally.guilty_found
    );
    assert!(
        tally.guilty_sets_strong > MASTERS * 4 / 5,
        "power: {} guilty sets",
        tally.guilty_sets_strong
    );
}
