//! Sander et al. 2024, "Watermarking makes language models radioactive": log10 p of the
//! radioactivity tests against the watermarked fraction ρ of a student's training data, for
//! the closed and open model, supervised and not, and for ρ = 5% against corpus size.
//!
//! Teacher: the default model with the demo's watermark (KGW γ 0.25, δ 3, LeftHash h 1) and
//! the demo key of seed 0. It answers every training prompt `samples` times, with and without
//! the watermark, in chunks of half the training prompts, each cached by content (so chunks
//! can be generated on several machines or processes: [`Options::shard`]). Students are the
//! demo's 4-gram Kneser-Ney models; each is questioned with every held-out prompt 4 times.

use std::path::PathBuf;

use serde::Serialize;
use tracemark_demo::{PromptSet, Split, demo_config, demo_key};
use tracemark_embed::{Record, SamplingParams};
use tracemark_io::TextTokenizer;
use tracemark_radioactivity::{ControlOptions, DEFAULT_ALPHA, Investigation};
use tracemark_workflow::corpus::{CorpusSpec, teacher_chat, teacher_corpus};
use tracemark_workflow::distil::{distil, mix, shuffled};
use tracemark_workflow::investigate::{
    Examination, Probe, SUPERVISED_CONTEXT, examine, filter_from_texts,
};
use tracemark_workflow::question::{Questioning, question};
use tracemark_workflow::{Chat, Progress, PromptFormat, Quiet, WorkflowError};

use crate::plot::{Series, line_chart};

/// Watermarked fractions of the main sweep.
pub const RHOS: [f64; 6] = [0.0, 0.01, 0.05, 0.10, 0.50, 1.0];
/// Corpus fractions of the growth sweep at ρ = 5%.
pub const GROWTH: [f64; 4] = [0.125, 0.25, 0.5, 1.0];
/// Longest teacher answer, in tokens (the demo's).
pub const TEACHER_TOKENS: usize = 80;
/// Longest student answer, in tokens.
pub const STUDENT_TOKENS: usize = 256;
/// Answers asked per held-out prompt.
pub const QUERY_REPEATS: usize = 4;
/// Seed of the key, the mixes and all sampling.
pub const SEED: u64 = 0;

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The teacher (GGUF).
    pub model: PathBuf,
    /// Where teacher chunks are cached.
    pub cache: PathBuf,
    /// Where students' answers go.
    pub work: PathBuf,
    /// Answers per training prompt (with and without the watermark each).
    pub samples: usize,
    /// Only generate the chunks `i` with `i % n == shard` (`Some((shard, n))`), then stop.
    pub shard: Option<(usize, usize)>,
    /// CPU threads for llama.cpp.
    pub threads: usize,
    /// Random keys per test.
    pub controls: usize,
}

/// One test of one student.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Sweep: `rho` or `growth`.
    pub sweep: &'static str,
    /// Watermarked fraction of the student's training answers.
    pub rho: f64,
    /// Training exchanges.
    pub exchanges: usize,
    /// Watermarked training tokens.
    pub watermarked_tokens: usize,
    /// `closed` or `open`.
    pub mode: &'static str,
    /// Whether the test was supervised.
    pub supervised: bool,
    /// Tuples scored.
    pub scored: u64,
    /// log10 p of the exact test.
    pub log10_p: f64,
    /// The true key's rank among the random keys and itself.
    pub rank: usize,
    /// Verdict label.
    pub verdict: String,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Key id (the demo key of [`SEED`]: public).
    pub key_id: String,
    /// Scheme.
    pub scheme: String,
    /// Training exchanges in the full corpus.
    pub exchanges: usize,
    /// Held-out answers per student.
    pub student_answers: usize,
    /// Random keys per test.
    pub controls: usize,
    /// All tests.
    pub rows: Vec<Row>,
}

/// Generates (or loads) the teacher chunks, then, unless sharded, runs both sweeps.
/// Returns `None` for a shard run.
pub fn run(options: &Options, progress: &dyn Progress) -> Result<Option<Outcome>, WorkflowError> {
    let config = demo_config(tracemark_demo::DEMO_CONTEXT, tracemark_demo::DEMO_DELTA)?;
    let key = demo_key(SEED, config);
    let prompts = PromptSet::bundled();
    let train: Vec<String> = prompts
        .split(Split::Train)
        .iter()
        .map(|p| p.prompt.clone())
        .collect();
    let query: Vec<String> = prompts
        .split(Split::Query)
        .iter()
        .map(|p| p.prompt.clone())
        .collect();
    let (marked, plain) = teacher_chunks(options, &key, &train, progress)?;
    if options.shard.is_some() {
        return Ok(None);
    }
    WorkflowError::create_dir(&options.work)?;
    let tokenizer = TextTokenizer::default_model()?;
    let all_marked = options.work.join("watermarked.jsonl");
    tracemark_io::write_jsonl(&all_marked, &marked, true)?;
    let n = marked.len();
    let order = shuffled(n, SEED);
    let mut students: Vec<(&'static str, f64, usize)> =
        RHOS.iter().map(|&rho| ("rho", rho, n)).collect();
    for &f in GROWTH.iter().filter(|&&f| f < 1.0) {
        students.push(("growth", 0.05, (f * n as f64).round() as usize));
    }
    let controls = ControlOptions {
        keys: options.controls,
        seed: SEED,
    };
    let h = key.config().seeding.lookback();
    progress.stage("students: distil, question, test");
    progress.start(students.len() as u64, "students");
    let mut rows = Vec::new();
    for (s, &(sweep, rho, size)) in students.iter().enumerate() {
        // Exchanges order[..size]; the first round(ρ·size) of them are watermarked.
        let wm_count = (rho * size as f64).round() as usize;
        let mut mask = vec![false; n];
        order[..wm_count].iter().for_each(|&i| mask[i] = true);
        let picked: Vec<usize> = order[..size].to_vec();
        let exchanges: Vec<&Record> = mix(&mask, &marked, &plain)
            .enumerate()
            .filter(|(i, _)| picked.contains(i))
            .map(|(_, r)| r)
            .collect();
        let student = distil(&tokenizer, exchanges)?;
        let separator = student.specials().separator;
        let mut student = Chat::new(
            Box::new(student),
            tokenizer.clone(),
            PromptFormat::Appended { separator },
        );
        // ρ = 0 has no watermarked answers: its supervised tests use the ρ = 5% student's, as
        // an investigator who suspects that subset would.
        let seen_count = if wm_count == 0 {
            (0.05 * n as f64).round() as usize
        } else {
            wm_count
        };
        let seen: Vec<&Record> = order[..seen_count].iter().map(|&i| &marked[i]).collect();
        let seen_path = options.work.join(format!("seen-{s}.jsonl"));
        tracemark_io::write_jsonl(&seen_path, seen.iter().copied(), true)?;
        let texts = seen.iter().map(|r| r.response.as_str());
        let filter = filter_from_texts(&tokenizer, SUPERVISED_CONTEXT.max(h), texts)?;
        let answers = options.work.join(format!("answers-{s}.jsonl"));
        let questioning = Questioning {
            prompts: &query,
            repeats: QUERY_REPEATS,
            max_tokens: STUDENT_TOKENS,
            seed: 77_000_000 + (s as u64) * 100_000,
        };
        question(&mut student, &questioning, &answers, &Quiet)?;
        let watermarked_tokens = seen[..wm_count].iter().map(|r| r.token_ids.len()).sum();
        for (mode, supervised) in [
            ("closed", false),
            ("closed", true),
            ("open", false),
            ("open", true),
        ] {
            let probe = match mode {
                "closed" => Probe::Answers {
                    path: &answers,
                    prompts: None,
                    exclude_prompts: true,
                },
                _ => Probe::Reading {
                    model: student.model(),
                    texts: if supervised { &seen_path } else { &all_marked },
                },
            };
            let examination = Examination {
                key: &key,
                tokenizer: &tokenizer,
                probe,
                filter: (mode == "closed" && supervised).then_some((&filter, None)),
                suspect: format!("student ρ={rho} n={size}"),
                alpha: DEFAULT_ALPHA,
                controls,
                samples: 2,
            };
            let inv = examine(examination, &Quiet)?;
            rows.push(row(
                sweep,
                rho,
                size,
                watermarked_tokens,
                mode,
                supervised,
                &inv,
            ));
        }
        progress.inc(1);
    }
    progress.finish();
    Ok(Some(Outcome {
        key_id: key.id().to_string(),
        scheme: key.config().describe(),
        exchanges: n,
        student_answers: query.len() * QUERY_REPEATS,
        controls: options.controls,
        rows,
    }))
}

/// The teacher corpora: `samples` passes over the training prompts, each in two chunks.
fn teacher_chunks(
    options: &Options,
    key: &tracemark_core::Key,
    train: &[String],
    progress: &dyn Progress,
) -> Result<(Vec<Record>, Vec<Record>), WorkflowError> {
    WorkflowError::create_dir(&options.cache)?;
    let (mut chat, model_id) = teacher_chat(&options.model, options.threads)?;
    let half = train.len().div_ceil(2);
    let chunks = 2 * options.samples;
    let (mut marked, mut plain) = (Vec::new(), Vec::new());
    for c in 0..chunks {
        if options.shard.is_some_and(|(i, n)| c % n != i) {
            continue;
        }
        let prompts = &train[(c % 2) * half..((c % 2 + 1) * half).min(train.len())];
        let seed = 91_000_000 + c as u64 * 10_000;
        for (k, offset, out) in [(Some(key), 0, &mut marked), (None, 500_000, &mut plain)] {
            let spec = CorpusSpec {
                key: k,
                prompts,
                params: SamplingParams::new(0.8, 0, 0.95, seed + offset)?,
                max_tokens: TEACHER_TOKENS,
                accounts: None,
            };
            let what = if k.is_some() { "watermarked" } else { "plain" };
            progress.stage(&format!("teacher chunk {}/{chunks}, {what}", c + 1));
            let path = spec.cache_path(&options.cache, &model_id);
            out.extend(teacher_corpus(&mut chat, &spec, &path, progress)?);
        }
    }
    Ok((marked, plain))
}

fn row(
    sweep: &'static str,
    rho: f64,
    exchanges: usize,
    watermarked_tokens: usize,
    mode: &'static str,
    supervised: bool,
    inv: &Investigation,
) -> Row {
    Row {
        sweep,
        rho,
        exchanges,
        watermarked_tokens,
        mode,
        supervised,
        scored: inv.test.scored,
        log10_p: inv.test.log10_p,
        rank: inv.controls.rank,
        verdict: inv.finding.verdict.label().to_string(),
    }
}

/// The four tests of every student: (mode, supervised, label).
const TESTS: [(&str, bool, &str); 4] = [
    ("closed", false, "closed"),
    ("closed", true, "closed, supervised"),
    ("open", false, "open"),
    ("open", true, "open, supervised"),
];

fn find<'o>(outcome: &'o Outcome, rho: f64, n: usize, mode: &str, sup: bool) -> Option<&'o Row> {
    outcome
        .rows
        .iter()
        .find(|r| r.rho == rho && r.exchanges == n && r.mode == mode && r.supervised == sup)
}

fn watermarked_tokens(outcome: &Outcome, rho: f64, n: usize) -> usize {
    find(outcome, rho, n, "closed", false).map_or(0, |r| r.watermarked_tokens)
}

/// Appends a table with one row per `(ρ, exchanges, label)` and a column per test, and
/// returns one plot series per test (−log10 p).
fn sweep_table(
    md: &mut String,
    outcome: &Outcome,
    first: &str,
    rows: &[(f64, usize, String)],
) -> Vec<Series> {
    md.push_str(&format!("| {first} | watermarked tokens |"));
    for (_, _, name) in TESTS {
        md.push_str(&format!(" {name} |"));
    }
    md.push_str("\n|---|---|---|---|---|---|\n");
    let mut series: Vec<Series> = TESTS
        .iter()
        .map(|t| Series {
            name: t.2.to_string(),
            values: Vec::new(),
        })
        .collect();
    for (rho, n, label) in rows {
        let tokens = watermarked_tokens(outcome, *rho, *n);
        md.push_str(&format!("| {label} | {tokens} |"));
        for (k, &(mode, sup, _)) in TESTS.iter().enumerate() {
            let r = find(outcome, *rho, *n, mode, sup);
            md.push_str(&format!(
                " {} |",
                r.map_or("–".into(), |r| format!("{:.1} ({})", r.log10_p, r.scored))
            ));
            series[k].values.push(r.map_or(0.0, |r| -r.log10_p));
        }
        md.push('\n');
    }
    series
}

/// The paper folder's generated files: `results.json`, `results.md`, `rho.svg`,
/// `growth.svg`.
pub fn render(outcome: &Outcome) -> Vec<(String, String)> {
    let mut md = String::from("log10 p of each test (tuples scored in parentheses).\n\n");
    let rho_rows: Vec<(f64, usize, String)> = RHOS
        .iter()
        .map(|&rho| (rho, outcome.exchanges, format!("{}%", rho * 100.0)))
        .collect();
    let rho_series = sweep_table(&mut md, outcome, "ρ", &rho_rows);
    md.push_str("\nρ = 5%, growing corpus: log10 p (tuples scored).\n\n");
    let growth_rows: Vec<(f64, usize, String)> = GROWTH
        .iter()
        .map(|&f| {
            let n = (f * outcome.exchanges as f64).round() as usize;
            (0.05, n, n.to_string())
        })
        .collect();
    let growth_series = sweep_table(&mut md, outcome, "exchanges", &growth_rows);
    let growth_labels: Vec<String> = growth_rows
        .iter()
        .map(|&(rho, n, _)| watermarked_tokens(outcome, rho, n).to_string())
        .collect();
    let rho_labels: Vec<String> = RHOS.iter().map(|r| format!("{}%", r * 100.0)).collect();
    let rho_svg = line_chart(
        "Radioactivity against the watermarked fraction ρ",
        "ρ: watermarked share of the student's training answers",
        "−log10 p",
        &rho_labels,
        &rho_series,
        0.1,
        Some((3.0, "p = 1e-3")),
    );
    let growth_svg = line_chart(
        "ρ = 5%: radioactivity against corpus size",
        "watermarked tokens the student was trained on",
        "−log10 p",
        &growth_labels,
        &growth_series,
        0.1,
        Some((3.0, "p = 1e-3")),
    );
    vec![
        (
            "results.json".into(),
            serde_json::to_string_pretty(outcome).expect("outcome serializes") + "\n",
        ),
        ("results.md".into(), md),
        ("rho.svg".into(), rho_svg),
        ("growth.svg".into(), growth_svg),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> Outcome {
        let mut rows = Vec::new();
        let n = 800;
        let sizes = GROWTH.map(|f| (f * n as f64).round() as usize);
        for (sweep, rho, size) in RHOS
            .iter()
            .map(|&r| ("rho", r, n))
            .chain(sizes[..3].iter().map(|&s| ("growth", 0.05, s)))
        {
            for (mode, supervised) in [
                ("closed", false),
                ("closed", true),
                ("open", false),
                ("open", true),
            ] {
                rows.push(Row {
                    sweep,
                    rho,
                    exchanges: size,
                    watermarked_tokens: (rho * size as f64 * 10.0) as usize,
                    mode,
                    supervised,
                    scored: 100,
                    log10_p: -rho * 100.0 - size as f64 / 1000.0,
                    rank: 1,
                    verdict: "RADIOACTIVE".into(),
                });
            }
        }
        Outcome {
            key_id: "k".into(),
            scheme: "s".into(),
            exchanges: n,
            student_answers: 4,
            controls: 200,
            rows,
        }
    }

    #[test]
    fn render_fills_every_cell_of_both_tables() {
        let files = render(&outcome());
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["results.json", "results.md", "rho.svg", "growth.svg"]
        );
        let md = &files[1].1;
        assert!(!md.contains('–'), "an empty cell:\n{md}");
        let table_rows = md
            .lines()
            .filter(|l| {
                l.starts_with("| ") && !l.starts_with("| ρ") && !l.starts_with("| exchanges")
            })
            .count();
        assert_eq!(table_rows, RHOS.len() + GROWTH.len());
        assert!(md.contains("| 5% | 400 | -5.8 (100) |"), "{md}");
        let json: serde_json::Value = serde_json::from_str(&files[0].1).unwrap();
        assert_eq!(json["rows"].as_array().unwrap().len(), 36);
    }
}
