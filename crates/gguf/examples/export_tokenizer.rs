//! Writes the tokenizer built from a GGUF file as Hugging Face `tokenizer.json`.
//!
//! Usage: `cargo run --release -p tracemark-gguf --example export_tokenizer -- MODEL.gguf OUT.json`

use std::path::Path;
use std::process::ExitCode;

use tracemark_gguf::{GgufMetadata, tokenizer_from_gguf};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, out] = args.as_slice() else {
        eprintln!("usage: export_tokenizer MODEL.gguf OUT.json");
        return ExitCode::from(2);
    };
    match run(Path::new(model), Path::new(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(model: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let meta = GgufMetadata::read(model)?;
    let summary = meta.summary();
    let tokenizer = tokenizer_from_gguf(&meta)?;
    tokenizer
        .save(out, false)
        .map_err(|e| format!("{}: cannot write tokenizer: {e}", out.display()))?;
    eprintln!(
        "{}: {} tokens, model {:?}, pre {:?} -> {}",
        model.display(),
        summary.vocab_size,
        summary.tokenizer_model.unwrap_or_default(),
        summary.tokenizer_pre.unwrap_or_default(),
        out.display()
    );
    Ok(())
}
