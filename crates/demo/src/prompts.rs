//! The bundled prompt set (`assets/prompts.jsonl`), written for this project.

use serde::Deserialize;

/// Which part of the prompt set a prompt belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Answered by the teacher; the answers train the students.
    Train,
    /// Held out: used to question the suspects.
    Query,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Prompt {
    /// Stable id, e.g. `p0001`.
    pub id: String,
    /// Training or querying part.
    pub split: Split,
    /// What is asked for: explanation, letter, story, …
    pub kind: String,
    /// The subject.
    pub topic: String,
    /// The instruction text.
    pub prompt: String,
}

/// The bundled prompt set.
#[derive(Debug, Clone)]
pub struct PromptSet {
    prompts: Vec<Prompt>,
}

impl PromptSet {
    /// Parses the prompt set compiled into the binary.
    pub fn bundled() -> Self {
        let prompts = include_str!("../assets/prompts.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("the bundled prompt set is valid JSONL"))
            .collect();
        Self { prompts }
    }

    /// All prompts, in file order.
    pub fn all(&self) -> &[Prompt] {
        &self.prompts
    }

    /// The prompts of one split, in file order.
    pub fn split(&self, split: Split) -> Vec<&Prompt> {
        self.prompts.iter().filter(|p| p.split == split).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_set_is_large_varied_and_split() {
        let set = PromptSet::bundled();
        assert!(set.all().len() >= 300);
        let (train, query) = (set.split(Split::Train), set.split(Split::Query));
        assert!(train.len() >= 200 && query.len() >= 100);
        let kinds: std::collections::BTreeSet<_> = set.all().iter().map(|p| &p.kind).collect();
        assert!(kinds.len() >= 10);
        let texts: std::collections::HashSet<_> = set.all().iter().map(|p| &p.prompt).collect();
        assert_eq!(texts.len(), set.all().len(), "duplicate prompts");
    }
}
