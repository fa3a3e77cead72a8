//! End-to-end: distil a student with `tracemark distill`, answer prompts with
//! `tracemark generate --student`, and reject damaged student files cleanly.

use serde_json::{Value, json};
use tracemark_tests::Sandbox;

/// Thirty short exchanges on unrelated topics, each answer in its own words.
const EXCHANGES: [(&str, &str); 30] = [
    (
        "Why do cats purr?",
        "Cats purr when relaxed, and sometimes to soothe themselves when hurt.",
    ),
    (
        "What is a lighthouse for?",
        "A lighthouse warns ships away from rocks with a bright rotating lamp.",
    ),
    (
        "How do bees make honey?",
        "Bees swallow nectar, pass it between workers, and fan it until it thickens.",
    ),
    (
        "Describe a desert at night.",
        "The desert cools quickly after sunset, and the sky fills with sharp stars.",
    ),
    (
        "Why is the sea salty?",
        "Rivers carry dissolved minerals into the ocean, where evaporation concentrates them.",
    ),
    (
        "What does a baker do at dawn?",
        "A baker shapes loaves before sunrise so that fresh bread is ready for breakfast.",
    ),
    (
        "How does a bicycle stay upright?",
        "Steering corrections and the turning wheels keep a moving bicycle balanced.",
    ),
    (
        "What is moss?",
        "Moss is a small flowerless plant that grows in dense green carpets on damp stones.",
    ),
    (
        "Why do leaves change colour?",
        "Autumn leaves lose chlorophyll, revealing yellow pigments that were hidden all summer.",
    ),
    (
        "How do owls hunt?",
        "Owls fly almost silently and locate mice by sound in complete darkness.",
    ),
    (
        "What is a glacier?",
        "A glacier is a slow river of ice that carves valleys over thousands of years.",
    ),
    (
        "Why do we yawn?",
        "Nobody knows for certain why people yawn, though it may help cool the brain.",
    ),
    (
        "What is a comet?",
        "A comet is a ball of dust and ice whose tail glows as it nears the sun.",
    ),
    (
        "How are pencils made?",
        "Graphite mixed with clay is baked into rods and glued between two strips of cedar.",
    ),
    (
        "What do ants eat?",
        "Many ants eat seeds, fungus, sweet liquids, or other insects they carry home.",
    ),
    (
        "Why does bread rise?",
        "Yeast ferments sugar and releases carbon dioxide, which inflates the dough.",
    ),
    (
        "What is a volcano?",
        "A volcano is an opening where molten rock, ash and gas escape from below the crust.",
    ),
    (
        "How do trains switch tracks?",
        "Movable rails called points guide the wheels from one line onto another.",
    ),
    (
        "What is origami?",
        "Origami is the Japanese art of folding a single sheet of paper into figures.",
    ),
    (
        "Why do onions make you cry?",
        "Cutting an onion releases a gas that irritates the eyes and triggers tears.",
    ),
    (
        "How does a compass work?",
        "A magnetised needle turns to align itself with the magnetic field of the earth.",
    ),
    (
        "What is a fjord?",
        "A fjord is a narrow inlet of the sea between steep cliffs, shaped by ancient ice.",
    ),
    (
        "Why do frogs croak?",
        "Male frogs croak loudly in spring to attract mates and claim their ponds.",
    ),
    (
        "What is a sonnet?",
        "A sonnet is a poem of fourteen lines with a strict pattern of rhyme.",
    ),
    (
        "How do clouds form?",
        "Warm moist air rises, cools, and its vapour condenses into tiny droplets.",
    ),
    (
        "What is a marathon?",
        "A marathon is a footrace of about forty-two kilometres run on roads.",
    ),
    (
        "Why do zebras have stripes?",
        "Stripes may confuse biting flies, which seem reluctant to land on them.",
    ),
    (
        "How is cheese made?",
        "Milk is curdled with rennet, the curds are pressed, salted and left to age.",
    ),
    (
        "What is a lullaby?",
        "A lullaby is a gentle song sung softly to help a small child fall asleep.",
    ),
    (
        "Why do kettles whistle?",
        "Steam forced through a narrow opening vibrates and produces a high whistle.",
    ),
];

fn corpus() -> String {
    EXCHANGES
        .iter()
        .map(|(prompt, response)| {
            json!({ "prompt": prompt, "response": response }).to_string() + "\n"
        })
        .collect()
}

/// A sandbox with `answers.jsonl` distilled into `student.bin`; returns the distill summary.
fn distilled() -> (Sandbox, Value) {
    let sb = Sandbox::new();
    sb.write("answers.jsonl", corpus());
    let summary = sb
        .run(&[
            "distill",
            "--train",
            "answers.jsonl",
            "--out",
            "student.bin",
            "--json",
        ])
        .ok()
        .json();
    (sb, summary)
}

#[test]
fn distill_then_answer_prompts() {
    let (sb, summary) = distilled();
    assert_eq!(summary["records"], 30, "{summary}");
    assert_eq!(summary["order"], 4, "{summary}");
    assert_eq!(summary["vocab_size"], 49_152, "{summary}");
    let tokens = summary["tokens"].as_u64().unwrap();
    assert!((500..2000).contains(&tokens), "{summary}");
    let ngrams: Vec<u64> = summary["ngrams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(ngrams.len(), 4);
    assert!(ngrams.iter().all(|&n| n > 100), "{summary}");
    assert_eq!(
        summary["bytes"].as_u64(),
        Some(std::fs::metadata(sb.path("student.bin")).unwrap().len())
    );

    // Greedy answers to training prompts reproduce the training answers where the prompt's
    // last tokens, the separator and the answer's opening word select one answer (an order-4
    // student sees three tokens back: answers opening with "A" drift into another answer),
    // and they stop at the end-of-answer token.
    for i in [0, 9, 24, 29] {
        let (prompt, response) = EXCHANGES[i];
        let v = sb
            .run(&[
                "generate",
                "--student",
                "student.bin",
                "--prompt",
                prompt,
                "--no-watermark",
                "--temperature",
                "0",
                "--json",
            ])
            .ok()
            .json();
        assert_eq!(v["response"], response, "{v}");
        assert_eq!(v["stop"], "end_of_generation", "{v}");
        assert_eq!(v["prompt"], prompt, "{v}");
        assert_eq!(v["key_id"], Value::Null, "{v}");
        let model = v["model"].as_str().unwrap();
        assert!(model.starts_with("kn4 student (n-gram, "), "{v}");
        assert!(!v["token_ids"].as_array().unwrap().is_empty(), "{v}");
    }

    // Watermarked and sampled: a record with the key's id, at most --max-tokens tokens.
    sb.keygen("k.json", &[]);
    let out = sb.run(&[
        "generate",
        "--student",
        "student.bin",
        "--prompt",
        "Tell me about the sea.",
        "--key",
        "k.json",
        "--max-tokens",
        "20",
        "--seed",
        "7",
        "--json",
    ]);
    let v = out.ok().json();
    assert_eq!(v["key_id"].as_str().map(str::len), Some(16), "{v}");
    let ids = v["token_ids"].as_array().unwrap();
    assert!(ids.len() <= 20, "{v}");
    assert!(ids.iter().all(|t| t.as_u64().unwrap() < 49_152), "{v}");

    // Plain output streams the answer as text.
    let out = sb.run(&[
        "generate",
        "--student",
        "student.bin",
        "--prompt",
        EXCHANGES[3].0,
        "--no-watermark",
        "--temperature",
        "0",
    ]);
    assert_eq!(out.ok().stdout.trim_end(), EXCHANGES[3].1);
}

#[test]
fn distill_refuses_to_overwrite_and_reports_bad_input() {
    let (sb, _) = distilled();
    let before = sb.read("student.bin");
    let msg = sb
        .run(&[
            "distill",
            "--train",
            "answers.jsonl",
            "--out",
            "student.bin",
        ])
        .error()
        .to_string();
    assert!(
        msg.contains("already exists") && msg.contains("--force"),
        "{msg}"
    );
    assert_eq!(sb.read("student.bin"), before);
    let out = sb.run(&[
        "distill",
        "--train",
        "answers.jsonl",
        "--out",
        "student.bin",
        "--force",
        "--order",
        "3",
    ]);
    assert!(out.ok().stdout.contains("kn3 student"), "{out:#?}");
    assert_ne!(sb.read("student.bin"), before);

    sb.write(
        "bad.jsonl",
        "{\"prompt\": \"q\", \"response\": \"a\"}\n{oops\n",
    );
    let msg = sb
        .run(&["distill", "--train", "bad.jsonl", "--out", "x.bin"])
        .error()
        .to_string();
    assert!(
        msg.contains("bad.jsonl:2") && msg.contains("malformed JSON"),
        "{msg}"
    );
    let msg = sb
        .run(&["distill", "--train", "missing.jsonl", "--out", "x.bin"])
        .error()
        .to_string();
    assert!(msg.contains("missing.jsonl"), "{msg}");
    let msg = sb
        .run(&[
            "distill",
            "--train",
            "answers.jsonl",
            "--out",
            "x.bin",
            "--order",
            "0",
        ])
        .error()
        .to_string();
    assert!(msg.contains("--order 0"), "{msg}");
    assert!(!sb.path("x.bin").exists());
}

#[test]
fn damaged_student_files_are_one_line_errors() {
    let (sb, _) = distilled();
    let good = sb.read("student.bin");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    flipped[mid + 1] ^= 0x01;
    let mut version = good.clone();
    version[8] = 9;
    // A deterministic pseudo-random file.
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("flipped.bin", flipped, "checksum mismatch"),
        (
            "truncated.bin",
            good[..good.len() - 100].to_vec(),
            "truncated",
        ),
        ("header.bin", good[..30].to_vec(), "truncated"),
        ("version.bin", version, "version 9"),
        ("random.bin", random, "not a tracemark student file"),
        ("empty.bin", Vec::new(), "not a tracemark student file"),
    ];
    for (name, bytes, expect) in cases {
        sb.write(name, bytes);
        let out = sb.run(&[
            "generate",
            "--student",
            name,
            "--prompt",
            "hello",
            "--no-watermark",
        ]);
        let msg = out.error();
        assert!(msg.contains(name) && msg.contains(expect), "{name}: {msg}");
    }
    // A file that is not there, and the corpus itself passed as a student.
    let msg = sb
        .run(&[
            "generate",
            "--student",
            "nope.bin",
            "--prompt",
            "hi",
            "--no-watermark",
        ])
        .error()
        .to_string();
    assert!(msg.contains("nope.bin"), "{msg}");
    let msg = sb
        .run(&[
            "generate",
            "--student",
            "answers.jsonl",
            "--prompt",
            "hi",
            "--no-watermark",
        ])
        .error()
        .to_string();
    assert!(msg.contains("not a tracemark student file"), "{msg}");
}

/// The bundled example: answers the default model wrote under the public demo key.
fn example(name: &str) -> String {
    format!("{}/../cli/example/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_student_is_a_suspect_for_reading_mode() {
    let (sb, _) = distilled();
    let (key, answers) = (example("demo-key.json"), example("answers.jsonl"));
    let read = |student: &str| {
        sb.run(&[
            "radioactivity",
            "--key",
            &key,
            "--suspect-model",
            student,
            "--watermarked",
            &answers,
            "--controls",
            "50",
            "--json",
        ])
        .ok()
        .json()
    };
    // A student distilled from the watermarked answers reads them back radioactively...
    sb.run(&[
        "distill",
        "--train",
        &answers,
        "--out",
        "marked-student.bin",
    ])
    .ok();
    let v = read("marked-student.bin");
    let inv = &v["investigations"][0];
    assert_eq!(inv["mode"], "open", "{v}");
    assert_eq!(inv["finding"]["verdict"], "radioactive", "{inv}");
    // ...and one distilled from unrelated text does not.
    let v = read("student.bin");
    let inv = &v["investigations"][0];
    assert_eq!(inv["finding"]["verdict"], "not_radioactive", "{inv}");
}
