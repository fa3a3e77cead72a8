//! Writes a plausible synthetic evidence report, for looking at the HTML page without a model.
//!
//! ```sh
//! cargo run --release -p tracemark-report --example sample_report -- report.html
//! cargo run --release -p tracemark-report --example sample_report -- --gumbel report.html
//! ```
//!
//! Four made-up suspects under one key: a student fine-tuned on watermarked answers
//! (radioactive), one trained on clean answers (not radioactive), the first student's weights
//! in reading mode, and a student whose tiny repetitive corpus breaks the calibration
//! (inconclusive). Green tokens, scores and random-key p-values are simulated; the p-values
//! are the real exact tests on the simulated tallies.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use tracemark_core::{Delta, Gamma, Scheme};
use tracemark_detect::{Tally, exact_test};
use tracemark_radioactivity::controls::summarize;
use tracemark_radioactivity::{
    ControlOptions, CurvePoint, Finding, Investigation, Mark, Mode, Piece, Report, Sample, Skip,
    TupleCounts,
};
use tracemark_report::html;

const GAMMA: f64 = 0.25;
const KEYS: usize = 200;

struct Sim {
    rng: ChaCha20Rng,
    scheme: Scheme,
}

impl Sim {
    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One scored tuple's contribution: green (KGW) or −ln(1−u) (Gumbel), with `bias` ≥ 0 the
    /// strength of the learnt watermark.
    fn draw(&mut self, bias: f64) -> (bool, f64) {
        match self.scheme {
            Scheme::Kgw { .. } => {
                let green = self.uniform() < GAMMA + bias;
                (green, if green { 1.0 } else { 0.0 })
            }
            Scheme::Gumbel => {
                let u = self.uniform().powf(1.0 / (1.0 + 4.0 * bias));
                (false, -(1.0 - u).max(1e-300).ln())
            }
        }
    }

    fn tally(&mut self, n: u64, bias: f64, curve: Option<&mut Vec<CurvePoint>>) -> Tally {
        let mut t = Tally::default();
        let every = n.div_ceil(200).max(1);
        let mut points = Vec::new();
        for i in 1..=n {
            let (green, s) = self.draw(bias);
            t.scored += 1;
            t.green += green as u64;
            t.score_sum += s;
            if i % every == 0 || i == n {
                points.push(CurvePoint {
                    scored: i,
                    log10_p: exact_test(&self.scheme, &t).log10_p,
                });
            }
        }
        if let Some(curve) = curve {
            *curve = points;
        }
        t
    }

    #[allow(clippy::too_many_arguments)]
    fn investigation(
        &mut self,
        suspect: &str,
        mode: Mode,
        supervised: Option<Option<usize>>,
        n: u64,
        bias: f64,
        control_bias: f64,
        samples: Vec<Sample>,
    ) -> Investigation {
        let mut curve = Vec::new();
        let mut tally = self.tally(n, bias, Some(&mut curve));
        tally.tokens = n * 10 / 7;
        let test = exact_test(&self.scheme, &tally);
        let log10_p: Vec<f64> = (0..KEYS)
            .map(|_| {
                // A repetitive corpus: each random key sees a random excess of green tuples.
                let b = control_bias * self.uniform();
                let t = self.tally(n, b, None);
                exact_test(&self.scheme, &t).log10_p
            })
            .collect();
        let options = ControlOptions {
            keys: KEYS,
            seed: 0,
        };
        let controls = summarize(&options, log10_p, test.log10_p);
        let alpha = 1e-3;
        let finding = Finding::decide(test.scored, test.log10_p, alpha, &controls);
        let skipped = tally.tokens - n;
        let counts = TupleCounts {
            documents: n / 120 + 1,
            tokens: tally.tokens,
            prefix: 3 * (n / 120 + 1),
            prompt_window: if mode == Mode::Closed { skipped / 5 } else { 0 },
            repeated_window: if mode == Mode::Open { skipped / 4 } else { 0 },
            not_in_filter: if supervised.is_some() { skipped / 3 } else { 0 },
            duplicate: 0,
            tuples: n,
            without_prompt: 0,
        };
        let named =
            counts.prefix + counts.prompt_window + counts.repeated_window + counts.not_in_filter;
        let counts = TupleCounts {
            duplicate: skipped.saturating_sub(named),
            ..counts
        };
        Investigation {
            suspect: suspect.to_string(),
            mode,
            supervised: supervised.is_some(),
            filter_top: supervised.flatten(),
            prompt_exclusion: mode == Mode::Closed,
            alpha,
            counts,
            test,
            curve,
            controls,
            finding,
            samples,
        }
    }

    /// A text cut into word pieces, marked as a suspect with watermark strength `bias` would be.
    fn sample(
        &mut self,
        id: &str,
        prompt: Option<&str>,
        text: &str,
        bias: f64,
        open: bool,
    ) -> Sample {
        let mut pieces = Vec::new();
        let words: Vec<&str> = text.split_inclusive([' ', '\n']).collect();
        for (i, w) in words.iter().enumerate() {
            let mark = if i < 3 {
                Mark::Skipped {
                    reason: Skip::Prefix,
                }
            } else if prompt.is_some() && i < 6 && self.uniform() < 0.5 {
                Mark::Skipped {
                    reason: Skip::PromptWindow,
                }
            } else if self.uniform() < 0.06 {
                Mark::Skipped {
                    reason: if open {
                        Skip::RepeatedWindow
                    } else {
                        Skip::Duplicate
                    },
                }
            } else {
                match (self.scheme, self.draw(bias)) {
                    (Scheme::Kgw { .. }, (green, _)) => Mark::Kgw { green },
                    (Scheme::Gumbel, (_, score)) => Mark::Gumbel { score },
                }
            };
            let predicted =
                (open && matches!(mark, Mark::Kgw { .. } | Mark::Gumbel { .. })).then(|| {
                    let next = words.get(i).copied().unwrap_or("");
                    if self.uniform() < 0.6 {
                        next.to_string()
                    } else {
                        " the".to_string()
                    }
                });
            pieces.push(Piece {
                text: w.to_string(),
                predicted,
                mark,
            });
        }
        Sample {
            id: Some(id.to_string()),
            prompt: prompt.map(str::to_string),
            pieces,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let gumbel = args.iter().any(|a| a == "--gumbel");
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: sample_report [--gumbel] OUT.html");
        std::process::exit(2);
    };
    let scheme = if gumbel {
        Scheme::Gumbel
    } else {
        Scheme::Kgw {
            gamma: Gamma::new(GAMMA).expect("valid gamma"),
            delta: Delta::new(2.0).expect("valid delta"),
        }
    };
    let mut sim = Sim {
        rng: ChaCha20Rng::seed_from_u64(if gumbel { 7 } else { 42 }),
        scheme,
    };
    let answer = "Photosynthesis turns light into chemical energy. In the chloroplasts, \
                  chlorophyll absorbs mostly red and blue light, and the energy splits water \
                  into oxygen & hydrogen.\nThe plant then uses carbon dioxide from the air to \
                  build sugars, such as glucose, in the Calvin cycle.";
    let code = "Wrap the list in a <ul> element and give each item an <li> tag:\n\n    \
                <ul class=\"steps\">\n      <li>Preheat & stir</li>\n    </ul>\n\nBrowsers \
                render it as a bulleted list.";
    let read = "Rivers carve valleys over thousands of years. The water carries sand and \
                stones downstream, and every flood deepens the channel a little more. Where \
                the rock is soft, the valley widens; where it is hard, it narrows into a gorge.";
    let a_samples = vec![
        sim.sample(
            "answers.jsonl:17",
            Some("How does photosynthesis work?"),
            answer,
            0.06,
            false,
        ),
        sim.sample(
            "answers.jsonl:42",
            Some("How do I make an HTML list?"),
            code,
            0.06,
            false,
        ),
    ];
    let b_samples = vec![sim.sample(
        "answers.jsonl:17",
        Some("How does photosynthesis work?"),
        answer,
        0.0,
        false,
    )];
    let open_samples = vec![sim.sample("corpus.jsonl:3", None, read, 0.03, true)];
    let investigations = vec![
        sim.investigation(
            "student-a/answers.jsonl",
            Mode::Closed,
            None,
            24_000,
            0.035,
            0.0,
            a_samples,
        ),
        sim.investigation(
            "student-b/answers.jsonl",
            Mode::Closed,
            None,
            21_000,
            0.0,
            0.0,
            b_samples,
        ),
        sim.investigation(
            "student-a.gguf",
            Mode::Open,
            Some(Some(5000)),
            9_000,
            0.04,
            0.0,
            open_samples,
        ),
        sim.investigation(
            "student-c/answers.jsonl",
            Mode::Closed,
            Some(None),
            2_000,
            0.02,
            0.06,
            Vec::new(),
        ),
    ];
    let report = Report {
        attribution: None,
        tool: format!("tracemark {}", env!("CARGO_PKG_VERSION")),
        key_id: "69601ba2be0a2f8c".to_string(),
        scheme: if gumbel {
            "gumbel selfhash(h=3)".to_string()
        } else {
            "kgw(γ=0.25, δ=2) selfhash(h=3)".to_string()
        },
        investigations,
    };
    if let Err(e) = std::fs::write(path, html::render(&report)) {
        eprintln!("cannot write {path}: {e}");
        std::process::exit(1);
    }
    for inv in &report.investigations {
        eprintln!("{}: {}", inv.suspect, inv.finding.verdict.label());
    }
    eprintln!("wrote {path}");
}
