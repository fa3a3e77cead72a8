//! The `paper` binary's argument errors: one `error:` line, exit status 2 (as `tracemark`), before any work.

use std::process::Command;

#[test]
fn zero_keys_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_paper"))
        .args(["fernandez2023-three-bricks", "--keys", "0", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("--keys"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists());
}
