//! Memory does not grow with the input, only with the dedup set: `tracemark detect` on 40 MB
//! of repetitive text stays small, and on 40 MB of text with millions of distinct tuples
//! (about 21M tokens, 11M distinct tuples) stays under the ceiling the README states. Peak RSS is read by python3
//! (`ru_maxrss` of the child).

use tracemark_tests::Sandbox;

/// The ceiling the README states.
const CEILING_MB: f64 = 300.0;

/// About `bytes` of text in sentences of random words from a 20k-word vocabulary, so that
/// most (window, token) tuples are distinct and the dedup set has to grow.
fn diverse_text(bytes: usize) -> String {
    let letters = b"abcdefghiklmnoprstuvwy";
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words: Vec<String> = (0..20_000)
        .map(|_| {
            let n = 3 + (next() % 6) as usize;
            (0..n)
                .map(|_| letters[(next() % 22) as usize] as char)
                .collect()
        })
        .collect();
    let mut text = String::with_capacity(bytes + 64);
    while text.len() < bytes {
        for _ in 0..12 {
            text.push_str(&words[(next() % 20_000) as usize]);
            text.push(' ');
        }
        text.push_str("end.\n");
    }
    text
}

/// Peak RSS in MB of `tracemark ARGS` run in the sandbox, and its exit code.
fn peak_rss(sb: &Sandbox, args: &[&str]) -> (f64, i32) {
    let script = "import resource, subprocess, sys\n\
                  r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n\
                  print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(tracemark_tests::bin())
        .args(args)
        .current_dir(sb.path(""))
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut it = stdout.split_whitespace();
    let kb: f64 = it.next().and_then(|v| v.parse().ok()).expect("ru_maxrss");
    let code: i32 = it.next().and_then(|v| v.parse().ok()).expect("exit code");
    (kb / 1024.0, code)
}

/// The text does not count, only its distinct tuples: 40 MB of a licence, repeated.
const REPETITIVE_CEILING_MB: f64 = 100.0;

#[test]
fn repetitive_text_needs_little_memory_however_long() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    let gpl = std::fs::read_to_string("/usr/share/common-licenses/GPL-3").expect("base-files");
    sb.write("big.txt", gpl.repeat((40 << 20) / gpl.len() + 1));
    let (mb, code) = peak_rss(&sb, &["detect", "--key", "k.json", "big.txt"]);
    eprintln!("peak RSS {mb:.0} MB for 40 MB of repeated text");
    assert!(matches!(code, 0 | 1), "ran to a verdict: exit code {code}");
    assert!(
        mb < REPETITIVE_CEILING_MB,
        "peak RSS {mb:.0} MB ≥ {REPETITIVE_CEILING_MB} MB"
    );
}

#[test]
fn detection_memory_stays_bounded_on_a_large_input() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write("big.txt", diverse_text(40 << 20));
    let (mb, code) = peak_rss(&sb, &["detect", "--key", "k.json", "--json", "big.txt"]);
    let v: serde_json::Value = {
        let out = sb.run(&["detect", "--key", "k.json", "--json", "big.txt"]);
        out.verdict().json()
    };
    let tokens = v["tokens"].as_u64().unwrap();
    let scored = v["scored"].as_u64().unwrap();
    eprintln!("peak RSS {mb:.0} MB for {tokens} tokens, {scored} distinct tuples scored");
    assert!(matches!(code, 0 | 1), "ran to a verdict: exit code {code}");
    assert!(tokens > 15_000_000, "{v}");
    assert!(scored > 10_000_000, "millions of distinct tuples: {v}");
    assert!(mb < CEILING_MB, "peak RSS {mb:.0} MB ≥ {CEILING_MB} MB");
}
