//! Student files and training corpora: distil a [`KneserNey`] student from JSONL answers,
//! and save and load it (atomically, with one-line errors that name the file).

use std::path::{Path, PathBuf};

use tracemark_io::{InputFormat, IoError, Source, TextTokenizer, for_each_document};

use crate::{KneserNey, LanguageModel, SpecialTokens, StudentConfig, StudentError, Trainer};

/// The separator and end-of-answer tokens of `tokenizer`'s chat format: ChatML's
/// `<|im_start|>` and `<|im_end|>` (SmolLM2: 1 and 2) or, for tokenizers without them, one
/// end-of-text token for both.
pub fn student_specials(tokenizer: &TextTokenizer) -> Result<SpecialTokens, IoError> {
    let id = |t: &str| tokenizer.inner().token_to_id(t);
    if let (Some(separator), Some(end_of_answer)) = (id("<|im_start|>"), id("<|im_end|>")) {
        return Ok(SpecialTokens {
            separator,
            end_of_answer,
        });
    }
    ["<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>"]
        .into_iter()
        .find_map(id)
        .map(|eos| SpecialTokens {
            separator: eos,
            end_of_answer: eos,
        })
        .ok_or_else(|| IoError::Tokenizer {
            path: tokenizer.name().to_string(),
            message: "has no <|im_start|>/<|im_end|> or end-of-text token to mark where an \
                      answer starts and ends"
                .into(),
        })
}

/// Trains an order-`order` student on the records of `source` (JSONL with `prompt` and
/// `response`/`text`, or one plain-text answer), over `tokenizer`'s ids.
///
/// Each record becomes `prompt ++ [separator] ++ response ++ [end of answer]` (see
/// [`student_specials`]); the prompt is the tokenizer's ids of the raw prompt text, empty
/// when the record has none. `progress` receives the bytes read so far.
pub fn train_student(
    tokenizer: &TextTokenizer,
    source: &Source,
    order: usize,
    mut progress: impl FnMut(u64),
) -> Result<KneserNey, IoError> {
    let input = source.name();
    let bad = |e: StudentError| IoError::Input {
        input: input.clone(),
        message: e.to_string(),
    };
    let config = StudentConfig::new(tokenizer.vocab_size(), order, student_specials(tokenizer)?)
        .map_err(bad)?;
    let mut trainer = Trainer::new(config);
    for_each_document::<IoError>(source, InputFormat::Auto, |doc, bytes| {
        let prompt = match &doc.prompt {
            Some(p) => tokenizer.encode_ids(p)?,
            None => Vec::new(),
        };
        let response = tokenizer.encode_ids(&doc.text)?;
        trainer
            .add_exchange(&prompt, &response)
            .map_err(|e| IoError::Input {
                input: match doc.line {
                    Some(line) => format!("{input}:{line}"),
                    None => input.clone(),
                },
                message: e.to_string(),
            })?;
        progress(bytes);
        Ok(())
    })?;
    trainer.finish().map_err(bad)
}

/// Writes `student` to `path` atomically (readable by all, like any model file). Without
/// `overwrite`, an existing file is an error. Returns the file's size.
pub fn save_student(path: &Path, student: &KneserNey, overwrite: bool) -> Result<u64, IoError> {
    let bytes = student.to_bytes();
    tracemark_io::atomic::write_atomic(path, &bytes, false, overwrite)?;
    Ok(bytes.len() as u64)
}

/// Reads a student file; a missing, foreign, corrupt or newer-format file is a one-line
/// error naming it.
/// Whether `path` starts like a tracemark student file (so that a suspect given as a file
/// can be a student or a GGUF model).
pub fn is_student_file(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == crate::MAGIC
}

/// Loads a student file written by [`save_student`]; errors name the file.
pub fn load_student(path: &Path) -> Result<KneserNey, IoError> {
    let bytes = std::fs::read(path).map_err(|source| IoError::Read {
        path: PathBuf::from(path),
        source,
    })?;
    KneserNey::from_bytes(&bytes).map_err(|e| IoError::Input {
        input: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Checks that `student` was trained over `tokenizer`'s vocabulary.
pub fn check_student_tokenizer(
    path: &Path,
    student: &KneserNey,
    tokenizer: &TextTokenizer,
) -> Result<(), IoError> {
    if student.vocab_size() != tokenizer.vocab_size() {
        return Err(IoError::Input {
            input: path.display().to_string(),
            message: format!(
                "the student's vocabulary has {} tokens but tokenizer {} has {}; use the \
                 tokenizer it was distilled with (--tokenizer)",
                student.vocab_size(),
                tokenizer.name(),
                tokenizer.vocab_size()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn distils_saves_and_loads_a_student() {
        let tok = TextTokenizer::default_model().unwrap();
        assert_eq!(
            student_specials(&tok).unwrap(),
            SpecialTokens {
                separator: 1,
                end_of_answer: 2
            }
        );
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("answers.jsonl");
        let mut lines = String::new();
        for i in 0..10 {
            lines.push_str(&format!(
                "{{\"prompt\": \"Name a colour.\", \"response\": \"Blue is a calm colour, number {i}.\"}}\n"
            ));
        }
        lines.push_str("{\"text\": \"No prompt here.\"}\n");
        std::fs::write(&corpus, lines).unwrap();
        let mut last = 0;
        let mut student =
            train_student(&tok, &Source::File(corpus.clone()), 4, |b| last = b).unwrap();
        assert_eq!(last, std::fs::metadata(&corpus).unwrap().len());
        assert_eq!(student.sequences(), 11);

        let path = dir.path().join("student.bin");
        let size = save_student(&path, &student, false).unwrap();
        assert_eq!(size, std::fs::metadata(&path).unwrap().len());
        let err = save_student(&path, &student, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
        let mut back = load_student(&path).unwrap();
        check_student_tokenizer(&path, &back, &tok).unwrap();
        let prompt = student.chat_prompt(&tok.encode_ids("Name a colour.").unwrap());
        assert_eq!(
            back.start(&prompt).unwrap(),
            student.start(&prompt).unwrap()
        );
        let first = tracemark_model::argmax(back.start(&prompt).unwrap());
        assert_eq!(tok.decode(&[first]), "Blue");
    }

    #[test]
    fn bad_student_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.bin");
        let msg = load_student(&path).unwrap_err().to_string();
        assert!(msg.contains("s.bin"), "{msg}");
        std::fs::write(&path, b"hello").unwrap();
        let msg = load_student(&path).unwrap_err().to_string();
        assert!(
            msg.contains("s.bin") && msg.contains("not a tracemark student file"),
            "{msg}"
        );
        let msg = train_student(
            &TextTokenizer::default_model().unwrap(),
            &Source::File(path.clone()),
            0,
            |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("order 0"), "{msg}");
    }
}
