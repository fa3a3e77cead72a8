//! The page's contract: self-contained, escaped, verdict first, finite numbers.

use tracemark_core::{Delta, Gamma, Scheme};
use tracemark_detect::{Tally, exact_test};

use super::*;
use tracemark_radioactivity::controls::{ControlOptions, summarize};
use tracemark_radioactivity::verdict::Finding;
use tracemark_radioactivity::{CurvePoint, Mark, Piece, Sample, Skip, TupleCounts};

fn kgw() -> Scheme {
    Scheme::Kgw {
        gamma: Gamma::new(0.25).unwrap(),
        delta: Delta::new(2.0).unwrap(),
    }
}

/// `n` uniform-looking random-key log10 p-values.
fn uniform_controls(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 + 0.5) / n as f64).log10())
        .collect()
}

fn piece(text: &str, mark: Mark) -> Piece {
    Piece {
        text: text.to_string(),
        predicted: None,
        mark,
    }
}

fn investigation(
    suspect: &str,
    scheme: &Scheme,
    tally: Tally,
    curve_steps: u64,
    controls: Vec<f64>,
    samples: Vec<Sample>,
) -> Investigation {
    let test = exact_test(scheme, &tally);
    let curve = (1..=curve_steps)
        .map(|k| {
            let part = Tally {
                scored: tally.scored * k / curve_steps,
                green: tally.green * k / curve_steps,
                score_sum: tally.score_sum * k as f64 / curve_steps as f64,
                ..tally
            };
            CurvePoint {
                scored: part.scored,
                log10_p: exact_test(scheme, &part).log10_p,
            }
        })
        .collect();
    let options = ControlOptions {
        keys: controls.len(),
        seed: 7,
    };
    let controls = summarize(&options, controls, test.log10_p);
    let finding = Finding::decide(test.scored, test.log10_p, 1e-3, &controls);
    Investigation {
        suspect: suspect.to_string(),
        mode: Mode::Closed,
        supervised: false,
        filter_top: None,
        prompt_exclusion: true,
        alpha: 1e-3,
        counts: TupleCounts {
            documents: 12,
            tokens: tally.tokens,
            prefix: 36,
            prompt_window: 40,
            duplicate: tally.tokens.saturating_sub(tally.scored + 76),
            tuples: tally.scored,
            ..TupleCounts::default()
        },
        test,
        curve,
        controls,
        finding,
        samples,
    }
}

fn two_students() -> Report {
    let hot = investigation(
        "student A & <b>co</b>",
        &kgw(),
        Tally {
            tokens: 1400,
            scored: 1000,
            green: 480,
            ..Tally::default()
        },
        20,
        uniform_controls(200),
        vec![Sample {
            id: Some("line 3 <id>".into()),
            prompt: Some("Say <script>alert('x')</script> & more".into()),
            pieces: vec![
                piece(
                    "Hello",
                    Mark::Skipped {
                        reason: Skip::Prefix,
                    },
                ),
                piece(" <script>alert(1)</script>", Mark::Kgw { green: true }),
                piece(" fish & chips\n", Mark::Kgw { green: false }),
                piece(
                    " <img src=\"https://example.org/x.png\">",
                    Mark::Kgw { green: false },
                ),
                piece(
                    " again",
                    Mark::Skipped {
                        reason: Skip::PromptWindow,
                    },
                ),
            ],
        }],
    );
    assert_eq!(
        hot.finding.verdict,
        Verdict::Radioactive,
        "{}",
        hot.finding.reason
    );
    let mut cold = investigation(
        "student B",
        &kgw(),
        Tally {
            tokens: 1000,
            scored: 800,
            green: 203,
            ..Tally::default()
        },
        10,
        uniform_controls(200),
        Vec::new(),
    );
    cold.mode = Mode::Open;
    cold.supervised = true;
    cold.filter_top = Some(1000);
    assert_eq!(
        cold.finding.verdict,
        Verdict::NotRadioactive,
        "{}",
        cold.finding.reason
    );
    Report {
        attribution: None,
        tool: "tracemark 0.1.0".into(),
        key_id: "69601ba2be0a2f8c".into(),
        scheme: "kgw(γ=0.25, δ=2) selfhash(h=3)".into(),
        investigations: vec![hot, cold],
    }
}

/// Words of the page, split at anything but letters, digits and `_`.
fn words(page: &str) -> impl Iterator<Item = &str> {
    page.split(|c: char| !(c.is_alphanumeric() || c == '_'))
}

fn assert_page_contract(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    let lower = page.to_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "a fetchable URL"
    );
    for element in [
        "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(",
    ] {
        assert!(!lower.contains(element), "{element}");
    }
    // No tag has a src attribute (escaped text may say "src=", but never inside a tag).
    for tag in lower.split('<').skip(1) {
        let tag = &tag[..tag.find('>').expect("tags close")];
        assert!(!tag.contains("src="), "<{tag}>");
    }
    for w in words(page) {
        assert!(
            !matches!(w, "NaN" | "inf" | "infinity" | "Infinity"),
            "non-finite number"
        );
    }
    for tag in ["svg", "div", "section", "table", "span", "p"] {
        let opens =
            page.matches(&format!("<{tag}>")).count() + page.matches(&format!("<{tag} ")).count();
        let closes = page.matches(&format!("</{tag}>")).count();
        assert_eq!(opens, closes, "unbalanced <{tag}>");
    }
}

#[test]
fn two_students_page() {
    let report = two_students();
    let page = render(&report);
    assert_page_contract(&page);

    // Untrusted text is escaped everywhere it appears.
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("Say &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
    assert!(page.contains("student A &amp; &lt;b&gt;co&lt;/b&gt;"));
    assert!(page.contains("line 3 &lt;id&gt;"));
    assert!(page.contains(" fish &amp; chips\n"));
    assert!(page.contains("&lt;img src=&quot;https&#58;//example.org/x.png&quot;&gt;"));

    // The verdicts come before any plot; both plots per investigation.
    let first_svg = page.find("<svg").unwrap();
    assert!(page.find("RADIOACTIVE").unwrap() < first_svg);
    assert!(page.find("not radioactive").unwrap() < first_svg);
    assert_eq!(page.matches("<svg").count(), 4);
    assert!(page.contains("<polyline"));

    // Summary and parameters.
    assert!(page.contains("1 of 201"), "rank of the radioactive student");
    assert!(page.contains("yes, top 1,000"));
    assert!(page.contains("69601ba2be0a2f8c"));
    assert!(page.contains("selfhash(h=3)"));
    assert!(page.contains(&fmt_p(report.investigations[0].test.log10_p)));
    assert!(page.contains(&escape(&report.investigations[1].finding.reason)));

    // Token marks and tooltips.
    assert!(page.contains("<span class=\"t g\" title=\"green\"> &lt;script&gt;"));
    assert!(page.contains("<span class=\"t r\" title=\"red\">"));
    assert!(page.contains("title=\"not scored: its window occurs in the prompt\""));
    assert!(page.contains("white-space:pre-wrap"));
}

#[test]
fn gumbel_and_edge_cases() {
    let gumbel = Scheme::Gumbel;
    // Open mode with predictions, Gumbel scores and an extreme p-value.
    let mut strong = investigation(
        "reader",
        &gumbel,
        Tally {
            tokens: 6000,
            scored: 5000,
            score_sum: 30_000.0,
            ..Tally::default()
        },
        50,
        uniform_controls(40),
        vec![Sample {
            id: None,
            prompt: None,
            pieces: vec![
                Piece {
                    text: "The".into(),
                    predicted: Some("\"><script>x</script>".into()),
                    mark: Mark::Gumbel { score: 6.0 },
                },
                Piece {
                    text: " cat".into(),
                    predicted: Some(" dog".into()),
                    mark: Mark::Gumbel { score: 0.2 },
                },
                piece(" sat", Mark::Gumbel { score: f64::NAN }),
                piece(
                    " sat",
                    Mark::Skipped {
                        reason: Skip::RepeatedWindow,
                    },
                ),
            ],
        }],
    );
    strong.mode = Mode::Open;
    assert!(strong.test.log10_p < -1000.0, "{}", strong.test.log10_p);
    strong.curve.push(CurvePoint {
        scored: 5000,
        log10_p: -5000.0,
    });

    // Nothing scored and no controls at all.
    let mut empty = investigation(
        "nobody",
        &gumbel,
        Tally::default(),
        0,
        Vec::new(),
        Vec::new(),
    );
    empty.counts = TupleCounts::default();
    assert_eq!(empty.finding.verdict, Verdict::Inconclusive);
    assert!(empty.curve.is_empty());
    assert_eq!(empty.test.log10_p, 0.0);

    let report = Report {
        attribution: None,
        tool: "tracemark test".into(),
        key_id: "0123456789abcdef".into(),
        scheme: "gumbel lefthash(h=2)".into(),
        investigations: vec![strong, empty],
    };
    let page = render(&report);
    assert_page_contract(&page);
    // log10 p ≈ −6970: the axis steps by 2000 down to 1e-8000 and the point is labelled.
    let lp = report.investigations[0].test.log10_p;
    assert!(
        page.contains(">1e-8000</text>"),
        "the axis reaches the extreme point"
    );
    assert!(page.contains(&format!("true key: p = {}", fmt_p(lp))));
    assert!(page.contains("no random keys were scored"));
    assert!(page.contains("no evidence curve: nothing was scored"));
    assert!(page.contains("class=\"t q5\""));
    assert!(page.contains("class=\"t q0\" title=\"score n/a\""));
    assert!(page.contains("suspect predicted &quot;\\&quot;&gt;&lt;script&gt;"));
    assert!(page.contains("P(Gamma(n, 1) ≥ S)"));
    assert!(page.contains("inconclusive"));
}

#[test]
fn single_investigation_leads_with_its_verdict() {
    let mut report = two_students();
    report.investigations.truncate(1);
    let page = render(&report);
    assert_page_contract(&page);
    assert!(!page.contains("class=\"summary\""));
    let verdict = page
        .find("<div class=\"verdict\">RADIOACTIVE</div>")
        .unwrap();
    assert!(verdict < page.find("What was tested").unwrap());

    let none = Report {
        attribution: None,
        investigations: Vec::new(),
        ..report
    };
    assert_page_contract(&render(&none));
}

#[test]
fn escapes_every_special_character() {
    assert_eq!(
        escape("<a href=\"x\">'&'</a>\u{0}\r\n\t"),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\u{FFFD}\n\t"
    );
    assert_eq!(
        escape("see https://example.org/a: ok"),
        "see https&#58;//example.org/a: ok"
    );
    assert_eq!(escape("a:/b :"), "a:/b :");
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(1234567), "1,234,567");
    assert_eq!(log10_text(-12.345), "−12.35");
    assert_eq!(log10_text(-5000.0), "−5000.0");
    assert_eq!(log10_text(f64::NAN), "n/a");
    assert_eq!(p_text(f64::NEG_INFINITY), "0");
    assert_eq!(p_text(0.0), "1");
    assert_eq!(p_text(-2.0), fmt_p(-2.0));
}

#[test]
fn the_attribution_section_ranks_escapes_and_calibrates() {
    use tracemark_radioactivity::{AttributionSection, RankedAccount, SetTestRow};
    let mut report = two_students();
    let evil = "<script>alert(1)</script>";
    report.attribution = Some(AttributionSection {
        suspect: "student-harvest".into(),
        served_accounts: 200,
        alpha: 1e-3,
        scored: 12_000,
        green: 5_000,
        ranking: vec![
            RankedAccount {
                account: "acct-00032".into(),
                rank: 1,
                score: 900,
                log10_p: -12.5,
                attributed: true,
                answers_read: None,
            },
            RankedAccount {
                account: evil.into(),
                rank: 2,
                score: 640,
                log10_p: -0.4,
                attributed: false,
                answers_read: None,
            },
        ],
        attributed: vec!["acct-00032".into()],
        set_tests: vec![SetTestRow {
            name: "the harvesters".into(),
            size: 3,
            log10_p: -20.0,
        }],
        phantom_log10_p: uniform_controls(1000),
        min_share: Some(0.042),
        harvesters: Some(vec!["acct-00032".into()]),
        harvesters_set_p: Some(1e-20),
        innocent_set_p: Some(0.4),
    });
    let page = render(&report);
    assert_page_contract(&page);
    assert!(page.contains("Which accounts?"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains(evil));
    assert!(page.contains("<b>attributed</b>"));
    assert!(page.contains("1000 phantom accounts"));
    assert!(page.contains("at least 4.2%"));
}
