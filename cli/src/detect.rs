//! `tracemark detect`.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use tracemark_core::Watermark;
use tracemark_detect::DetectOptions;
use tracemark_io::{InputFormat, Source, TextDetector, TextTokenizer};

use crate::args::{DetectArgs, FormatArg};
use crate::print;

pub fn run(a: &DetectArgs) -> Result<()> {
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        bail!("--alpha must be between 0 and 1, got {}", a.alpha);
    }
    if a.min_window == 0 {
        bail!("--min-window must be at least 1");
    }
    let key = tracemark_io::read_key(&a.key)?;
    let tokenizer = match &a.tokenizer {
        Some(path) => TextTokenizer::load(path)?,
        None => TextTokenizer::default_model()?,
    };
    let prompt = match &a.prompt {
        Some(p) => Some(tracemark_io::documents::read_text(
            &Source::File(p.clone()),
            a.max_bytes,
        )?),
        None => None,
    };
    let sources: Vec<Source> = if a.inputs.is_empty() {
        if std::io::stdin().is_terminal() {
            bail!("no input: give FILE arguments or pipe text to standard input");
        }
        vec![Source::Stdin]
    } else {
        a.inputs.iter().map(|s| Source::parse(s)).collect()
    };
    let format = match a.format {
        FormatArg::Auto => InputFormat::Auto,
        FormatArg::Text => InputFormat::Text,
        FormatArg::Jsonl => InputFormat::Jsonl,
    };
    let options = DetectOptions {
        dedup: !a.no_dedup,
        window: a.window.then_some(a.min_window),
        per_token: a.highlight,
        alpha: a.alpha,
    };
    let watermark = Watermark::new(&key);
    let mut detector = TextDetector::new(&watermark, &tokenizer, options, prompt.as_deref())?;
    let mut printer = print::Printer::new(&key, a.json);
    if a.no_dedup && !a.json {
        eprintln!("warning: --no-dedup counts repeated tuples; the p-values below are not valid");
    }
    for source in &sources {
        let docs = tracemark_io::read_documents(source, format, a.max_bytes)?;
        for doc in &docs {
            let result = detector.detect(doc).with_context(|| doc.source.clone())?;
            printer.document(&result);
        }
    }
    if detector.documents() > 1 {
        printer.aggregate(&detector.aggregate(), detector.documents());
    }
    Ok(())
}
