//! Distilling a student, the competitor's side: an n-gram student trained on harvested
//! (prompt, answer) exchanges, from records in memory or from a JSONL file.

use tracemark_embed::Record;
use tracemark_io::TextTokenizer;
use tracemark_student::files::student_specials;
use tracemark_student::{KneserNey, StudentConfig, Trainer};

use crate::WorkflowError;

/// Distils an order-4 student from harvested exchanges, over `tokenizer`'s ids.
pub fn distil<'a>(
    tokenizer: &TextTokenizer,
    exchanges: impl IntoIterator<Item = &'a Record>,
) -> Result<KneserNey, WorkflowError> {
    let mut trainer = Trainer::new(StudentConfig::new(
        tokenizer.vocab_size(),
        StudentConfig::DEFAULT_ORDER,
        student_specials(tokenizer)?,
    )?);
    for r in exchanges {
        trainer.add_exchange(
            &tokenizer.encode_ids(&r.prompt)?,
            &tokenizer.encode_ids(&r.response)?,
        )?;
    }
    Ok(trainer.finish()?)
}

/// Exchange `i` from `marked` where `watermarked[i]`, else from `plain`: a harvest in which
/// only some answers carry the watermark.
pub fn mix<'a>(
    watermarked: &'a [bool],
    marked: &'a [Record],
    plain: &'a [Record],
) -> impl Iterator<Item = &'a Record> {
    watermarked
        .iter()
        .zip(marked.iter().zip(plain))
        .map(|(&wm, (m, p))| if wm { m } else { p })
}

/// A seeded permutation of 0..n (Fisher–Yates on splitmix64).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut x = seed ^ 0x5eed_5eed_5eed_5eed;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    v
}
