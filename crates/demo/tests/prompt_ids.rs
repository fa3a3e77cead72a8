//! A chat's prompt ids come from the pure-Rust tokenizer (`tracemark-io`); they must be the
//! ids llama.cpp's own tokenizer gives for the rendered chat template, special tokens parsed,
//! for every bundled prompt, or the teacher's answers (and the demo's tables) would change.

use tracemark_runtime::{LlamaModel, LoadOptions};
use tracemark_workflow::{ChatTemplate, GgufOptions, Quiet};

#[test]
fn chat_prompt_ids_are_llama_cpps_for_every_bundled_prompt() {
    let path = tracemark_workflow::models::default_model(&Quiet).expect("the default model");
    let options = GgufOptions {
        threads: 2,
        verbose: false,
    };
    let chat = tracemark_workflow::models::gguf_chat(Some(&path), &options, None, &Quiet).unwrap();
    let llama = LlamaModel::load(&path, &LoadOptions::default()).unwrap();
    let meta = tracemark_gguf::GgufMetadata::read(&path).unwrap();
    let template = ChatTemplate::new(meta.get_str("tokenizer.chat_template")).unwrap();
    let prompts = tracemark_demo::PromptSet::bundled();
    assert!(prompts.all().len() > 300);
    for p in prompts.all() {
        let rendered = template.render(None, &p.prompt).unwrap();
        let expected = llama.tokenize(&rendered, true).unwrap();
        assert_eq!(
            chat.prompt_ids(&p.prompt).unwrap(),
            expected,
            "{:?}",
            p.prompt
        );
    }
}
