//! The demo pipeline: teacher corpora → students → questioning → tests → table and report.

use std::path::PathBuf;

use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};
use tracemark_embed::{Record, SamplingParams};
use tracemark_io::TextTokenizer;
use tracemark_radioactivity::{ControlOptions, DEFAULT_ALPHA, Investigation, Report};
use tracemark_workflow::corpus::{CorpusSpec, teacher_chat, teacher_corpus};
use tracemark_workflow::distil::{distil, mix, shuffled};
use tracemark_workflow::investigate::{
    Examination, Probe, RANDOM_KEYS, SUPERVISED_CONTEXT, examine, examine_tuples, filter_from_texts,
};
use tracemark_workflow::question::{Questioning, question};
use tracemark_workflow::{Chat, OnlyUnit, Progress, PromptFormat, WorkflowError};

use crate::accounts::{AccountStory, HARVEST_SHARE, Serving, attribute_student, master, serve};
use crate::{PromptSet, Split};

/// How big a demo run is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Training prompts the teacher answers (twice: with and without the watermark).
    pub train_prompts: usize,
    /// Held-out prompts each student is questioned with.
    pub query_prompts: usize,
    /// Answers the investigator asks for per held-out prompt (sampled independently).
    pub query_repeats: usize,
    /// The same for the student of the account story, which is traced to accounts: each
    /// account's share of the signal is a fraction of the global one, so it needs more text.
    pub trace_repeats: usize,
    /// Longest teacher answer, in tokens.
    pub teacher_tokens: usize,
    /// Longest student answer, in tokens.
    pub student_tokens: usize,
    /// The small watermarked fraction ρ.
    pub small_rho: f64,
    /// The ρ = 100% student must reach log10 p at or below this in the closed test.
    pub target_log10_p: f64,
    /// Whether the small-ρ student must be flagged by the supervised closed test (at full
    /// scale; a quick run has too few watermarked answers for it).
    pub small_rho_target: bool,
    /// Whether the account story must attribute every harvester with a set-test p ≤ 1e-6
    /// (at full scale; a quick run checks only that no innocent account is attributed).
    pub attribution_target: bool,
}

impl Scale {
    /// The full demo: ≤ 10 minutes on 2 cores on a first run.
    pub const FULL: Scale = Scale {
        train_prompts: 200,
        query_prompts: 126,
        query_repeats: 4,
        trace_repeats: 8,
        teacher_tokens: 80,
        student_tokens: 256,
        small_rho: 0.05,
        target_log10_p: -12.0,
        small_rho_target: true,
        attribution_target: true,
    };

    /// `--quick`: the same structure on smaller corpora (≤ 90 s).
    pub const QUICK: Scale = Scale {
        train_prompts: 24,
        query_prompts: 40,
        query_repeats: 1,
        trace_repeats: 1,
        teacher_tokens: 64,
        student_tokens: 64,
        small_rho: 0.05,
        target_log10_p: -6.0,
        small_rho_target: false,
        attribution_target: false,
    };
}

/// Settings of a demo run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Corpus sizes.
    pub scale: Scale,
    /// Seed of the demo key and of all sampling.
    pub seed: u64,
    /// The teacher model (GGUF).
    pub model: PathBuf,
    /// Where teacher corpora are cached.
    pub cache: PathBuf,
    /// Regenerate cached corpora.
    pub fresh: bool,
    /// Where the students' answers and the report go.
    pub out: PathBuf,
    /// CPU threads for llama.cpp.
    pub threads: usize,
    /// Random keys per test.
    pub controls: usize,
    /// The watermark ([`demo_config`] by default).
    pub config: WatermarkConfig,
    /// The account story: serve many accounts, a few of which harvest, and trace them.
    pub accounts: Option<AccountStory>,
}

/// The demo's default context width h.
pub const DEMO_CONTEXT: usize = 1;

/// The demo's default logit bias δ.
pub const DEMO_DELTA: f64 = 3.0;

/// The demo's watermark: KGW γ = 0.25 with LeftHash seeding over `h` tokens and bias `delta`
/// (defaults [`DEMO_CONTEXT`], [`DEMO_DELTA`]; see the README for the evidence behind them).
pub fn demo_config(h: usize, delta: f64) -> Result<WatermarkConfig, tracemark_core::CoreError> {
    Ok(WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25)?,
            delta: Delta::new(delta)?,
        },
        seeding: Seeding::new(SeedingKind::LeftHash, h)?,
    })
}

/// The demo key for `seed`. Its secret is derived from the seed, so it is public: a demo key
/// proves nothing outside the demo.
pub fn demo_key(seed: u64, config: WatermarkConfig) -> Key {
    Key::derive("tracemark/demo-key/v1", seed, config)
}

/// One row of the verdict table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// Student name.
    pub student: String,
    /// Watermarked fraction of its training answers.
    pub rho: f64,
    /// Which test.
    pub test: String,
    /// Tuples scored.
    pub scored: u64,
    /// log10 p.
    pub log10_p: f64,
    /// The true key's rank among all keys.
    pub rank: usize,
    /// Keys ranked (random keys + 1).
    pub keys: usize,
    /// Verdict label.
    pub verdict: String,
}

/// What a demo run produced.
#[derive(Debug, Clone)]
pub struct DemoOutcome {
    /// The verdict table.
    pub rows: Vec<Row>,
    /// The evidence report (also written to `out`).
    pub report: Report,
    /// Whether the targets of this scale are met.
    pub targets: Vec<(String, bool)>,
}

struct Student {
    name: &'static str,
    rho: f64,
    /// The student, answering as it was trained.
    chat: Chat,
    /// The watermarked answers it was trained on (the supervised filter's corpus).
    watermarked: Vec<usize>,
}

/// Runs the demo.
pub fn run(options: &DemoOptions, progress: &dyn Progress) -> Result<DemoOutcome, WorkflowError> {
    let scale = options.scale;
    let prompts = PromptSet::bundled();
    let train: Vec<String> = prompts
        .split(Split::Train)
        .iter()
        .take(scale.train_prompts)
        .map(|p| p.prompt.clone())
        .collect();
    let query: Vec<String> = prompts
        .split(Split::Query)
        .iter()
        .take(scale.query_prompts)
        .map(|p| p.prompt.clone())
        .collect();
    let key = demo_key(options.seed, options.config);
    let tokenizer = TextTokenizer::default_model()?;
    WorkflowError::create_dir(&options.cache)?;
    WorkflowError::create_dir(&options.out)?;

    // 1. The provider's teacher answers the training prompts, watermarked and not.
    let (mut chat, model_id) = teacher_chat(&options.model, options.threads)?;
    let params = SamplingParams::new(0.8, 0, 0.95, options.seed.wrapping_mul(1_000_003))?;
    let corpus = |key: Option<&Key>,
                  chat: &mut Chat,
                  seed_offset: u64|
     -> Result<Vec<Record>, WorkflowError> {
        let spec = CorpusSpec {
            key,
            prompts: &train,
            params: params.with_seed(params.seed() + seed_offset),
            max_tokens: scale.teacher_tokens,
            accounts: None,
        };
        let path = spec.cache_path(&options.cache, &model_id);
        if options.fresh {
            let _ = std::fs::remove_file(&path);
        }
        teacher_corpus(chat, &spec, &path, progress)
    };
    progress.stage("1/4 teacher answers the training prompts with the watermark");
    let marked = corpus(Some(&key), &mut chat, 0)?;
    progress.stage("1/4 teacher answers the training prompts without it");
    let plain = corpus(None, &mut chat, 500_000)?;
    let story = match options.accounts {
        Some(story) => {
            progress.stage("1/4 teacher serves the training prompts to the accounts");
            let serving = serve(story, train.len(), options.seed);
            let master = master(&key)?;
            let spec = CorpusSpec {
                key: Some(&master),
                prompts: &train,
                params,
                max_tokens: scale.teacher_tokens,
                accounts: Some(&serving.served_to),
            };
            let path = spec.cache_path(&options.cache, &model_id);
            if options.fresh {
                let _ = std::fs::remove_file(&path);
            }
            let served = teacher_corpus(&mut chat, &spec, &path, progress)?;
            Some((serving, master, served))
        }
        None => None,
    };
    drop(chat);
    let marked_path = options.out.join("watermarked-answers.jsonl");
    tracemark_io::write_jsonl(&marked_path, &marked, true)?;

    // 2. The competitor distils students from harvested answers.
    progress.stage("2/4 distilling students");
    let n = train.len();
    let small = ((scale.small_rho * n as f64).round() as usize).max(1);
    let order = shuffled(n, options.seed);
    let mixes: [(&'static str, f64, Vec<usize>); 3] = [
        ("student-100", 1.0, (0..n).collect()),
        (
            "student-5",
            small as f64 / n as f64,
            order[..small].to_vec(),
        ),
        ("control-0", 0.0, Vec::new()),
    ];
    let mut students = Vec::new();
    progress.start(mixes.len() as u64, "students");
    for (name, rho, wm) in mixes {
        let mut mask = vec![false; n];
        wm.iter().for_each(|&i| mask[i] = true);
        let model = distil(&tokenizer, mix(&mask, &marked, &plain))?;
        let separator = model.specials().separator;
        students.push(Student {
            name,
            rho,
            chat: Chat::new(
                Box::new(model),
                tokenizer.clone(),
                PromptFormat::Appended { separator },
            ),
            watermarked: wm,
        });
        progress.inc(1);
    }
    let mut harvest_student = match &story {
        Some((serving, _, served)) => {
            let model = distil(&tokenizer, mix(&serving.harvested, served, &plain))?;
            let separator = model.specials().separator;
            Some(Student {
                name: "student-harvest",
                rho: HARVEST_SHARE,
                chat: Chat::new(
                    Box::new(model),
                    tokenizer.clone(),
                    PromptFormat::Appended { separator },
                ),
                watermarked: (0..n).filter(|&i| serving.harvested[i]).collect(),
            })
        }
        None => None,
    };
    progress.finish();
    // The control's supervised filter: the watermarked answers the ρ-small student saw, as an
    // investigator who suspects that subset would use.
    let control_filter = students[1].watermarked.clone();

    // 3. The investigator questions every student with held-out prompts.
    progress.stage("3/4 questioning the students");
    progress.start(
        ((students.len() * scale.query_repeats
            + usize::from(harvest_student.is_some()) * scale.trace_repeats)
            * query.len()) as u64,
        "student answers",
    );
    let mut answer_files = Vec::new();
    let plain_students = students.len();
    for (s, student) in students
        .iter_mut()
        .chain(harvest_student.as_mut())
        .enumerate()
    {
        let path = options.out.join(format!("{}-answers.jsonl", student.name));
        let questioning = Questioning {
            prompts: &query,
            repeats: if s < plain_students {
                scale.query_repeats
            } else {
                scale.trace_repeats
            },
            max_tokens: scale.student_tokens,
            seed: options
                .seed
                .wrapping_mul(7_919)
                .wrapping_add((s * 100_000) as u64),
        };
        question(&mut student.chat, &questioning, &path, progress)?;
        answer_files.push(path);
    }
    progress.finish();

    // 4. Closed tests (plain and supervised) and the open test, each with random-key controls.
    progress.stage("4/4 testing with random-key controls");
    let h = key.config().seeding.lookback();
    progress.start(
        (students.len() * 3 * options.controls) as u64,
        "random keys",
    );
    let controls = ControlOptions {
        keys: options.controls,
        seed: options.seed,
    };
    let mut investigations = Vec::new();
    let mut rows = Vec::new();
    for (s, student) in students.iter_mut().enumerate() {
        let filter_docs = if student.watermarked.is_empty() {
            &control_filter
        } else {
            &student.watermarked
        };
        let seen = filter_docs.iter().map(|&i| marked[i].response.as_str());
        let filter = filter_from_texts(&tokenizer, SUPERVISED_CONTEXT.max(h), seen)?;
        for test in ["closed", "closed, supervised", "open (reading)"] {
            let answers = |filter| {
                let probe = Probe::Answers {
                    path: &answer_files[s],
                    prompts: None,
                    exclude_prompts: true,
                };
                (probe, filter)
            };
            let (probe, filter) = match test {
                "closed" => answers(None),
                "closed, supervised" => answers(Some((&filter, None))),
                _ => (
                    Probe::Reading {
                        model: student.chat.model(),
                        texts: &marked_path,
                    },
                    None,
                ),
            };
            let examination = Examination {
                key: &key,
                tokenizer: &tokenizer,
                probe,
                filter,
                suspect: format!("{} (ρ = {:.0}%)", student.name, student.rho * 100.0),
                alpha: DEFAULT_ALPHA,
                controls,
                samples: 2,
            };
            let keys_only = OnlyUnit::new(progress, RANDOM_KEYS);
            let inv = examine(examination, &keys_only)?;
            rows.push(row(student, test, &inv));
            investigations.push(inv);
        }
    }
    progress.finish();
    let mut attribution = None;
    if let (Some((serving, master, _)), Some(student)) = (&story, &harvest_student) {
        progress.stage("4/4 tracing the harvest student to accounts");
        let examination = Examination {
            key: master,
            tokenizer: &tokenizer,
            probe: Probe::Answers {
                path: &answer_files[students.len()],
                prompts: None,
                exclude_prompts: true,
            },
            filter: None,
            suspect: format!(
                "{} (harvested by {} accounts)",
                student.name,
                serving.harvesters.len()
            ),
            alpha: DEFAULT_ALPHA,
            controls,
            samples: 2,
        };
        progress.start(options.controls as u64, RANDOM_KEYS);
        let keys_only = OnlyUnit::new(progress, RANDOM_KEYS);
        let (inv, tuples) = examine_tuples(examination, &keys_only)?;
        progress.finish();
        rows.push(row(student, "closed", &inv));
        let table = tracemark_attribution::ColourTable::from_tuples(
            &tracemark_core::Watermark::new(master),
            &tuples,
        )?;
        let section = attribute_student(master, &table, serving, &inv.suspect, DEFAULT_ALPHA)?;
        investigations.push(inv);
        attribution = Some((section, serving.clone()));
    }
    let mut report = Report::new(&key, investigations);
    let mut targets = targets(&rows, &scale);
    if let Some((section, serving)) = attribution {
        targets.extend(attribution_targets(&section, &serving, &scale));
        report.attribution = Some(section);
    }
    tracemark_report::write_report(&options.out, &report)?;
    Ok(DemoOutcome {
        rows,
        report,
        targets,
    })
}

fn row(student: &Student, test: &str, inv: &Investigation) -> Row {
    Row {
        student: student.name.to_string(),
        rho: student.rho,
        test: test.to_string(),
        scored: inv.test.scored,
        log10_p: inv.test.log10_p,
        rank: inv.controls.rank,
        keys: inv.controls.keys + 1,
        verdict: inv.finding.verdict.label().to_string(),
    }
}

/// The account story's claims, checked on this run.
fn attribution_targets(
    section: &tracemark_radioactivity::AttributionSection,
    serving: &Serving,
    scale: &Scale,
) -> Vec<(String, bool)> {
    let innocent_attributed = section
        .attributed
        .iter()
        .any(|a| !serving.harvesters.contains(a));
    let mut out = vec![(
        "no innocent account attributed".to_string(),
        !innocent_attributed,
    )];
    if scale.attribution_target {
        out.push((
            format!("all {} harvesters attributed", serving.harvesters.len()),
            serving
                .harvesters
                .iter()
                .all(|h| section.attributed.contains(h)),
        ));
        out.push((
            "harvesters' set test at p ≤ 1e-6".to_string(),
            section.harvesters_set_p.is_some_and(|p| p <= 1e-6),
        ));
    }
    out.push((
        "innocent set of the same size at p ≥ 0.01".to_string(),
        section.innocent_set_p.is_some_and(|p| p >= 0.01),
    ));
    out
}

/// The demo's claims, checked on this run.
fn targets(rows: &[Row], scale: &Scale) -> Vec<(String, bool)> {
    let find =
        |student: &str, test: &str| rows.iter().find(|r| r.student == student && r.test == test);
    let mut out = Vec::new();
    if let Some(r) = find("student-100", "closed") {
        out.push((
            format!(
                "ρ = 100% flagged by the closed test at p ≤ 1e{:.0}",
                scale.target_log10_p
            ),
            r.log10_p <= scale.target_log10_p && r.verdict == "RADIOACTIVE",
        ));
    }
    if let Some(r) = find("student-5", "closed, supervised").filter(|_| scale.small_rho_target) {
        out.push((
            "ρ small flagged by the supervised closed test at p ≤ 1e-3".to_string(),
            r.log10_p <= -3.0 && r.verdict == "RADIOACTIVE",
        ));
    }
    let control: Vec<&Row> = rows.iter().filter(|r| r.student == "control-0").collect();
    out.push((
        "control never flagged, p ≥ 0.01 in every test".to_string(),
        control
            .iter()
            .all(|r| r.log10_p >= -2.0 && r.verdict != "RADIOACTIVE"),
    ));
    out
}
