//! Human and JSON output of detection results.

use serde_json::{Value, json};
use tracemark_core::Key;
use tracemark_detect::{Detection, DocumentResult, TokenStatus, TokenView, Verdict};

use crate::out::outln;

/// Prints results as they come.
pub struct Printer {
    key_id: String,
    config: String,
    seeding: &'static str,
    context: usize,
    json: bool,
    /// Documents printed so far that were watermarked on their own.
    watermarked: u64,
}

impl Printer {
    pub fn new(key: &Key, json: bool) -> Self {
        let c = key.config();
        Self {
            key_id: key.id().to_string(),
            config: c.describe(),
            seeding: c.seeding.kind.name(),
            context: c.seeding.lookback(),
            json,
            watermarked: 0,
        }
    }

    pub fn document(&mut self, r: &DocumentResult) -> std::io::Result<()> {
        if r.detection.verdict == Verdict::Watermarked {
            self.watermarked += 1;
        }
        if self.json {
            let mut v = self.header();
            merge(&mut v, serde_json::to_value(r).expect("results serialize"));
            return outln!("{v}");
        }
        let name = match (r.line, &r.id) {
            (Some(line), Some(id)) => format!("{}:{line} (id {id})", r.source),
            (Some(line), None) => format!("{}:{line}", r.source),
            _ => r.source.clone(),
        };
        self.block(&name, &r.detection)?;
        if let Some(tokens) = &r.tokens {
            outln!("{}", highlight(tokens))?;
        }
        Ok(())
    }

    /// The test over all documents pooled, each distinct tuple counted once.
    pub fn aggregate(&mut self, d: &Detection, documents: u64) -> std::io::Result<()> {
        if self.json {
            let mut v = self.header();
            v["aggregate"] = json!(true);
            v["documents"] = json!(documents);
            v["documents_watermarked"] = json!(self.watermarked);
            merge(&mut v, serde_json::to_value(d).expect("results serialize"));
            return outln!("{v}");
        }
        outln!()?;
        self.block(
            &format!(
                "{documents} documents pooled ({} of them watermarked on their own; each \
                 distinct tuple counted once)",
                self.watermarked
            ),
            d,
        )
    }

    fn header(&self) -> Value {
        json!({ "key_id": self.key_id, "seeding": self.seeding, "context": self.context })
    }

    fn block(&self, name: &str, d: &Detection) -> std::io::Result<()> {
        let t = &d.test;
        outln!(
            "{name}: {}  p = {}  ({} tuples scored)",
            d.verdict.label(),
            format_p(t.p_value, t.log10_p),
            t.scored
        )?;
        outln!("  key      {}  {}", self.key_id, self.config)?;
        outln!(
            "  tokens   {}  scored {}  skipped {} prefix / {} repeated / {} in prompt{}",
            t.tokens,
            t.scored,
            d.skipped.prefix,
            d.skipped.duplicate,
            d.skipped.prompt,
            if d.dedup {
                ""
            } else {
                "  (no dedup: p-value NOT valid)"
            }
        )?;
        match t.green {
            Some(g) => outln!(
                "  green    {g} of {} = {:.3} (expect {} without watermark)  z = {:.2}",
                t.scored,
                t.score,
                t.null_mean,
                t.z
            )?,
            None => outln!(
                "  score    mean {:.3} per tuple (expect {} without watermark)  z = {:.2}",
                t.score,
                t.null_mean,
                t.z
            )?,
        }
        if let Some(w) = &d.window {
            match &w.best {
                Some(b) => outln!(
                    "  window   tokens {}..{} ({} scored): p = {} after correction for {} windows",
                    b.start_token,
                    b.end_token,
                    b.scored,
                    format_p(w.p_value, w.log10_p),
                    w.windows_tested
                )?,
                None => outln!("  window   nothing scored")?,
            }
        }
        Ok(())
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
}

/// `0.4123`, `3.1e-12`, or `10^-3010.3` below f64's range.
pub fn format_p(p: f64, log10_p: f64) -> String {
    if p >= 1e-3 {
        format!("{p:.4}")
    } else if p >= 1e-300 {
        format!("{p:.2e}")
    } else {
        format!("10^{log10_p:.1}")
    }
}

fn highlight(tokens: &[TokenView]) -> String {
    const GREEN: &str = "\x1b[30;42m";
    const RED: &str = "\x1b[30;41m";
    const DIM: &str = "\x1b[2m";
    const RESET: &str = "\x1b[0m";
    let mut out = String::new();
    for t in tokens {
        let style = match t.status {
            TokenStatus::Scored(s) if s.value() > std::f64::consts::LN_2 => GREEN,
            TokenStatus::Scored(_) => RED,
            TokenStatus::Skipped(_) => DIM,
        };
        // Keep newlines outside the colour so backgrounds don't run to the edge.
        for (i, part) in t.text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if !part.is_empty() {
                out.push_str(style);
                out.push_str(part);
                out.push_str(RESET);
            }
        }
    }
    out.push_str(&format!(
        "\n{GREEN}green{RESET} {RED}red{RESET} {DIM}not scored{RESET}"
    ));
    out
}
