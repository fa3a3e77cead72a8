//! Building a Hugging Face [`Tokenizer`] that tokenizes exactly like llama.cpp.

use std::collections::HashSet;

use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::{SpecialToken, TemplateProcessing};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::{GgufError, GgufMetadata, Value};

/// llama.cpp's GPT-2 split regex (`LLAMA_VOCAB_PRE_TYPE_GPT2` and others).
const GPT2_REGEX: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
/// llama.cpp's Llama 3 regex (case-insensitive contractions spelled out, as llama.cpp does).
const LLAMA3_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// llama.cpp's Qwen2 regex: Llama 3's with single digits.
const QWEN2_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Token type codes of `tokenizer.ggml.token_type` (llama.cpp `llama_token_type`).
const TOKEN_TYPE_UNKNOWN: i64 = 2;
const TOKEN_TYPE_CONTROL: i64 = 3;
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// Token texts llama.cpp treats as end-of-generation whatever their id (its list in
/// `llama_vocab::impl::load`, as vendored by `llama-cpp-sys-2` 0.1.161). Every text it
/// also accepts as the EOT token is here too, so EOT-by-text adds nothing.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
    "[e~[",
];

/// The fill-in-the-middle pad, repository and file-separator tokens, which llama.cpp also
/// counts as end-of-generation: each is the id under its metadata key, else the token with
/// one of these texts.
const FIM_EOG: &[(&str, &[&str])] = &[
    (
        "tokenizer.ggml.fim_pad_token_id",
        &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
    ),
    (
        "tokenizer.ggml.fim_rep_token_id",
        &[
            "<|fim_repo|>",
            "<|repo_name|>",
            "<fim-repo>",
            "<REPO>",
            "<reponame>",
        ],
    ),
    ("tokenizer.ggml.fim_sep_token_id", &["<|file_sep|>"]),
];

/// How llama.cpp splits text into words before BPE, for a `tokenizer.ggml.pre` value.
///
/// Each kind reproduces the regex list of llama.cpp's `llm_tokenizer_bpe` for that
/// pre-type; every regex match and every gap between matches becomes its own word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreTokenizerKind {
    /// `\p{N}` (every digit alone), then the GPT-2 regex: smollm, starcoder, refact,
    /// codeshell, command-r, exaone, minerva-7b. Verified against llama.cpp (smollm).
    DigitsGpt2,
    /// The GPT-2 regex alone: gpt-2, gpt2, phi-2, mpt, olmo.
    Gpt2,
    /// The Llama 3 regex (digits in groups of up to 3), with `ignore_merges` and BOS added
    /// by default: llama3, llama-v3, llama-bpe, falcon3.
    Llama3,
    /// The Qwen2 regex (single digits): qwen2, deepseek-r1-qwen.
    Qwen2,
    /// Punctuation runs, the GPT-2 regex, then digits in groups of 3: falcon.
    Falcon,
    /// llama.cpp's fallback when `tokenizer.ggml.pre` is "default" or absent: punctuation
    /// runs, the GPT-2 regex, digit runs, then digits in groups of 3.
    Default,
}

/// `tokenizer.ggml.pre` values understood, with their kind.
const PRE_TABLE: &[(&str, PreTokenizerKind)] = {
    use PreTokenizerKind::*;
    &[
        ("smollm", DigitsGpt2),
        ("starcoder", DigitsGpt2),
        ("refact", DigitsGpt2),
        ("codeshell", DigitsGpt2),
        ("command-r", DigitsGpt2),
        ("exaone", DigitsGpt2),
        ("minerva-7b", DigitsGpt2),
        ("gpt-2", Gpt2),
        ("gpt2", Gpt2),
        ("phi-2", Gpt2),
        ("mpt", Gpt2),
        ("olmo", Gpt2),
        ("llama3", Llama3),
        ("llama-v3", Llama3),
        ("llama-bpe", Llama3),
        ("falcon3", Llama3),
        ("qwen2", Qwen2),
        ("deepseek-r1-qwen", Qwen2),
        ("falcon", Falcon),
        ("default", Default),
    ]
};

/// The supported `tokenizer.ggml.pre` values, comma-separated, for error messages.
pub(crate) fn supported_pre_list() -> String {
    let names: Vec<&str> = PRE_TABLE.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

impl PreTokenizerKind {
    /// The kind for a `tokenizer.ggml.pre` value; `None` if unsupported. An empty value
    /// means "absent", which llama.cpp treats as "default".
    pub fn from_gguf_pre(pre: &str) -> Option<Self> {
        if pre.is_empty() {
            return Some(Self::Default);
        }
        PRE_TABLE.iter().find(|(n, _)| *n == pre).map(|&(_, k)| k)
    }

    /// Split regexes applied in order before byte-level mapping (Split-based kinds only).
    fn regexes(self) -> &'static [&'static str] {
        match self {
            Self::DigitsGpt2 => &[r"\p{N}", GPT2_REGEX],
            Self::Gpt2 => &[GPT2_REGEX],
            Self::Llama3 => &[LLAMA3_REGEX],
            Self::Qwen2 => &[QWEN2_REGEX],
            Self::Falcon => &[r"[\p{P}\$\+<=>\^~\|`]+", GPT2_REGEX, "[0-9][0-9][0-9]"],
            Self::Default => &[
                r"[\p{P}\$\+<=>\^~\|]+",
                GPT2_REGEX,
                r"\p{N}+",
                "[0-9][0-9][0-9]",
            ],
        }
    }

    /// Whether a word found whole in the vocabulary skips the merges (llama.cpp
    /// `ignore_merges`).
    fn ignore_merges(self) -> bool {
        self == Self::Llama3
    }

    /// llama.cpp's default for `add_bos` when `tokenizer.ggml.add_bos_token` is absent.
    fn default_add_bos(self) -> bool {
        self == Self::Llama3
    }

    pub(crate) fn pre_tokenizer(self) -> Result<PreTokenizerWrapper, String> {
        // Digits/ByteLevel are the built-in equivalents of llama.cpp's `\p{N}` and GPT-2
        // regexes (the form HF uses for these models, verified on SmolLM2).
        let byte_level = |use_regex| ByteLevel::new(false, true, use_regex);
        Ok(match self {
            Self::DigitsGpt2 => {
                Sequence::new(vec![Digits::new(true).into(), byte_level(true).into()]).into()
            }
            Self::Gpt2 => byte_level(true).into(),
            _ => {
                let mut steps = self
                    .regexes()
                    .iter()
                    .map(|re| {
                        Split::new(
                            SplitPattern::Regex((*re).to_owned()),
                            SplitDelimiterBehavior::Isolated,
                            false,
                        )
                        .map(PreTokenizerWrapper::from)
                        .map_err(|e| format!("bad split regex {re:?}: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                steps.push(byte_level(false).into());
                Sequence::new(steps).into()
            }
        })
    }
}

/// Builds a tokenizer equivalent to llama.cpp's for this model, from GGUF metadata alone.
///
/// Supported: `tokenizer.ggml.model = "gpt2"` (byte-level BPE) with a `tokenizer.ggml.pre`
/// listed in [`PreTokenizerKind`]. The result has a BPE model (vocabulary from
/// `tokenizer.ggml.tokens`, merges from `tokenizer.ggml.merges`), the pre-tokenizer for
/// the pre-type, a byte-level decoder, and every CONTROL and UNKNOWN token registered as
/// a special added token (USER_DEFINED tokens as normal added tokens), so that e.g.
/// `<|im_start|>` maps to one id. That matches llama.cpp tokenizing with
/// `parse_special = true`. With `add_special_tokens = true`, BOS/EOS are added when
/// `tokenizer.ggml.add_bos_token` / `add_eos_token` say so (llama.cpp's per-type default
/// when absent).
pub fn tokenizer_from_gguf(meta: &GgufMetadata) -> Result<Tokenizer, GgufError> {
    let path = meta.path();
    let fail = |message: String| GgufError::Tokenizer {
        path: path.to_owned(),
        message,
    };

    let model = meta.required("tokenizer.ggml.model", "string", Value::as_str)?;
    if model != "gpt2" {
        return Err(GgufError::UnsupportedTokenizerModel {
            path: path.to_owned(),
            model: model.to_owned(),
        });
    }
    let pre = meta
        .typed("tokenizer.ggml.pre", "string", Value::as_str)?
        .unwrap_or("");
    let kind =
        PreTokenizerKind::from_gguf_pre(pre).ok_or_else(|| GgufError::UnsupportedPreTokenizer {
            path: path.to_owned(),
            pre: pre.to_owned(),
        })?;

    let tokens = str_array(meta, "tokenizer.ggml.tokens")?;
    let merges = str_array(meta, "tokenizer.ggml.merges")?;
    let types = token_types(meta, tokens.len())?;

    // Duplicate texts: the last id wins, as in llama.cpp's `token_to_id`.
    let vocab: Vocab = (0u32..)
        .zip(&tokens)
        .map(|(id, t)| ((*t).to_owned(), id))
        .collect();

    // Duplicate pairs: the first (lowest) rank wins, as in llama.cpp's `bpe_ranks`.
    let mut seen = HashSet::with_capacity(merges.len());
    let mut pairs = Vec::with_capacity(merges.len());
    for (i, merge) in merges.iter().enumerate() {
        let (a, b) = split_merge(merge)
            .ok_or_else(|| fail(format!("merge #{i} {merge:?} has no separating space")))?;
        if seen.insert((a, b)) {
            pairs.push((a.to_owned(), b.to_owned()));
        }
    }

    let bpe = BPE::builder()
        .vocab_and_merges(vocab, pairs)
        .ignore_merges(kind.ignore_merges())
        .build()
        .map_err(|e| fail(format!("invalid BPE vocabulary/merges: {e}")))?;

    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(kind.pre_tokenizer().map_err(fail)?));
    tokenizer.with_decoder(Some(ByteLevel::default()));

    let mut special = Vec::new();
    let mut user_defined = Vec::new();
    for (text, ty) in tokens.iter().zip(&types) {
        if text.is_empty() {
            continue;
        }
        match *ty {
            TOKEN_TYPE_CONTROL | TOKEN_TYPE_UNKNOWN => {
                special.push(AddedToken::from(*text, true).normalized(false));
            }
            TOKEN_TYPE_USER_DEFINED => {
                user_defined.push(AddedToken::from(*text, false).normalized(false));
            }
            _ => {}
        }
    }
    tokenizer
        .add_special_tokens(special)
        .map_err(|e| fail(format!("cannot add special tokens: {e}")))?;
    tokenizer
        .add_tokens(user_defined)
        .map_err(|e| fail(format!("cannot add user-defined tokens: {e}")))?;

    let add_bos = meta
        .typed("tokenizer.ggml.add_bos_token", "bool", Value::as_bool)?
        .unwrap_or(kind.default_add_bos());
    let add_eos = meta
        .typed("tokenizer.ggml.add_eos_token", "bool", Value::as_bool)?
        .unwrap_or(false);
    let special_token = |flag: bool, key: &str| -> Result<Option<(u32, String)>, GgufError> {
        if !flag {
            return Ok(None);
        }
        let id = token_id(meta, key)?
            .ok_or_else(|| fail(format!("`{key}` is needed (BOS/EOS is added) but absent")))?;
        match tokens.get(id as usize) {
            Some(text) => Ok(Some((id, (*text).to_owned()))),
            None => Err(fail(format!("`{key}` = {id} is outside the vocabulary"))),
        }
    };
    let bos = special_token(add_bos, "tokenizer.ggml.bos_token_id")?;
    let eos = special_token(add_eos, "tokenizer.ggml.eos_token_id")?;
    if let Some(processor) = post_processor(bos, eos).map_err(fail)? {
        tokenizer.with_post_processor(Some(processor));
    }
    Ok(tokenizer)
}

/// End-of-generation token ids, as llama.cpp computes them:
///
/// - the EOS, EOT and EOM ids from the metadata;
/// - the FIM pad, repository and separator tokens (SmolLM2's `<reponame>`, id 4), by
///   metadata key or else by text (see [`FIM_EOG`]);
/// - every token whose text is a known end marker (`<|endoftext|>`, `<|im_end|>`,
///   `<|eot_id|>`, `<|end|>`, `</s>`, `<end_of_turn>`, ...), whatever its type (llama.cpp
///   forces such tokens to CONTROL);
/// - then llama.cpp's two exceptions: `<|end|>` is dropped when `<|return|>` and `<|call|>`
///   (or `<|calls|>` and `<|flush|>`) are also present, and `</s>` when `<|tool_response>`
///   or `<|plamo:eos|>` is.
///
/// Ids outside the vocabulary are ignored. When several tokens carry texts of one FIM kind,
/// llama.cpp takes whichever its hash map yields first; this takes the lowest id. Sorted,
/// without duplicates.
pub fn eog_token_ids(meta: &GgufMetadata) -> Vec<u32> {
    let texts: Vec<Option<&str>> = meta
        .get_array("tokenizer.ggml.tokens")
        .map(|t| t.iter().map(Value::as_str).collect())
        .unwrap_or_default();
    let n_tokens = texts.len();
    let key_id = |key: &str| {
        meta.get_u64(key)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&id| (id as usize) < n_tokens)
    };
    let first_with = |wanted: &[&str]| {
        (0u32..)
            .zip(&texts)
            .find(|(_, t)| t.is_some_and(|t| wanted.contains(&t)))
            .map(|(id, _)| id)
    };
    let mut ids: Vec<u32> = FIM_EOG
        .iter()
        .filter_map(|&(key, wanted)| key_id(key).or_else(|| first_with(wanted)))
        .collect();
    for (id, text) in (0u32..).zip(&texts) {
        if text.is_some_and(|t| EOG_TEXTS.contains(&t)) {
            ids.push(id);
        }
    }
    ids.extend(
        [
            "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.eot_token_id",
            "tokenizer.ggml.eom_token_id",
        ]
        .iter()
        .filter_map(|key| key_id(key)),
    );
    ids.sort_unstable();
    ids.dedup();

    let text_of = |id: u32| texts[id as usize].unwrap_or("");
    let has = |ids: &[u32], t: &str| ids.iter().any(|&id| text_of(id) == t);
    let has_call = has(&ids, "<|call|>") || has(&ids, "<|calls|>");
    // llama.cpp drops one `<|end|>` or `</s>` (the last it meets in its set).
    if has_call
        && (has(&ids, "<|return|>") || has(&ids, "<|flush|>"))
        && let Some(pos) = ids.iter().rposition(|&id| text_of(id) == "<|end|>")
    {
        ids.remove(pos);
    }
    if (has(&ids, "<|tool_response>") || has(&ids, "<|plamo:eos|>"))
        && let Some(pos) = ids.iter().rposition(|&id| text_of(id) == "</s>")
    {
        ids.remove(pos);
    }
    ids
}

fn str_array<'a>(meta: &'a GgufMetadata, key: &str) -> Result<Vec<&'a str>, GgufError> {
    meta.required(key, "array of string", |v| {
        v.as_array()?.iter().map(Value::as_str).collect()
    })
}

/// Token types, one per token; all NORMAL (1) when the key is absent.
fn token_types(meta: &GgufMetadata, n_tokens: usize) -> Result<Vec<i64>, GgufError> {
    let key = "tokenizer.ggml.token_type";
    let types = meta.typed(key, "array of integer", |v| {
        v.as_array()?
            .iter()
            .map(Value::as_i64)
            .collect::<Option<Vec<_>>>()
    })?;
    match types {
        None => Ok(vec![1; n_tokens]),
        Some(t) if t.len() == n_tokens => Ok(t),
        Some(t) => Err(GgufError::Tokenizer {
            path: meta.path().to_owned(),
            message: format!(
                "`{key}` has {} entries but there are {n_tokens} tokens",
                t.len()
            ),
        }),
    }
}

fn token_id(meta: &GgufMetadata, key: &str) -> Result<Option<u32>, GgufError> {
    meta.typed(key, "integer in u32 range", |v| {
        v.as_u64().and_then(|id| u32::try_from(id).ok())
    })
}

/// Splits a merges entry at the first space after its first character (as llama.cpp).
fn split_merge(merge: &str) -> Option<(&str, &str)> {
    let first = merge.chars().next()?.len_utf8();
    let pos = first + merge[first..].find(' ')?;
    Some((&merge[..pos], &merge[pos + 1..]))
}

/// A template adding BOS and/or EOS around each sequence; `None` when neither is added.
fn post_processor(
    bos: Option<(u32, String)>,
    eos: Option<(u32, String)>,
) -> Result<Option<TemplateProcessing>, String> {
    if bos.is_none() && eos.is_none() {
        return Ok(None);
    }
    // Template pieces refer to special tokens by these names, not by their text.
    let mut specials = Vec::new();
    let (mut pre, mut post) = (String::new(), String::new());
    if let Some((id, text)) = bos {
        specials.push(
            SpecialToken::new("BOS".into(), vec![id], vec![text]).map_err(|e| e.to_string())?,
        );
        pre.push_str("BOS ");
    }
    if let Some((id, text)) = eos {
        specials.push(
            SpecialToken::new("EOS".into(), vec![id], vec![text]).map_err(|e| e.to_string())?,
        );
        post.push_str(" EOS");
    }
    TemplateProcessing::builder()
        .try_single(format!("{pre}$A:0{post}"))?
        .try_pair(format!("{pre}$A:0{post} {pre}$B:1{post}"))?
        .special_tokens(specials)
        .build()
        .map(Some)
        .map_err(|e| format!("cannot build BOS/EOS template: {e}"))
}
