//! `tracemark detect`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use tracemark_core::Watermark;
use tracemark_detect::{DetectOptions, TextDetector, Verdict};
use tracemark_io::{InputFormat, ReadOptions, Source, TextTokenizer};

use crate::args::{DetectArgs, FormatArg};
use crate::out::warn_key_permissions;
use crate::print;

/// Exit status when no document (nor all of them together) is watermarked, as grep exits 1
/// when nothing matched.
const NOT_DETECTED: u8 = 1;

pub fn run(a: &DetectArgs) -> Result<ExitCode> {
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        bail!("--alpha must be between 0 and 1, got {}", a.alpha);
    }
    if a.min_window == 0 {
        bail!("--min-window must be at least 1");
    }
    let key = tracemark_io::read_key(&a.key)?;
    warn_key_permissions(&a.key);
    let tokenizer = TextTokenizer::load_or_default(a.tokenizer.as_deref())?;
    let prompt = match &a.prompt_file {
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
    let mut detected = false;
    for source in &sources {
        let read = ReadOptions {
            format,
            max_bytes: a.max_bytes,
        };
        tracemark_io::for_each_piece::<anyhow::Error>(
            source,
            &read,
            Some(&tokenizer),
            |doc, part, _| {
                let result = detector
                    .detect_piece(&doc, part)
                    .with_context(|| doc.source.clone())?;
                if let Some(result) = result {
                    detected |= result.detection.verdict == Verdict::Watermarked;
                    printer.document(&result)?;
                }
                Ok(())
            },
        )?;
    }
    if detector.documents() > 1 {
        let all = detector.aggregate();
        detected |= all.verdict == Verdict::Watermarked;
        printer.aggregate(&all, detector.documents())?;
    }
    Ok(if detected {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_DETECTED)
    })
}
