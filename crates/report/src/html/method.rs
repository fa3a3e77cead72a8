//! The report's method section: every assumption behind the verdict, in plain words, with
//! each investigation's own settings.

use std::fmt::Write as _;

use crate::labels::{mode_text, supervised_text};
use crate::markup::{escape, thousands};
use tracemark_radioactivity::verdict::{CONTROLS_KS_ALPHA, MIN_CONTROLS};
use tracemark_radioactivity::{Mode, Report};

use crate::charts::alpha_text;

/// Writes the method section.
pub(super) fn methodology(out: &mut String, report: &Report) {
    let invs = &report.investigations;
    let closed = invs.iter().any(|i| i.mode == Mode::Closed);
    let open = invs.iter().any(|i| i.mode == Mode::Open);
    let kgw: Vec<f64> = invs
        .iter()
        .filter(|i| i.test.scheme == "kgw")
        .map(|i| i.test.null_mean)
        .collect();
    let gumbel = invs.iter().any(|i| i.test.scheme == "gumbel");
    let gamma = kgw
        .first()
        .filter(|g| g.is_finite())
        .map_or("γ".to_string(), |g| format!("γ = {g}"));

    out.push_str(
        "<section id=\"method\"><h2>Method: what was done and what it assumes</h2>\
         <p>A model fine-tuned on watermarked text picks up the watermark's bias (Sander et al., \
         2024, “Watermarking makes language models radioactive”). The test asks whether the \
         suspect's tokens carry that bias for our key more often than chance allows.</p>\
         <ul class=\"method\">",
    );
    out.push_str(
        "<li><b>What is scored.</b> The watermark chose each token from a <i>window</i> of the h \
         tokens before it (h is the context width in the scheme above). A scored item is a \
         <i>tuple</i>: a window and the token that followed it.",
    );
    if closed || invs.is_empty() {
        out.push_str(
            " <i>Closed test (answers):</i> only the suspect's answers are available; each answer \
             token is scored with its preceding window.",
        );
    }
    if open || invs.is_empty() {
        out.push_str(
            " <i>Open test (reading mode):</i> the watermarked texts are fed through the \
             suspect's own weights; after each window of the watermarked text, the suspect's most \
             likely next token (its top-1 prediction) is scored. Windows that already occurred \
             earlier in the same text are skipped, because there the model could simply copy \
             what it has just read.",
        );
    }
    out.push_str("</li>");
    out.push_str(
        "<li><b>Each tuple counts once.</b> A (window, token) tuple that occurs several times \
         anywhere in the suspect's text is scored only the first time (global dedup). Repeated \
         phrases would otherwise be counted again and again, and the p-value assumes \
         independent tuples.</li>\
         <li><b>Prompt windows are excluded.</b> A position whose window also occurs in the \
         prompt that produced the answer is not scored. If the questions themselves were \
         watermarked, a clean model that merely repeats words of the question would otherwise \
         look radioactive.</li>\
         <li><b>Supervised filter.</b> When the watermarked corpus the suspect may have trained \
         on is known, only windows that occur in it are scored (optionally only its N most \
         frequent windows). This focuses the test where training would leave a trace. The \
         filter looks only at tokens, never at the key, so it does not bias the test.</li>",
    );
    w!(
        out,
        "<li><b>Null hypothesis (H0).</b> The suspect never trained on text watermarked with \
         this key. Then, whatever it writes, the key is independent of its text, so"
    );
    if !kgw.is_empty() || invs.is_empty() {
        w!(
            out,
            " (KGW) each scored tuple is green with probability {gamma}, independently of the \
             others"
        );
    }
    if gumbel {
        out.push_str(
            "; (Gumbel) each scored tuple's score −ln(1−u) follows an exponential distribution \
             with mean 1, independently of the others",
        );
    }
    out.push_str(
        ".</li><li><b>The p-value</b> is the exact probability, under H0, of a result at \
         least as extreme as the one observed:",
    );
    if !kgw.is_empty() || invs.is_empty() {
        out.push_str(
            " for KGW, at least k green tuples out of n, the binomial tail P(Bin(n, γ) ≥ k);",
        );
    }
    if gumbel {
        out.push_str(" for Gumbel, a total score of at least S over n tuples, the gamma tail P(Gamma(n, 1) ≥ S);");
    }
    out.push_str(
        " no normal approximation is used, and very small values are computed in log space, so \
         p = 1e-400 is meaningful. A small p-value means the suspect's tokens follow the \
         watermark more often than chance.</li>",
    );
    w!(
        out,
        "<li><b>Random-key controls.</b> The same test is run on the same tuples with M random \
         keys that have nothing to do with the suspect. Under H0 the true key is just one more \
         random key. Its <i>rank</i> is 1 plus the number of random keys whose p-value is at \
         least as small; the <i>permutation p-value</i> rank/(M+1) is valid even if the \
         independence assumption fails, but can never be smaller than 1/(M+1). The random \
         keys' p-values must look uniform between 0 and 1: a one-sided Kolmogorov–Smirnov \
         test at level {CONTROLS_KS_ALPHA} checks that they do not pile up near 0. If they do, \
         random keys also “find” a watermark, the data break the independence assumption \
         (usually because the text is too repetitive), and the analytic p-value is not \
         trusted.</li></ul>"
    );
    w!(
        out,
        "<h3>The verdict rule</h3><ol class=\"rule\">\
         <li>Nothing scored, or fewer than {MIN_CONTROLS} random-key controls: \
         <b>inconclusive</b>.</li>\
         <li>The random keys' p-values are smaller than uniform (one-sided KS p &lt; \
         {CONTROLS_KS_ALPHA}): <b>inconclusive</b>, because the null hypothesis itself fails \
         on this data.</li>\
         <li>p ≤ α and the true key ranks first among all M+1 keys: <b>RADIOACTIVE</b>. p ≤ α but \
         some random key scored as low: <b>inconclusive</b>.</li>\
         <li>Otherwise: <b>not radioactive</b>.</li></ol>"
    );
    if invs.is_empty() {
        out.push_str("</section>\n");
        return;
    }
    out.push_str(
        "<h3>Settings of each test</h3><div class=\"wide\"><table><thead><tr><th>suspect</th><th>mode</th>\
         <th>what was scored</th><th>prompt-window exclusion</th><th>supervised filter</th>\
         <th class=\"n\">α</th><th class=\"n\">random keys (seed)</th></tr></thead><tbody>\n",
    );
    for inv in invs {
        let scored = match inv.mode {
            Mode::Closed => "answer tokens with their preceding window",
            Mode::Open => "top-1 predictions after each new window of the watermarked text",
        };
        let exclusion = if inv.prompt_exclusion {
            "on"
        } else if inv.mode == Mode::Closed {
            "<b>off</b>: words copied from watermarked prompts would count as evidence"
        } else {
            "off"
        };
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{scored}</td><td>{exclusion}</td><td>{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{} ({})</td></tr>\n",
            escape(&inv.suspect),
            mode_text(inv.mode),
            escape(&supervised_text(inv)),
            alpha_text(inv.alpha),
            thousands(inv.controls.keys as u64),
            inv.controls.seed,
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}
