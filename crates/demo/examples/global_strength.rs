//! The global strength of a master key, measured side by side with the plain key on the
//! demo's ρ = 100% closed test: the teacher answers the demo's 200 training prompts under the
//! plain demo key, and under master keys with δa = δ/2 (the default) and δa = δ (the demo's
//! account story), served to the story's 200 accounts; an order-4 student is distilled from
//! each corpus, questioned with the 126 held-out prompts four times, and its answers get the
//! closed test. The green lists of a master key are the plain key's, so every corpus is
//! scored by the same global test.
//!
//! `cargo run --release -p tracemark-demo --example global_strength -- [SEED]`

use tracemark_core::{AccountLayer, Key};
use tracemark_demo::{AccountStory, DEMO_CONTEXT, DEMO_DELTA, PromptSet, Scale, Split};
use tracemark_embed::SamplingParams;
use tracemark_io::TextTokenizer;
use tracemark_radioactivity::{ControlOptions, DEFAULT_ALPHA};
use tracemark_workflow::corpus::{CorpusSpec, teacher_chat, teacher_corpus};
use tracemark_workflow::distil::distil;
use tracemark_workflow::investigate::{Examination, Probe, examine};
use tracemark_workflow::question::{Questioning, question};
use tracemark_workflow::{Bars, Chat, PromptFormat, Quiet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map_or(Ok(0), |s| s.parse())?;
    let scale = Scale::FULL;
    let prompts = PromptSet::bundled();
    let take = |split, n| -> Vec<String> {
        prompts
            .split(split)
            .iter()
            .take(n)
            .map(|p| p.prompt.clone())
            .collect()
    };
    let (train, query) = (
        take(Split::Train, scale.train_prompts),
        take(Split::Query, scale.query_prompts),
    );
    let key =
        tracemark_demo::demo_key(seed, tracemark_demo::demo_config(DEMO_CONTEXT, DEMO_DELTA)?);
    let serving = tracemark_demo::serve(AccountStory::new(200, 3)?, train.len(), seed);
    let with_layer = |delta_a: f64| -> Result<Key, Box<dyn std::error::Error>> {
        let layer = AccountLayer::new(
            AccountLayer::DEFAULT_COLOURS,
            AccountLayer::DEFAULT_DIGITS,
            delta_a,
        )?;
        Ok(key.clone().with_accounts(layer)?)
    };
    let corpora = [
        ("plain key", key.clone(), false),
        ("master, δa = δ/2", with_layer(DEMO_DELTA / 2.0)?, true),
        ("master, δa = δ", with_layer(DEMO_DELTA)?, true),
    ];
    let bars = Bars::new(false);
    let cache = tracemark_io::models::cache_subdir("demo")?;
    let model = tracemark_workflow::models::default_model(&bars)?;
    let (mut teacher, model_id) = teacher_chat(
        &model,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    )?;
    let tokenizer = TextTokenizer::default_model()?;
    // The demo's teacher sampling, so the plain and δa = δ corpora are the demo's own.
    let params = SamplingParams::new(0.8, 0, 0.95, seed.wrapping_mul(1_000_003))?;
    let out = tempfile::tempdir()?;
    let mut rows = Vec::new();
    for (i, (name, key, served)) in corpora.iter().enumerate() {
        let spec = CorpusSpec {
            key: Some(key),
            prompts: &train,
            params,
            max_tokens: scale.teacher_tokens,
            accounts: served.then_some(serving.served_to.as_slice()),
        };
        let path = spec.cache_path(&cache, &model_id);
        let corpus = teacher_corpus(&mut teacher, &spec, &path, &bars)?;
        let student = distil(&tokenizer, &corpus)?;
        let separator = student.specials().separator;
        let mut chat = Chat::new(
            Box::new(student),
            tokenizer.clone(),
            PromptFormat::Appended { separator },
        );
        let answers = out.path().join(format!("answers-{i}.jsonl"));
        let questioning = Questioning {
            prompts: &query,
            repeats: scale.query_repeats,
            max_tokens: scale.student_tokens,
            seed: seed.wrapping_mul(7_919),
        };
        question(&mut chat, &questioning, &answers, &bars)?;
        let inv = examine(
            Examination {
                key,
                tokenizer: &tokenizer,
                probe: Probe::Answers {
                    path: &answers,
                    prompts: None,
                    exclude_prompts: true,
                },
                filter: None,
                suspect: name.to_string(),
                alpha: DEFAULT_ALPHA,
                controls: ControlOptions { keys: 20, seed },
                samples: 0,
            },
            &Quiet,
        )?;
        rows.push((name, inv.test.scored, inv.test.log10_p));
    }
    println!("seed {seed}: the ρ = 100% student's closed test (δ = {DEMO_DELTA})");
    println!(
        "{:<20} {:>8} {:>10} {:>8}",
        "teacher key", "tuples", "log10 p", "ratio"
    );
    let plain = rows[0].2;
    for (name, tuples, lp) in rows {
        println!("{name:<20} {tuples:>8} {lp:>10.1} {:>8.2}", lp / plain);
    }
    Ok(())
}
