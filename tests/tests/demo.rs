//! End-to-end: `tracemark demo --quick` on the real default model tells the whole story:
//! the student distilled from watermarked answers is radioactive, the control is not, and the
//! evidence report is written. A second run reuses the cached teacher corpora. A third
//! serves the answers to 200 accounts, three of which harvest, and traces the student.

use tracemark_tests::{Sandbox, test_gguf};

#[test]
fn quick_demo_flags_the_distilled_student_and_clears_the_control() {
    let gguf = test_gguf();
    let sb = Sandbox::new();
    let (out, cache) = (sb.path("demo"), sb.path("cache"));
    let args = [
        "demo",
        "--quick",
        "--json",
        "--model",
        &gguf,
        "--out",
        out.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ];
    let run = sb.run(&args);
    let v = run.ok().json();
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 9, "{v}");
    let find = |student: &str, test: &str| {
        rows.iter()
            .find(|r| r["student"] == student && r["test"] == test)
            .unwrap_or_else(|| panic!("no row {student} / {test}: {v}"))
    };
    // ρ = 100%: every test flags it.
    for test in ["closed", "closed, supervised", "open (reading)"] {
        let r = find("student-100", test);
        assert_eq!(r["verdict"], "RADIOACTIVE", "{r}");
    }
    // The control trained on unwatermarked answers only: never flagged, p ≥ 0.01.
    for test in ["closed", "closed, supervised", "open (reading)"] {
        let r = find("control-0", test);
        assert_ne!(r["verdict"], "RADIOACTIVE", "{r}");
        assert!(r["log10_p"].as_f64().unwrap() >= -2.0, "{r}");
    }
    for file in ["report.html", "report.json", "watermarked-answers.jsonl"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let html = String::from_utf8(sb.read("demo/report.html")).unwrap();
    assert!(html.contains("RADIOACTIVE") && !html.contains("<script"));

    // Re-run: the teacher corpora come from the cache, untouched, and the result is identical.
    let snapshot = || {
        let mut files: Vec<(String, Vec<u8>, std::time::SystemTime)> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let modified = p.metadata().unwrap().modified().unwrap();
                (
                    p.display().to_string(),
                    std::fs::read(&p).unwrap(),
                    modified,
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot();
    assert_eq!(before.len(), 2, "one watermarked and one plain corpus");
    let again = sb.run(&args);
    let w = again.ok().json();
    assert_eq!(w["rows"], v["rows"]);
    assert_eq!(snapshot(), before, "the cached corpora were regenerated");

    // The account story, on the same cached corpora plus the answers served to accounts.
    let mut with_accounts = args.to_vec();
    with_accounts.extend(["--accounts", "200", "--harvesters", "3"]);
    let traced = sb.run(&with_accounts);
    let t = traced.ok().json();
    let report: serde_json::Value = serde_json::from_slice(&sb.read("demo/report.json")).unwrap();
    let a = &report["attribution"];
    assert_eq!(a, &t["attribution"], "report.json and --json agree");
    let harvesters: Vec<&str> = a["harvesters"]
        .as_array()
        .expect("harvesters")
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(harvesters.len(), 3, "{a}");
    for id in a["attributed"].as_array().expect("attributed") {
        assert!(
            harvesters.contains(&id.as_str().unwrap()),
            "innocent {id} attributed: {a}"
        );
    }
    // Quick scale is too small to require attribution (seed 0 measured: the harvesters'
    // set test at p = 2e-5, the top two accounts harvesters); the innocent set must stay calibrated.
    assert!(a["harvesters_set_p"].as_f64().unwrap() <= 1e-2, "{a}");
    assert!(a["innocent_set_p"].as_f64().unwrap() >= 0.01, "{a}");
    assert_eq!(a["phantom_log10_p"].as_array().unwrap().len(), 1000);
    let met = |name: &str| {
        t["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["target"].as_str().unwrap().contains(name) && x["met"] == true)
    };
    assert!(met("no innocent account attributed"), "{t}");
}
