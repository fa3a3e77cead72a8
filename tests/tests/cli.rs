//! End-to-end tests: run the real `tracemark` binary and check what a user sees.

use tracemark_tests::{PARAGRAPH, Sandbox, assert_no_secret, p_value};

// ---------------------------------------------------------------- keygen / key-info

#[cfg(unix)]
#[test]
fn keygen_writes_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let out = sb.run(&["keygen", "--out", "k.json"]);
    out.ok();
    assert!(
        out.stdout.contains("k.json") && out.stdout.contains("key_id"),
        "{out:#?}"
    );
    let mode = std::fs::metadata(sb.path("k.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "key file mode");
    let key = sb.key_json("k.json");
    assert_eq!(key["key_id"].as_str().unwrap().len(), 16, "{key}");
    // Only the key file is left behind, no temporary files.
    assert_eq!(std::fs::read_dir(sb.path("")).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn keygen_refuses_to_overwrite_without_force() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    let before = sb.read("k.json");
    let msg = sb.run(&["keygen", "--out", "k.json"]).error().to_string();
    assert!(
        msg.contains("k.json") && msg.contains("already exists") && msg.contains("--force"),
        "{msg}"
    );
    assert_eq!(
        sb.read("k.json"),
        before,
        "file changed although keygen refused"
    );
    // Also with other parameters, and in JSON mode.
    sb.run(&["keygen", "--out", "k.json", "--scheme", "gumbel", "--json"])
        .error();
    assert_eq!(
        sb.read("k.json"),
        before,
        "file changed although keygen refused"
    );

    let out = sb.run(&[
        "keygen", "--out", "k.json", "--force", "--scheme", "gumbel", "--json",
    ]);
    let v = out.ok().json();
    let after = sb.read("k.json");
    assert_ne!(after, before, "--force did not replace the key");
    assert_eq!(sb.key_json("k.json")["key_id"], v["key_id"]);
    assert_eq!(sb.key_json("k.json")["scheme"]["kind"], "gumbel");
    let mode = std::fs::metadata(sb.path("k.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "replaced key file mode");
}

#[test]
fn keygen_and_key_info_json() {
    let sb = Sandbox::new();
    let v = sb
        .run(&[
            "keygen",
            "--out",
            "k.json",
            "--seeding",
            "lefthash",
            "--context",
            "2",
            "--json",
        ])
        .ok()
        .json();
    let key = sb.key_json("k.json");
    assert_eq!(v["key_id"], key["key_id"], "{v}");
    assert_eq!(
        (
            v["scheme"].as_str(),
            v["seeding"].as_str(),
            v["context"].as_u64()
        ),
        (Some("kgw"), Some("lefthash"), Some(2))
    );
    assert_eq!(v["gamma"].as_f64(), Some(0.25));
    assert_eq!(v["delta"].as_f64(), Some(2.0));
    let info = sb.run(&["key-info", "k.json", "--json"]).ok().json();
    for field in ["key_id", "scheme", "seeding", "context"] {
        assert_eq!(info[field], v[field], "key-info {field}");
    }
    let human = sb.run(&["key-info", "k.json"]);
    assert!(
        human.ok().stdout.contains(v["key_id"].as_str().unwrap()),
        "{human:#?}"
    );

    let g = sb
        .run(&[
            "keygen",
            "--out",
            "g.json",
            "--scheme",
            "gumbel",
            "--seeding",
            "minhash",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(
        (
            g["scheme"].as_str(),
            g["seeding"].as_str(),
            g["context"].as_u64()
        ),
        (Some("gumbel"), Some("minhash"), Some(4))
    );
    assert!(g.get("gamma").is_none(), "{g}");
}

#[test]
fn the_secret_never_appears_in_output() {
    let sb = Sandbox::new();
    sb.write("p.txt", PARAGRAPH);
    for (name, json) in [("human.json", false), ("json.json", true)] {
        let mut args = vec!["keygen", "--out", name];
        if json {
            args.push("--json");
        }
        let keygen = sb.run(&args);
        keygen.ok();
        let secret = sb.secret(name);
        let mut outputs = vec![keygen];
        for extra in [
            &[][..],
            &["--json"],
            &["--window", "--highlight"],
            &["--json", "--window", "--highlight"],
        ] {
            let mut args = vec!["detect", "--key", name, "p.txt"];
            args.extend_from_slice(extra);
            outputs.push(sb.run(&args));
        }
        outputs.push(sb.run(&["key-info", name]));
        outputs.push(sb.run(&["key-info", name, "--json"]));
        for out in &outputs {
            out.verdict();
        }
        assert_no_secret(&secret, &outputs.iter().collect::<Vec<_>>());
    }
}

#[test]
fn keygen_rejects_bad_parameters() {
    let sb = Sandbox::new();
    let msg = sb
        .run(&[
            "keygen", "--out", "g.json", "--scheme", "gumbel", "--gamma", "0.3",
        ])
        .error()
        .to_string();
    assert!(
        msg.contains("gamma and delta apply to the kgw scheme only"),
        "{msg}"
    );
    for gamma in ["1.5", "0", "nan"] {
        let msg = sb
            .run(&["keygen", "--out", "k.json", "--gamma", gamma])
            .error()
            .to_string();
        assert!(msg.contains("gamma"), "gamma {gamma}: {msg}");
    }
    let msg = sb
        .run(&["keygen", "--out", "k.json", "--context", "9"])
        .error()
        .to_string();
    assert!(msg.contains("context") && msg.contains('9'), "{msg}");
    assert_eq!(
        std::fs::read_dir(sb.path("")).unwrap().count(),
        0,
        "a rejected keygen wrote a file"
    );
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    for args in [
        &["keygen"][..],
        &["keygen", "--out", "k.json", "--scheme", "nope"],
        &["frobnicate"],
    ] {
        let out = sb.run(args);
        assert_eq!(out.code, Some(2), "{args:?}\n{out:#?}");
        out.no_panic();
    }
}

// ---------------------------------------------------------------- detect

#[test]
fn detect_json_fields_kgw_and_gumbel() {
    let sb = Sandbox::new();
    sb.write("p.txt", PARAGRAPH);
    sb.keygen("kgw.json", &[]);
    sb.keygen("gumbel.json", &["--scheme", "gumbel"]);
    for (key, scheme) in [("kgw.json", "kgw"), ("gumbel.json", "gumbel")] {
        let v = sb
            .run(&["detect", "--key", key, "--json", "p.txt"])
            .verdict()
            .json();
        assert_eq!(v["key_id"], sb.key_json(key)["key_id"], "{v}");
        assert_eq!(v["scheme"], scheme, "{v}");
        assert_eq!(v["source"], "p.txt", "{v}");
        let (tokens, scored) = (v["tokens"].as_u64().unwrap(), v["scored"].as_u64().unwrap());
        assert!(tokens > 50 && scored > 0 && scored <= tokens, "{v}");
        for field in ["score", "z", "log10_p"] {
            assert!(v[field].is_number(), "{field}: {v}");
        }
        let p = p_value(&v);
        assert!(
            (v["log10_p"].as_f64().unwrap() - p.log10()).abs() < 1e-6,
            "{v}"
        );
        assert!(
            ["not_detected", "watermarked"].contains(&v["verdict"].as_str().unwrap()),
            "{v}"
        );
        match scheme {
            "kgw" => assert!(v["green"].as_u64().unwrap() <= scored, "{v}"),
            _ => assert!(v.get("green").is_none(), "gumbel has no green count: {v}"),
        }
        assert!(
            v.get("aggregate").is_none() && v.get("window").is_none(),
            "{v}"
        );
    }
}

#[test]
fn detect_reads_standard_input() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write("p.txt", PARAGRAPH);
    let from_file = sb
        .run(&["detect", "--key", "k.json", "--json", "p.txt"])
        .verdict()
        .json();
    for args in [
        &["detect", "--key", "k.json", "--json", "-"][..],
        &["detect", "--key", "k.json", "--json"],
    ] {
        let v = sb.run_stdin(args, PARAGRAPH).verdict().json();
        assert_eq!(v["source"], "<stdin>", "{v}");
        for field in ["tokens", "scored", "green", "p_value", "verdict"] {
            assert_eq!(
                v[field], from_file[field],
                "{field}: stdin {v} vs file {from_file}"
            );
        }
    }
}

#[test]
fn detect_jsonl_documents_and_aggregate() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write(
        "r.jsonl",
        concat!(
            "{\"response\": \"The cat sat on the mat and looked out of the window at the rain.\"}\n",
            "{\"prompt\": \"Tell me about dogs.\", \"response\": \"Dogs are loyal animals that enjoy long walks.\"}\n",
            "{\"id\": 3, \"response\": \"Rivers carry water from the mountains down to the sea.\"}\n",
        ),
    );
    let lines = sb
        .run(&["detect", "--key", "k.json", "--json", "r.jsonl"])
        .verdict()
        .json_lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for (i, v) in lines[..3].iter().enumerate() {
        assert_eq!(v["line"].as_u64(), Some(i as u64 + 1), "{v}");
        assert_eq!(v["source"], "r.jsonl", "{v}");
        assert!(v.get("aggregate").is_none(), "{v}");
        p_value(v);
    }
    assert_eq!(lines[2]["id"], "3");
    let agg = &lines[3];
    assert_eq!(agg["aggregate"], true, "{agg}");
    assert_eq!(agg["documents"].as_u64(), Some(3), "{agg}");
    p_value(agg);
    let sum: u64 = lines[..3]
        .iter()
        .map(|v| v["tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(agg["tokens"].as_u64(), Some(sum), "{agg}");
    // Human mode: one block per record, then the aggregate.
    let human = sb.run(&["detect", "--key", "k.json", "r.jsonl"]);
    let firsts: Vec<&str> = human
        .verdict()
        .stdout
        .lines()
        .filter(|l| l.contains("p = "))
        .collect();
    assert_eq!(firsts.len(), 4, "{human:#?}");
    assert!(
        firsts[2].starts_with("r.jsonl:3 (id 3): ") && firsts[3].starts_with("3 documents pooled"),
        "{firsts:?}"
    );
}

#[test]
fn detect_window_scan() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write("p.txt", PARAGRAPH);
    let v = sb
        .run(&["detect", "--key", "k.json", "--json", "--window", "p.txt"])
        .verdict()
        .json();
    let w = &v["window"];
    assert!(w.is_object(), "{v}");
    assert!(w["windows_tested"].as_u64().unwrap() >= 1, "{w}");
    p_value(w);
    let human = sb.run(&[
        "detect",
        "--key",
        "k.json",
        "--window",
        "--min-window",
        "4",
        "p.txt",
    ]);
    assert!(
        human.verdict().stdout.contains("  window   tokens "),
        "{human:#?}"
    );
}

#[test]
fn detect_highlight_colours_tokens_and_prints_a_legend() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write("p.txt", PARAGRAPH);
    let out = sb.run(&["detect", "--key", "k.json", "--highlight", "p.txt"]);
    out.verdict();
    assert!(
        out.stdout.contains("\x1b[30;42m") && out.stdout.contains("\x1b[30;41m"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("\x1b[0m") && out.stdout.contains("\x1b[2m"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("green\x1b[0m") && out.stdout.contains("not scored"),
        "legend: {out:#?}"
    );
    // Without the escapes, the coloured part is the text itself.
    let mut plain = String::new();
    let mut rest = out.stdout.as_str();
    while let Some(i) = rest.find('\x1b') {
        plain.push_str(&rest[..i]);
        rest = &rest[i + rest[i..].find('m').expect("escape ends with m") + 1..];
    }
    plain.push_str(rest);
    assert!(plain.contains(PARAGRAPH), "{plain}");
    // Plain output has no escapes.
    let out = sb.run(&["detect", "--key", "k.json", "p.txt"]);
    assert!(!out.verdict().stdout.contains('\x1b'), "{out:#?}");
}

#[test]
fn no_dedup_warns_in_human_mode_only() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write("p.txt", PARAGRAPH);
    let out = sb.run(&["detect", "--key", "k.json", "--no-dedup", "p.txt"]);
    out.verdict();
    assert!(
        out.stderr.starts_with("warning: ") && out.stderr.contains("--no-dedup"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("NOT valid"), "{out:#?}");
    let out = sb.run(&["detect", "--key", "k.json", "p.txt"]);
    assert_eq!(out.verdict().stderr, "", "{out:#?}");
    let out = sb.run(&["detect", "--key", "k.json", "--no-dedup", "--json", "p.txt"]);
    assert_eq!(out.verdict().json()["dedup"], false, "{out:#?}");
}

// ---------------------------------------------------------------- human output

#[test]
fn human_output_first_line() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write("story.txt", PARAGRAPH);
    sb.write("hi.txt", "Hi\n");
    // A tiny --alpha makes "not detected" certain; an --alpha near 1 makes "WATERMARKED" certain
    // unless at most two of the ~78 tuples are green (probability below 1e-7).
    let cases = [
        (
            &["story.txt", "--alpha", "1e-12"][..],
            "story.txt: not detected  p = ",
        ),
        (
            &["story.txt", "--alpha", "0.99999999"],
            "story.txt: WATERMARKED  p = ",
        ),
        (&["hi.txt"], "hi.txt: nothing to score  p = 1.0000"),
    ];
    for (extra, expect) in cases {
        let mut args = vec!["detect", "--key", "k.json"];
        args.extend_from_slice(extra);
        let out = sb.run(&args);
        let first = out.verdict().stdout.lines().next().unwrap_or_default();
        assert!(first.starts_with(expect), "expected {expect:?}\n{out:#?}");
        assert!(
            out.stdout
                .contains(sb.key_json("k.json")["key_id"].as_str().unwrap()),
            "{out:#?}"
        );
    }
}

#[test]
fn text_shorter_than_the_context_scores_nothing() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &["--seeding", "selfhash", "--context", "3"]);
    sb.write("hi.txt", "Hi");
    let v = sb
        .run(&["detect", "--key", "k.json", "--json", "hi.txt"])
        .verdict()
        .json();
    assert_eq!(v["verdict"], "nothing_scored", "{v}");
    assert_eq!(v["scored"].as_u64(), Some(0), "{v}");
    assert_eq!(p_value(&v), 1.0, "{v}");
    let v = sb
        .run(&[
            "detect",
            "--key",
            "k.json",
            "--json",
            "--window",
            "--highlight",
            "hi.txt",
        ])
        .verdict()
        .json();
    assert_eq!(v["verdict"], "nothing_scored", "{v}");
}
