//! Kirchenbauer et al. 2023, "A Watermark for Large Language Models": the z-score and the
//! detection rate against length T for γ ∈ {0.1, 0.25, 0.5} and δ ∈ {1, 2, 5}, the
//! perplexity cost under the unwatermarked model, and (from the follow-up "On the
//! Reliability of Watermarks") LeftHash vs SelfHash vs MinHash under attack, with Gumbel for
//! comparison.
//!
//! Every answer is detected from its text (decoded, then tokenized again), with dedup and
//! the exact test; the paper's z is reported alongside.

use rayon::prelude::*;
use serde::Serialize;
use tracemark_core::{SeedingKind, Watermark};
use tracemark_eval::{Attack, FPRS, Point, Rate, copy_paste, stream, tpr_at};
use tracemark_io::TextTokenizer;
use tracemark_workflow::Progress;

use crate::corpora::{Corpus, SEED, Setting};
use crate::detection::{Summary, curves, summarise, whole_and_scan};
use crate::plot::{Series, line_chart};

/// Green-list fractions of the grid.
pub const GAMMAS: [f64; 3] = [0.1, 0.25, 0.5];
/// Logit biases of the grid.
pub const DELTAS: [f64; 3] = [1.0, 2.0, 5.0];

/// The γ × δ grid with the paper's LeftHash h = 1.
pub fn grid() -> Vec<Setting> {
    GAMMAS
        .iter()
        .flat_map(|&g| {
            DELTAS
                .iter()
                .map(move |&d| Setting::kgw(g, d, SeedingKind::LeftHash, 1))
        })
        .collect()
}

/// The seeding comparison at γ = 0.25, δ = 2 (the follow-up paper's recommended setting):
/// LeftHash h = 1, SelfHash h = 3 and MinHash h = 4.
pub fn seedings() -> Vec<Setting> {
    vec![
        Setting::kgw(0.25, 2.0, SeedingKind::LeftHash, 1),
        Setting::kgw(0.25, 2.0, SeedingKind::SelfHash, 3),
        Setting::kgw(0.25, 2.0, SeedingKind::MinHash, 4),
    ]
}

/// The settings attacked: the seedings and Gumbel (SelfHash h = 3).
pub fn attacked() -> Vec<Setting> {
    let mut all = seedings();
    all.push(Setting::gumbel(SeedingKind::SelfHash, 3));
    all
}

/// Every corpus this reproduction reads: plain answers, the attacked settings, the grid.
pub fn settings() -> Vec<Setting> {
    let mut all = vec![Setting::plain()];
    all.extend(attacked());
    for s in grid() {
        if !all.iter().any(|a| a.name == s.name) {
            all.push(s);
        }
    }
    all
}

/// Prefix lengths of the z-against-T table.
pub const LENGTHS: [usize; 5] = [25, 50, 100, 150, 200];
/// Attack rates.
pub const RATES: [f64; 3] = [0.1, 0.25, 0.5];
/// Watermarked spans pasted into plain text, in tokens.
pub const SPANS: [usize; 3] = [25, 50, 100];
/// Plain answers concatenated into one copy-paste host.
pub const HOST_ANSWERS: usize = 3;

/// Detection and quality of one watermark setting.
#[derive(Debug, Clone, Serialize)]
pub struct QualityRow {
    /// The setting.
    pub setting: String,
    /// Detection of the unattacked answers.
    pub detection: Summary,
    /// z and detection rate after the first T tokens.
    pub by_length: Vec<LengthPoint>,
    /// Mean negative log-likelihood per answer token under the unwatermarked model.
    pub nll: f64,
    /// exp(nll).
    pub ppl: f64,
}

/// The test after the first `tokens` tokens, over the answers at least that long.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LengthPoint {
    /// T.
    pub tokens: usize,
    /// Answers with at least T tokens.
    pub texts: usize,
    /// Mean z at T.
    pub mean_z: f64,
    /// Fraction with z > 4 at T.
    pub z4: f64,
    /// Fraction with exact p ≤ 1e-4 at T.
    pub tpr_1e4: f64,
}

/// Detection after an attack.
#[derive(Debug, Clone, Serialize)]
pub struct AttackRow {
    /// The setting.
    pub setting: String,
    /// `none`, `substitute`, `delete` or `insert`.
    pub attack: &'static str,
    /// Per-token rate.
    pub rate: f64,
    /// Edits made per original token.
    pub edit_fraction: f64,
    /// Detection of the attacked texts.
    pub detection: Summary,
}

/// Detection of a watermarked span pasted into plain text.
#[derive(Debug, Clone, Serialize)]
pub struct PasteRow {
    /// The setting.
    pub setting: String,
    /// Span length in tokens.
    pub span: usize,
    /// Texts (answers at least `span` long).
    pub texts: usize,
    /// Mean length of the combined texts, in tokens.
    pub mean_tokens: f64,
    /// TPR of the whole-text test.
    pub whole: Vec<Rate>,
    /// TPR of the whole-text test and the windowed scan together.
    pub scan: Vec<Rate>,
}

/// Everything the reproduction reports.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Answers per watermark setting.
    pub answers: usize,
    /// Mean NLL of the plain answers to the same prompts with the same seeds.
    pub plain_nll: f64,
    /// exp(plain_nll).
    pub plain_ppl: f64,
    /// The γ × δ grid (LeftHash h = 1).
    pub grid: Vec<QualityRow>,
    /// The attacked settings, unattacked.
    pub seedings: Vec<QualityRow>,
    /// Each attacked setting under each attack and rate.
    pub attacks: Vec<AttackRow>,
    /// Copy-paste.
    pub copy_paste: Vec<PasteRow>,
}

fn find<'c>(corpora: &'c [Corpus], setting: &Setting) -> &'c Corpus {
    corpora
        .iter()
        .find(|c| c.setting.name == setting.name)
        .expect("every setting's corpus is loaded")
}

fn mean_nll<'a>(docs: impl Iterator<Item = &'a crate::corpora::Doc>) -> f64 {
    let (sum, n) = docs
        .flat_map(|d| d.nll.iter())
        .fold((0.0, 0usize), |(s, n), &x| (s + f64::from(x), n + 1));
    sum / n.max(1) as f64
}

fn quality(corpus: &Corpus, tokenizer: &TextTokenizer) -> QualityRow {
    let key = corpus.key.as_ref().expect("a watermarked corpus");
    let wm = Watermark::new(key);
    let ids: Vec<Vec<u32>> = corpus.docs.iter().map(|d| d.ids.clone()).collect();
    let curves = curves(&wm, tokenizer, &ids);
    let by_length = LENGTHS
        .iter()
        .map(|&t| {
            let at: Vec<Point> = curves
                .iter()
                .filter(|c| c.len() >= t)
                .map(|c| c[t - 1])
                .collect();
            let n = at.len().max(1) as f64;
            LengthPoint {
                tokens: t,
                texts: at.len(),
                mean_z: at.iter().map(|p| p.z).sum::<f64>() / n,
                z4: at.iter().filter(|p| p.z > 4.0).count() as f64 / n,
                tpr_1e4: at.iter().filter(|p| p.log10_p <= -4.0).count() as f64 / n,
            }
        })
        .collect();
    let nll = mean_nll(corpus.docs.iter());
    QualityRow {
        setting: corpus.setting.name.clone(),
        detection: summarise(&curves),
        by_length,
        nll,
        ppl: nll.exp(),
    }
}

fn attack_rows(corpus: &Corpus, tokenizer: &TextTokenizer) -> Vec<AttackRow> {
    let wm = Watermark::new(corpus.key.as_ref().expect("a watermarked corpus"));
    let name = &corpus.setting.name;
    let mut attacks = Vec::new();
    for &rate in &RATES {
        attacks.push(Attack::Substitute { rate });
        attacks.push(Attack::Delete { rate });
        attacks.push(Attack::Insert { rate });
    }
    attacks
        .iter()
        .map(|attack| {
            let label = format!("{name}|{}|{}", attack.name(), attack.rate());
            let edited: Vec<tracemark_eval::Edited> = corpus
                .docs
                .par_iter()
                .enumerate()
                .map(|(j, d)| {
                    attack.apply(&d.ids, &d.proposals, &mut stream(SEED, &label, j as u64))
                })
                .collect();
            let original: usize = corpus.docs.iter().map(|d| d.ids.len()).sum();
            let edits: usize = edited.iter().map(|e| e.edits).sum();
            let ids: Vec<Vec<u32>> = edited.into_iter().map(|e| e.ids).collect();
            AttackRow {
                setting: name.clone(),
                attack: attack.name(),
                rate: attack.rate(),
                edit_fraction: edits as f64 / original.max(1) as f64,
                detection: summarise(&curves(&wm, tokenizer, &ids)),
            }
        })
        .collect()
}

fn paste_rows(corpus: &Corpus, plain: &Corpus, tokenizer: &TextTokenizer) -> Vec<PasteRow> {
    let wm = Watermark::new(corpus.key.as_ref().expect("a watermarked corpus"));
    let name = &corpus.setting.name;
    SPANS
        .iter()
        .map(|&span| {
            let label = format!("{name}|paste|{span}");
            let texts: Vec<Vec<u32>> = corpus
                .docs
                .iter()
                .enumerate()
                .filter_map(|(j, d)| {
                    let host: Vec<u32> = (0..HOST_ANSWERS)
                        .flat_map(|k| {
                            plain.docs[(HOST_ANSWERS * j + k) % plain.docs.len()]
                                .ids
                                .iter()
                                .copied()
                        })
                        .collect();
                    copy_paste(&d.ids, &host, span, &mut stream(SEED, &label, j as u64))
                        .map(|p| p.ids)
                })
                .collect();
            let results = whole_and_scan(&wm, tokenizer, &texts);
            let whole: Vec<f64> = results.iter().map(|r| r.0).collect();
            let scan: Vec<f64> = results.iter().map(|r| r.1).collect();
            PasteRow {
                setting: name.clone(),
                span,
                texts: texts.len(),
                mean_tokens: texts.iter().map(Vec::len).sum::<usize>() as f64
                    / texts.len().max(1) as f64,
                whole: tpr_at(&whole, &FPRS),
                scan: tpr_at(&scan, &FPRS),
            }
        })
        .collect()
}

/// Runs the analysis on the corpora of [`settings`] (no model needed: the corpora carry
/// their teacher-forcing results).
pub fn analyse(corpora: &[Corpus], progress: &dyn Progress) -> Outcome {
    let tokenizer = TextTokenizer::default_model().expect("the bundled tokenizer loads");
    let plain = find(corpora, &Setting::plain());
    let answers = find(corpora, &grid()[0]).docs.len();
    let plain_nll = mean_nll(plain.docs.iter().take(answers));
    progress.stage("γ × δ grid");
    let grid: Vec<QualityRow> = grid()
        .iter()
        .map(|s| quality(find(corpora, s), &tokenizer))
        .collect();
    progress.stage("seedings");
    let seedings: Vec<QualityRow> = attacked()
        .iter()
        .map(|s| quality(find(corpora, s), &tokenizer))
        .collect();
    let mut attacks = Vec::new();
    let mut pastes = Vec::new();
    for s in attacked() {
        progress.stage(&format!("attacks: {}", s.name));
        let corpus = find(corpora, &s);
        attacks.extend(attack_rows(corpus, &tokenizer));
        pastes.extend(paste_rows(corpus, plain, &tokenizer));
    }
    Outcome {
        answers,
        plain_nll,
        plain_ppl: plain_nll.exp(),
        grid,
        seedings,
        attacks,
        copy_paste: pastes,
    }
}

fn rates(r: &[Rate]) -> String {
    r.iter().map(|r| format!(" {:.2} |", r.tpr)).collect()
}

fn quality_table(
    md: &mut String,
    rows: &[QualityRow],
    first: &str,
    label: impl Fn(&QualityRow) -> String,
) {
    md.push_str(&format!(
        "| {first} | tokens | scored | mean z | z > 4 | TPR@1e-4 | TPR@1e-6 | median tokens to p ≤ 1e-4 | PPL |\n|---|---|---|---|---|---|---|---|---|\n"
    ));
    for r in rows {
        let d = &r.detection;
        md.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {:.2} |\n",
            label(r),
            d.mean_tokens,
            d.mean_scored,
            d.mean_z,
            d.z4,
            d.tpr[2].tpr,
            d.tpr[4].tpr,
            d.median_tokens_to_detect
                .map_or("–".into(), |t| format!("{t:.0}")),
            r.ppl
        ));
    }
}

/// The folder's files: results.json, results.md and two plots.
pub fn render(o: &Outcome) -> Vec<(String, String)> {
    let mut md = format!(
        "{} answers per setting; plain answers to the same prompts: PPL {:.2} (mean NLL {:.3}).\n\n\
         **γ × δ grid** (LeftHash h = 1). TPR from the exact p-value; z > 4 is the paper's rule.\n\n",
        o.answers, o.plain_ppl, o.plain_nll
    );
    quality_table(&mut md, &o.grid, "γ, δ", |r| {
        r.setting
            .split_once(')')
            .map_or(r.setting.clone(), |(a, _)| {
                a.trim_start_matches("kgw(").to_string()
            })
    });
    md.push_str("\n**z against length T** (mean z at T, fraction with z > 4; answers at least T tokens long in parentheses).\n\n| setting |");
    for t in LENGTHS {
        md.push_str(&format!(" T = {t} |"));
    }
    md.push_str(&format!("\n|---|{}\n", "---|".repeat(LENGTHS.len())));
    let extra = o
        .seedings
        .iter()
        .filter(|s| !o.grid.iter().any(|g| g.setting == s.setting));
    for r in o.grid.iter().chain(extra) {
        md.push_str(&format!("| {} |", r.setting));
        for p in &r.by_length {
            md.push_str(&format!(" {:.1}, {:.2} ({}) |", p.mean_z, p.z4, p.texts));
        }
        md.push('\n');
    }
    md.push_str("\n**Seeding schemes** (γ = 0.25, δ = 2) and Gumbel, unattacked.\n\n");
    quality_table(&mut md, &o.seedings, "setting", |r| r.setting.clone());
    md.push_str("\n**Under attack**: TPR at each FPR (analytic threshold p ≤ FPR).\n\n| setting | attack | rate | edits | 1e-2 | 1e-3 | 1e-4 | 1e-5 | 1e-6 | median log10 p |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for s in &o.seedings {
        md.push_str(&format!(
            "| {} | none | 0 | 0 |{} {:.1} |\n",
            s.setting,
            rates(&s.detection.tpr),
            s.detection.median_log10_p
        ));
        for a in o.attacks.iter().filter(|a| a.setting == s.setting) {
            md.push_str(&format!(
                "| {} | {} | {} | {:.2} |{} {:.1} |\n",
                a.setting,
                a.attack,
                a.rate,
                a.edit_fraction,
                rates(&a.detection.tpr),
                a.detection.median_log10_p
            ));
        }
    }
    md.push_str("\n**Copy-paste**: a watermarked span inside three plain answers. TPR of the whole-text test, and of the whole-text test with the windowed scan (Bonferroni over both).\n\n| setting | span | texts | tokens | test | 1e-2 | 1e-3 | 1e-4 | 1e-5 | 1e-6 |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for p in &o.copy_paste {
        for (test, r) in [("whole", &p.whole), ("scan", &p.scan)] {
            md.push_str(&format!(
                "| {} | {} | {} | {:.0} | {test} |{}\n",
                p.setting,
                p.span,
                p.texts,
                p.mean_tokens,
                rates(r)
            ));
        }
    }
    vec![
        (
            "results.json".into(),
            serde_json::to_string_pretty(o).expect("serializable") + "\n",
        ),
        ("results.md".into(), md),
        ("z_vs_length.svg".into(), z_plot(o)),
        ("substitution.svg".into(), substitution_plot(o)),
    ]
}

fn z_plot(o: &Outcome) -> String {
    let pick = |gamma: f64, delta: f64| {
        o.grid.iter().find(|r| {
            r.setting.contains(&format!("γ={gamma},")) && r.setting.contains(&format!("δ={delta})"))
        })
    };
    let lines = [
        (0.1, 2.0),
        (0.25, 2.0),
        (0.5, 2.0),
        (0.25, 1.0),
        (0.25, 5.0),
    ];
    let series: Vec<Series> = lines
        .iter()
        .filter_map(|&(g, d)| {
            pick(g, d).map(|r| Series {
                name: format!("γ={g} δ={d}"),
                values: r.by_length.iter().map(|p| p.mean_z).collect(),
            })
        })
        .collect();
    let categories: Vec<String> = LENGTHS.iter().map(|t| t.to_string()).collect();
    line_chart(
        "Mean z after T tokens (KGW, LeftHash h=1)",
        "T (tokens)",
        "mean z",
        &categories,
        &series,
        1.0,
        Some((4.0, "z = 4")),
    )
}

fn substitution_plot(o: &Outcome) -> String {
    let short = |s: &str| {
        s.split_whitespace()
            .last()
            .map_or(s.to_string(), |seeding| {
                let scheme = if s.starts_with("gumbel") {
                    "gumbel"
                } else {
                    "kgw"
                };
                format!("{scheme} {seeding}")
            })
    };
    let series: Vec<Series> = o
        .seedings
        .iter()
        .map(|s| {
            let mut values = vec![s.detection.tpr[2].tpr];
            values.extend(
                o.attacks
                    .iter()
                    .filter(|a| a.setting == s.setting && a.attack == "substitute")
                    .map(|a| a.detection.tpr[2].tpr),
            );
            Series {
                name: short(&s.setting),
                values,
            }
        })
        .collect();
    let mut categories = vec!["0".to_string()];
    categories.extend(RATES.iter().map(|r| r.to_string()));
    line_chart(
        "TPR at FPR 1e-4 under substitution",
        "substitution rate",
        "TPR",
        &categories,
        &series,
        0.01,
        None,
    )
}
