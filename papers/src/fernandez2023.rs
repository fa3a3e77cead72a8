//! Fernandez et al. 2023, "Three Bricks to Consolidate Watermarks for Large Language
//! Models": the empirical false-positive rate of the z-test and of the exact tests, with and
//! without dedup, on unwatermarked model text and on human text, over many random keys;
//! and TPR at FPR 1e-6 for KGW and Gumbel.
//!
//! Trials are (key, text) pairs: each text under each of `keys` random keys. With 10^4 keys
//! and about 300 texts there are about 3·10^6 trials per row, which resolves rates down to
//! about 1e-5 directly; at 1e-6 a row expects about 3 false positives, so zero or a few is
//! consistent with nominal and the table gives the 95% upper bound.

use serde::Serialize;
use tracemark_core::{SeedingKind, WatermarkConfig};
use tracemark_detect::calibration::FprEstimate;
use tracemark_eval::{FPRS, NullRun, Test};
use tracemark_io::TextTokenizer;
use tracemark_workflow::Progress;

use crate::corpora::{Corpus, Setting};
use crate::detection::{Summary, curves, summarise};
use crate::plot::{Series, line_chart};

/// Every corpus this reproduction reads: plain answers, KGW and Gumbel at the defaults.
pub fn settings() -> Vec<Setting> {
    vec![
        Setting::plain(),
        Setting::kgw(0.25, 2.0, SeedingKind::SelfHash, 3),
        Setting::gumbel(SeedingKind::SelfHash, 3),
    ]
}

/// Seed of the random keys.
pub const NULL_SEED: u64 = 3_000_017;
/// Human text: these licences as Debian ships them (package base-files).
pub const LICENCES: [&str; 8] = [
    "Apache-2.0",
    "Artistic",
    "BSD",
    "GFDL-1.3",
    "GPL-2",
    "GPL-3",
    "LGPL-2.1",
    "MPL-2.0",
];
/// Human text is cut into chunks of this many tokens.
pub const HUMAN_CHUNK: usize = 200;
/// At most this many human chunks (the first ones, licence by licence).
pub const HUMAN_CHUNKS: usize = 100;

/// The watermarks of the false-positive study: KGW with the paper's original LeftHash h = 1
/// and with SelfHash h = 3, and Gumbel with SelfHash h = 3.
pub fn null_settings() -> Vec<Setting> {
    vec![
        Setting::kgw(0.25, 2.0, SeedingKind::LeftHash, 1),
        Setting::kgw(0.25, 2.0, SeedingKind::SelfHash, 3),
        Setting::gumbel(SeedingKind::SelfHash, 3),
    ]
}

/// Unwatermarked texts of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// `model` or `human`.
    pub name: &'static str,
    /// Texts.
    pub texts: usize,
    /// Mean tokens per text.
    pub mean_tokens: f64,
    /// Fraction of tokens whose (window, token) tuple repeats an earlier one in the text,
    /// for LeftHash h = 1.
    pub repeated_bigrams: f64,
}

/// Empirical FPR of one test on one source.
#[derive(Debug, Clone, Serialize)]
pub struct FprRow {
    /// `model` or `human`.
    pub source: &'static str,
    /// The watermark.
    pub setting: String,
    /// z-test or exact test.
    pub test: Test,
    /// Whether repeated tuples were counted once.
    pub dedup: bool,
    /// At each nominal level of [`FPRS`].
    pub estimates: Vec<FprEstimate>,
}

/// Detection of the watermarked answers.
#[derive(Debug, Clone, Serialize)]
pub struct TprRow {
    /// The watermark.
    pub setting: String,
    /// TPR at each FPR, tokens needed.
    pub detection: Summary,
}

/// Everything the reproduction reports.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Random keys.
    pub keys: usize,
    /// The unwatermarked texts.
    pub sources: Vec<Source>,
    /// Empirical FPR rows.
    pub fpr: Vec<FprRow>,
    /// TPR rows.
    pub tpr: Vec<TprRow>,
}

/// Human text: the [`LICENCES`] found on this machine, tokenized and cut into chunks.
pub fn human_texts(tokenizer: &TextTokenizer) -> Vec<Vec<u32>> {
    let mut chunks = Vec::new();
    for name in LICENCES {
        let Ok(text) = std::fs::read_to_string(format!("/usr/share/common-licenses/{name}")) else {
            continue;
        };
        let ids = tokenizer.encode_ids(&text).unwrap_or_default();
        chunks.extend(ids.chunks_exact(HUMAN_CHUNK).map(<[u32]>::to_vec));
    }
    chunks.truncate(HUMAN_CHUNKS);
    chunks
}

fn repeated_fraction(texts: &[Vec<u32>]) -> f64 {
    let (mut repeated, mut total) = (0usize, 0usize);
    for t in texts {
        let mut seen = std::collections::HashSet::new();
        for w in t.windows(2) {
            total += 1;
            if !seen.insert(w) {
                repeated += 1;
            }
        }
    }
    repeated as f64 / total.max(1) as f64
}

/// Runs the study on the corpora of [`settings`] with `keys` random keys.
pub fn analyse(corpora: &[Corpus], keys: usize, progress: &dyn Progress) -> Outcome {
    let tokenizer = TextTokenizer::default_model().expect("the bundled tokenizer loads");
    let plain = corpora
        .iter()
        .find(|c| c.key.is_none())
        .expect("the plain corpus is loaded");
    let model: Vec<Vec<u32>> = plain
        .docs
        .iter()
        .map(|d| crate::detection::retokenize(&tokenizer, &d.ids))
        .collect();
    let human = human_texts(&tokenizer);
    let mut sources = Vec::new();
    let mut fpr = Vec::new();
    for (name, texts) in [("model", &model), ("human", &human)] {
        if texts.is_empty() {
            continue;
        }
        sources.push(Source {
            name,
            texts: texts.len(),
            mean_tokens: texts.iter().map(Vec::len).sum::<usize>() as f64 / texts.len() as f64,
            repeated_bigrams: repeated_fraction(texts),
        });
        for setting in null_settings() {
            let config: WatermarkConfig = setting.config.expect("watermarked");
            progress.stage(&format!(
                "{name} text, {}: {keys} random keys",
                setting.name
            ));
            progress.start(keys as u64, "keys");
            let run = NullRun::run(config, texts, keys, NULL_SEED, &|| progress.inc(1));
            progress.finish();
            for test in [Test::Z, Test::Exact] {
                for dedup in [false, true] {
                    fpr.push(FprRow {
                        source: name,
                        setting: setting.name.clone(),
                        test,
                        dedup,
                        estimates: FPRS.iter().map(|&a| run.fpr(dedup, test, a)).collect(),
                    });
                }
            }
        }
    }
    progress.stage("TPR of the watermarked answers");
    let tpr = corpora
        .iter()
        .filter_map(|c| {
            let key = c.key.as_ref()?;
            let wm = tracemark_core::Watermark::new(key);
            let ids: Vec<Vec<u32>> = c.docs.iter().map(|d| d.ids.clone()).collect();
            Some(TprRow {
                setting: c.setting.name.clone(),
                detection: summarise(&curves(&wm, &tokenizer, &ids)),
            })
        })
        .collect();
    Outcome {
        keys,
        sources,
        fpr,
        tpr,
    }
}

/// Whether `e` shows an FPR above nominal: k or more false positives in n trials has
/// probability below 0.001 at the nominal rate (one-sided exact binomial test).
pub fn exceeds(e: &FprEstimate) -> bool {
    e.rejections > 0
        && tracemark_detect::stats::binomial_sf_ln(e.rejections as u64, e.trials as u64, e.nominal)
            < 1e-3f64.ln()
}

fn cell(e: &FprEstimate) -> String {
    let flag = if exceeds(e) { " ✗" } else { "" };
    if e.rejections == 0 {
        format!("0 (≤ {:.0e})", e.upper)
    } else {
        format!("{:.1e} ({}){flag}", e.rate, e.rejections)
    }
}

fn test_name(test: Test, dedup: bool) -> String {
    let t = match test {
        Test::Z => "z-test",
        Test::Exact => "exact",
    };
    format!("{t}, {}", if dedup { "dedup" } else { "no dedup" })
}

/// The folder's files: results.json, results.md and one plot per source.
pub fn render(o: &Outcome) -> Vec<(String, String)> {
    let mut md = format!(
        "Empirical FPR over {} random keys: rate (false positives); ✗ where so many false positives have probability below 0.001 at the nominal rate (one-sided binomial test); 0 with the 95% upper bound.\n",
        o.keys
    );
    let mut files = Vec::new();
    for s in &o.sources {
        md.push_str(&format!(
            "\n**{} text**: {} texts, {:.0} tokens on average, {:.1}% repeated bigrams; {} trials per row.\n\n| watermark | test |",
            s.name,
            s.texts,
            s.mean_tokens,
            100.0 * s.repeated_bigrams,
            s.texts * o.keys
        ));
        for a in FPRS {
            md.push_str(&format!(" {a:.0e} |"));
        }
        md.push_str(&format!("\n|---|---|{}\n", "---|".repeat(FPRS.len())));
        let rows: Vec<&FprRow> = o.fpr.iter().filter(|r| r.source == s.name).collect();
        for r in &rows {
            md.push_str(&format!(
                "| {} | {} |",
                r.setting,
                test_name(r.test, r.dedup)
            ));
            for e in &r.estimates {
                md.push_str(&format!(" {} |", cell(e)));
            }
            md.push('\n');
        }
        let first = rows.first().map(|r| r.setting.clone()).unwrap_or_default();
        let mut series: Vec<Series> = rows
            .iter()
            .filter(|r| r.setting == first)
            .map(|r| Series {
                name: test_name(r.test, r.dedup),
                values: r.estimates.iter().map(|e| e.rate).collect(),
            })
            .collect();
        series.push(Series {
            name: "nominal".into(),
            values: FPRS.to_vec(),
        });
        let categories: Vec<String> = FPRS.iter().map(|a| format!("{a:.0e}")).collect();
        files.push((
            format!("fpr_{}.svg", s.name),
            line_chart(
                &format!("Empirical FPR, {} text, {first}", s.name),
                "nominal FPR",
                "empirical FPR",
                &categories,
                &series,
                1e-7,
                None,
            ),
        ));
    }
    md.push_str("\n**TPR of the watermarked answers** at each FPR (exact test, dedup, from text).\n\n| watermark | answers | tokens |");
    for a in FPRS {
        md.push_str(&format!(" {a:.0e} |"));
    }
    md.push_str(&format!(
        " median tokens to p ≤ 1e-4 |\n|---|---|---|{}---|\n",
        "---|".repeat(FPRS.len())
    ));
    for r in &o.tpr {
        let d = &r.detection;
        md.push_str(&format!(
            "| {} | {} | {:.0} |",
            r.setting, d.texts, d.mean_tokens
        ));
        for t in &d.tpr {
            md.push_str(&format!(" {:.2} |", t.tpr));
        }
        md.push_str(&format!(
            " {} |\n",
            d.median_tokens_to_detect
                .map_or("–".into(), |t| format!("{t:.0}"))
        ));
    }
    let mut out = vec![
        (
            "results.json".into(),
            serde_json::to_string_pretty(o).expect("serializable") + "\n",
        ),
        ("results.md".into(), md),
    ];
    out.extend(files);
    out
}
