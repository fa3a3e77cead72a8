//! Real-model detection power: answers that SmolLM2 writes under a key are detected from
//! their re-tokenized text alone; answers written without the key are not. Also the quality
//! guard: Gumbel leaves the answers' likelihood unchanged, and KGW distorts sampling no more
//! than its a-priori bound allows.

mod common;

use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::{DetectOptions, Detector};
use tracemark_embed::{DEFAULT_SELFHASH_CANDIDATES, Embedder, KgwBias, SamplingParams};
use tracemark_io::TextTokenizer;
use tracemark_model::{LanguageModel, Logits};
use tracemark_workflow::Answer;

/// Sampling settings of every answer (the CLI's defaults).
const TEMPERATURE: f32 = 0.7;
const TOP_P: f32 = 0.95;

/// The logits at every position of prompt + answer, by teacher forcing; row `start + j`
/// with `start = prompt_len − 1` predicts answer token `j`.
fn teacher_force(model: &mut dyn LanguageModel, answer: &Answer) -> Logits {
    let mut seq = answer.prompt_ids.clone();
    seq.extend(&answer.generation.ids);
    model.score_all(&seq).unwrap()
}

/// `ln Σ exp(x_i / t)`, in f64.
fn log_sum_exp(xs: &[f32], t: f64) -> f64 {
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64 / t;
    max + xs
        .iter()
        .map(|&x| (x as f64 / t - max).exp())
        .sum::<f64>()
        .ln()
}

/// Per-token negative log-likelihood of the answer under the (unwatermarked) model, at
/// temperature 1.
fn answer_nll(rows: &Logits, answer: &Answer) -> Vec<f64> {
    let start = answer.prompt_ids.len() - 1;
    (answer.generation.ids.iter().enumerate())
        .map(|(j, &t)| {
            let row = rows.row(start + j);
            log_sum_exp(row, 1.0) - row[t as usize] as f64
        })
        .collect()
}

/// Per-token log-likelihood ratio `ln q_T(x) − ln p_T(x)` of a KGW answer: `p_T` is the
/// model's distribution at the sampling temperature T, `q_T` the same after the key's
/// bias (recomputed with the embedder's own [`KgwBias`], so exactly the green set it used).
fn kgw_log_ratio(rows: &Logits, answer: &Answer, wm: &Watermark) -> Vec<f64> {
    let t = f64::from(TEMPERATURE);
    let start = answer.prompt_ids.len() - 1;
    let mut context = answer.prompt_ids.clone();
    let mut bias = KgwBias::new();
    let mut biased = Vec::new();
    let mut out = Vec::new();
    for (j, &x) in answer.generation.ids.iter().enumerate() {
        let row = rows.row(start + j);
        biased.clear();
        biased.extend_from_slice(row);
        bias.apply(wm, &context, &mut biased, DEFAULT_SELFHASH_CANDIDATES);
        let x = x as usize;
        let ln_q = biased[x] as f64 / t - log_sum_exp(&biased, t);
        let ln_p = row[x] as f64 / t - log_sum_exp(row, t);
        out.push(ln_q - ln_p);
        context.push(x as u32);
    }
    out
}

fn mean_and_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (
        mean,
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

const PROMPTS: [&str; 5] = [
    "Write a detailed letter to a friend describing your last holiday by the sea.",
    "Explain in detail how a bicycle works, part by part.",
    "Write a long story about a cat who learns to cook.",
    "Give detailed advice to a student preparing for their first job interview.",
    "Describe the water cycle in detail for a school science class.",
];

fn kgw(kind: SeedingKind, h: usize) -> WatermarkConfig {
    WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(2.0).unwrap(),
        },
        seeding: Seeding::new(kind, h).unwrap(),
    }
}

#[test]
fn watermarked_answers_are_detected_from_text_and_plain_ones_are_not() {
    let tokenizer = TextTokenizer::load(&common::model_path()).unwrap();
    let mut chat = common::chat();
    let configs = [
        kgw(SeedingKind::LeftHash, 1),
        kgw(SeedingKind::SelfHash, 3),
        WatermarkConfig {
            scheme: Scheme::Gumbel,
            seeding: Seeding::new(SeedingKind::LeftHash, 2).unwrap(),
        },
    ];
    for (c, config) in configs.into_iter().enumerate() {
        let key = Key::from_secret([c as u8 + 1; 32], config);
        let wm = Watermark::new(&key);
        let (mut marked, mut plain) = (Vec::new(), Vec::new());
        let (mut nll_marked, mut nll_plain) = (Vec::new(), Vec::new());
        let mut log_ratio = Vec::new();
        for (i, prompt) in PROMPTS.iter().enumerate() {
            for (with_key, out) in [(true, &mut marked), (false, &mut plain)] {
                let params = SamplingParams::new(TEMPERATURE, 0, TOP_P, 100 + i as u64).unwrap();
                let mut embedder = Embedder::new(with_key.then_some(&key), params);
                let answer = chat.answer(&mut embedder, prompt, 200, |_| {}).unwrap();
                let rows = teacher_force(chat.model(), &answer);
                let nll = answer_nll(&rows, &answer);
                if with_key && matches!(config.scheme, Scheme::Kgw { .. }) {
                    log_ratio.extend(kgw_log_ratio(&rows, &answer, &wm));
                }
                if with_key {
                    nll_marked.extend(nll)
                } else {
                    nll_plain.extend(nll)
                }
                let ids = tokenizer.encode(&answer.text).unwrap().ids;
                let d = Detector::new(&wm, DetectOptions::default()).detect(&ids, None);
                eprintln!(
                    "{} {} prompt {i}: {} tokens, {} scored, log10 p = {:.1}",
                    config.describe(),
                    if with_key { "marked" } else { "plain " },
                    ids.len(),
                    d.test.scored,
                    d.test.log10_p
                );
                if with_key {
                    assert!(
                        ids.len() >= 150,
                        "answer {i} too short for the test: {} tokens",
                        ids.len()
                    );
                }
                out.push(d.test.log10_p);
            }
        }
        let name = config.describe();
        assert!(
            marked.iter().all(|&lp| lp <= -4.0),
            "{name}: a watermarked answer was missed: {marked:?}"
        );
        let mut sorted = marked.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(
            sorted[sorted.len() / 2] <= -8.0,
            "{name}: median p above 1e-8: {marked:?}"
        );
        let flagged = plain.iter().filter(|&&lp| lp <= -2.0).count();
        assert!(
            flagged <= 1,
            "{name}: {flagged} unwatermarked answers at p ≤ 0.01: {plain:?}"
        );

        // Quality guard: mean NLL under the unwatermarked model. Gumbel is distortion-free, so
        // it must not raise the NLL beyond noise (3 standard errors, tokens taken as
        // independent).
        let ((m, vm), (p, vp)) = (mean_and_var(&nll_marked), mean_and_var(&nll_plain));
        let se = (vm / nll_marked.len() as f64 + vp / nll_plain.len() as f64).sqrt();
        eprintln!(
            "{name}: mean NLL watermarked {m:.3}, unwatermarked {p:.3} nats/token (se of difference {se:.3})"
        );
        if config.scheme == Scheme::Gumbel {
            assert!(
                m - p <= 3.0 * se,
                "{name}: NLL rose beyond noise: {m:.3} vs {p:.3}"
            );
        }

        // KGW's a-priori bound. The NLL increase itself has none in terms of δ alone (a green
        // tail of many unlikely tokens, boosted by e^{δ/T}, can raise it by more than δ; a
        // general bound grows with ln V), so the bound is on the distortion of sampling: the expected log-likelihood ratio
        // E[ln q_T(x) − ln p_T(x)] of a watermarked token, where p_T is the model at
        // temperature T and q_T(x) = p_T(x)·e^{d·g(x)}/Z with d = δ/T, g the green (SelfHash:
        // green top-40) indicator, Z = 1 + (e^d − 1)·p_T(green).
        // - Without top-p this is KL(q_T‖p_T) = d·ψ'(d) − ψ(d) with ψ(s) = ln(1 + (e^s − 1)G),
        //   = ∫₀^d s·ψ''(s) ds ≤ d²/8, since ψ''(s) is a Bernoulli variance, at most 1/4.
        // - Top-p samples from q_T restricted to a nucleus of q_T-mass ≥ P, which raises the
        //   green mass from q_T(g) to at most q_T(g)/P, adding at most d·(1 − P)/P.
        // So E[ln q_T − ln p_T] ≤ d²/8 + d(1 − P)/P per token, for every context and any
        // model: 1.171 nats at δ = 2, T = 0.7, P = 0.95.
        if let Scheme::Kgw { delta, .. } = config.scheme {
            let d = f64::from(delta.get()) / f64::from(TEMPERATURE);
            let top_p = f64::from(TOP_P);
            let bound = d * d / 8.0 + d * (1.0 - top_p) / top_p;
            let (r, vr) = mean_and_var(&log_ratio);
            let se = (vr / log_ratio.len() as f64).sqrt();
            eprintln!(
                "{name}: mean log-likelihood ratio watermarked/plain sampling {r:.3} nats/token \
                 (se {se:.3}), a-priori bound {bound:.3}"
            );
            assert!(
                r <= bound + 3.0 * se,
                "{name}: distortion {r:.3} above the bound {bound:.3} + 3 se ({se:.3})"
            );
        }
    }
}
