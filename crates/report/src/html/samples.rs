//! The sample of suspect text, every token coloured by what happened to its tuple.

use std::fmt::Write as _;

use crate::markup::escape;
use tracemark_radioactivity::{Investigation, Mark, Mode, Sample, Skip};

/// Why a position was not scored, in words, for its tooltip.
fn skip_text(s: Skip) -> &'static str {
    match s {
        Skip::Prefix => "one of the first h tokens (no full window)",
        Skip::PromptWindow => "its window occurs in the prompt",
        Skip::RepeatedWindow => "its window already occurred earlier in this text",
        Skip::NotInFilter => "its window is not in the training filter",
        Skip::Duplicate => "this (window, token) tuple was already scored",
    }
}

/// Gumbel score classes: no colour below 0.5, strongest from 4.5 (P ≈ 1% under H0).
fn gumbel_class(score: f64) -> &'static str {
    match score {
        s if s.is_nan() || s < 0.5 => "q0",
        s if s < 1.0 => "q1",
        s if s < 2.0 => "q2",
        s if s < 3.0 => "q3",
        s if s < 4.5 => "q4",
        _ => "q5",
    }
}

/// The samples with every token coloured by its outcome, and a legend.
pub(super) fn samples(out: &mut String, inv: &Investigation) {
    if inv.samples.is_empty() {
        return;
    }
    let marks = || inv.samples.iter().flat_map(|s| &s.pieces).map(|p| p.mark);
    let kgw = marks().any(|m| matches!(m, Mark::Kgw { .. }));
    let gumbel = marks().any(|m| matches!(m, Mark::Gumbel { .. }));
    let what = match inv.mode {
        Mode::Closed => "the suspect's answers",
        Mode::Open => {
            "watermarked texts read by the suspect; each token is coloured by the suspect's \
             own prediction at that position (hover to see it)"
        }
    };
    w!(out, "<h3>Sample: {what}</h3><div class=\"legend\">");
    if kgw {
        out.push_str(
            "<span class=\"t g\">green</span> scored, green (what the watermark favours) \
             <span class=\"t r\">red</span> scored, red ",
        );
    }
    if gumbel {
        out.push_str(
            "score −ln(1−u), 1 on average by chance: <span class=\"t q1\">0.5–1</span>\
             <span class=\"t q2\">1–2</span><span class=\"t q3\">2–3</span>\
             <span class=\"t q4\">3–4.5</span><span class=\"t q5\">≥ 4.5</span> ",
        );
    }
    out.push_str("<span class=\"t s\">grey</span> not scored (hover for why)</div>\n");
    for (i, s) in inv.samples.iter().enumerate() {
        sample(out, i, s);
    }
}

fn sample(out: &mut String, i: usize, s: &Sample) {
    let (mut green, mut red, mut scored, mut skipped) = (0, 0, 0, 0);
    for p in &s.pieces {
        match p.mark {
            Mark::Kgw { green: true } => green += 1,
            Mark::Kgw { green: false } => red += 1,
            Mark::Gumbel { .. } => scored += 1,
            Mark::Skipped { .. } => skipped += 1,
        }
    }
    let tally = if green + red > 0 {
        format!("{green} green, {red} red, {skipped} not scored")
    } else {
        format!("{scored} scored, {skipped} not scored")
    };
    let id =
        s.id.as_deref()
            .map(|id| format!(" · {}", escape(id)))
            .unwrap_or_default();
    w!(
        out,
        "<div class=\"sample\"><div class=\"shead\">sample {}{id} — {tally}</div>",
        i + 1
    );
    if let Some(prompt) = &s.prompt {
        w!(
            out,
            "<div class=\"prompt\"><span class=\"tag\">prompt</span>{}</div>",
            escape(prompt)
        );
    }
    out.push_str("<div class=\"text\">");
    for p in &s.pieces {
        let (class, mut title) = match p.mark {
            Mark::Kgw { green: true } => ("g", "green".to_string()),
            Mark::Kgw { green: false } => ("r", "red".to_string()),
            Mark::Gumbel { score } => (
                gumbel_class(score),
                if score.is_finite() {
                    format!("score {score:.2}")
                } else {
                    "score n/a".to_string()
                },
            ),
            Mark::Skipped { reason } => ("s", format!("not scored: {}", skip_text(reason))),
        };
        if let Some(pred) = &p.predicted {
            title.push_str(&format!(" · suspect predicted {pred:?}"));
        }
        w!(
            out,
            "<span class=\"t {class}\" title=\"{}\">{}</span>",
            escape(&title),
            escape(&p.text)
        );
    }
    out.push_str("</div></div>\n");
}
