//! [`Record`]: one generated answer as it is stored and served, with everything needed to
//! check it later (which key, which model, which sampling).

use serde::{Deserialize, Serialize};
use tracemark_core::Key;

use crate::{Generation, SamplingParams, StopReason};

/// The sampling settings of one answer, as recorded.
///
/// Floats keep their `f32` values, so JSON shows `0.7`, not `0.699999988079071`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Temperature (0 = greedy).
    pub temperature: f32,
    /// Top-k (0 = off).
    pub top_k: usize,
    /// Nucleus mass (1 = off).
    pub top_p: f32,
    /// The seed this answer was sampled with.
    pub seed: u64,
    /// The token limit.
    pub max_tokens: usize,
}

impl Sampling {
    /// The record of `params` with a token limit.
    pub fn new(params: &SamplingParams, max_tokens: usize) -> Self {
        Self {
            temperature: params.temperature(),
            top_k: params.top_k(),
            top_p: params.top_p(),
            seed: params.seed(),
            max_tokens,
        }
    }
}

/// One generated answer, as stored in a JSONL output file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position of the prompt in its prompts file (0-based).
    pub index: usize,
    /// The user prompt.
    pub prompt: String,
    /// The answer.
    pub response: String,
    /// The answer's token ids.
    pub token_ids: Vec<u32>,
    /// Why generation stopped.
    pub stop: StopReason,
    /// The watermark key's id, or null for an unwatermarked answer.
    pub key_id: Option<String>,
    /// The scheme, e.g. `kgw(γ=0.25, δ=2) selfhash(h=3)`, or null.
    pub scheme: Option<String>,
    /// The account the answer was served to (a master key's account watermark); absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The model that wrote the answer.
    pub model: String,
    /// How it was sampled.
    pub sampling: Sampling,
}

impl Record {
    /// The record of answer `response` (with token ids and stop reason from `generation`) to
    /// prompt number `index`, written by `model` under `key` (or none) for `account` (or none).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: usize,
        prompt: &str,
        response: String,
        generation: Generation,
        key: Option<&Key>,
        account: Option<&str>,
        model: String,
        sampling: Sampling,
    ) -> Self {
        Self {
            index,
            prompt: prompt.to_string(),
            response,
            token_ids: generation.ids,
            stop: generation.stop,
            key_id: key.map(|k| k.id().to_string()),
            scheme: key.map(|k| k.config().describe()),
            account: account.map(str::to_string),
            model,
            sampling,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serialize_stop_and_floats_plainly() {
        let params = SamplingParams::new(0.7, 0, 0.95, 3).unwrap();
        let r = Record::new(
            2,
            "q",
            "a".into(),
            Generation {
                ids: vec![5],
                stop: StopReason::EndOfGeneration,
            },
            None,
            None,
            "m".into(),
            Sampling::new(&params, 10),
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("account"), "{json}");
        assert!(json.contains(r#""stop":"end_of_generation""#), "{json}");
        assert!(json.contains(r#""temperature":0.7,"#), "{json}");
        assert!(json.contains(r#""top_p":0.95,"#), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
        let old = json.replace("end_of_generation", "EndOfGeneration");
        assert_eq!(
            serde_json::from_str::<Record>(&old).unwrap().stop,
            StopReason::EndOfGeneration
        );
    }
}
