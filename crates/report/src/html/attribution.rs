//! The report's attribution section: which accounts a suspect learned from, the set tests,
//! and the calibration on phantom accounts.

use std::fmt::Write as _;

use tracemark_radioactivity::AttributionSection;

use super::{log10_text, p_text};
use crate::charts::{alpha_text, p_histogram};
use crate::markup::{escape, thousands};

/// Writes the attribution section.
pub(super) fn attribution(out: &mut String, a: &AttributionSection) {
    let _ = write!(
        out,
        "<section id=\"attribution\"><h2>Which accounts? Attribution of {}</h2>\
         <p class=\"sub\">{} served accounts; {} distinct tuples scored, {} green. Each account's \
         score counts the green tuples that carry its colour; its p-value is exact given the \
         suspect's text, and valid even if the suspect learned from other accounts.</p>",
        escape(&a.suspect),
        thousands(a.served_accounts as u64),
        thousands(a.scored),
        thousands(a.green)
    );
    let attributed = if a.attributed.is_empty() {
        "no account".to_string()
    } else {
        a.attributed
            .iter()
            .map(|id| format!("<code>{}</code>", escape(id)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(
        out,
        "<p><b>Attributed at family-wise level α = {}</b> (Holm): {attributed}.</p>",
        alpha_text(a.alpha)
    );
    if let Some(h) = &a.harvesters {
        let ids: Vec<String> = h
            .iter()
            .map(|id| format!("<code>{}</code>", escape(id)))
            .collect();
        let _ = write!(
            out,
            "<p class=\"note\">Demo: the true harvesters are {}.</p>",
            ids.join(", ")
        );
    }
    // Open weights: each account was tested on the suspect's reading of its own answers.
    let open = a.ranking.iter().any(|r| r.answers_read.is_some());
    if open {
        out.push_str(
            "<p class=\"note\">Open weights: the suspect read a sample of each account's served \
             answers, and each account is tested on its own reading (answers read per account \
             in the ranking).</p>",
        );
    }
    let _ = write!(
        out,
        "<h3>Ranking</h3><div class=\"wide\"><table><tr><th class=\"n\">rank</th><th>account</th>\
         {}<th class=\"n\">score</th><th class=\"n\">p-value</th><th class=\"n\">log10 p</th><th></th></tr>",
        if open {
            "<th class=\"n\">answers read</th>"
        } else {
            ""
        }
    );
    for r in &a.ranking {
        let read = r
            .answers_read
            .map_or(String::new(), |n| format!("<td class=\"n\">{n}</td>"));
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}</td><td><code>{}</code></td>{read}<td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            r.rank,
            escape(&r.account),
            thousands(r.score),
            p_text(r.log10_p),
            log10_text(r.log10_p),
            if r.attributed {
                "<b>attributed</b>"
            } else {
                ""
            }
        );
    }
    out.push_str("</table></div>");
    if !a.set_tests.is_empty() {
        out.push_str(
            "<h3>Set tests</h3><table><tr><th>set</th><th class=\"n\">accounts</th>\
             <th class=\"n\">p-value</th></tr>",
        );
        for t in &a.set_tests {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&t.name),
                t.size,
                p_text(t.log10_p)
            );
        }
        out.push_str("</table>");
    }
    if let Some(share) = a.min_share {
        let _ = write!(
            out,
            "<p class=\"note\"><b>Power:</b> an account is attributed once at least {:.1}% of the \
             suspect's green tuples come from its answers (at best). No attribution means no \
             account reached that, not that none leaked.</p>",
            100.0 * share
        );
    }
    let _ = writeln!(
        out,
        "<h3>Calibration: {} phantom accounts</h3><div class=\"fig\">{}<div class=\"explain\">\
         <p>Phantom accounts are ids that were never served. They are exactly what an innocent \
         account is to this test, so their p-values should spread evenly over [0, 1]; a pile-up \
         near 0 would mean the test finds accounts that are not there.</p></div></div></section>",
        a.phantom_log10_p.len(),
        p_histogram(&a.phantom_log10_p, "phantom accounts", None)
    );
}
