//! Checks made before a job starts: the base URL, the options and the output to resume.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use tracemark_io::Prompts;

use crate::{ClientError, QueryOptions};

/// What resuming needs of an existing record.
#[derive(Deserialize)]
pub(crate) struct Existing {
    index: usize,
    repeat: usize,
    prompt: String,
}

/// The base URL without its trailing slash, if it is a usable `http(s)` URL.
pub(crate) fn check_base_url(url: &str) -> Result<String, ClientError> {
    let base = url.trim().trim_end_matches('/');
    let bad = |shown: &str, reason: &str| ClientError::BadUrl {
        url: shown.to_string(),
        reason: reason.to_string(),
    };
    let mut parsed = reqwest::Url::parse(base).map_err(|e| bad(base, &e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(base, "the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad(base, "it has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Never echo the credentials.
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let reason = "credentials do not belong in the URL; pass the API key separately";
        return Err(bad(parsed.as_str(), reason));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad(base, "a base URL has no query or fragment"));
    }
    Ok(base.to_string())
}

pub(crate) fn check_options(opts: &QueryOptions) -> Result<(), ClientError> {
    let fail = |m: &str| Err(ClientError::Options(m.to_string()));
    if opts.repeats == 0 {
        return fail("repeats must be at least 1");
    }
    if opts.concurrency == 0 {
        return fail("concurrency must be at least 1");
    }
    if opts.max_tokens == 0 {
        return fail("max_tokens must be at least 1");
    }
    if opts.timeout.is_zero() {
        return fail("the request timeout must be positive");
    }
    if opts
        .temperature
        .is_some_and(|t| !(t.is_finite() && t >= 0.0))
    {
        return fail("temperature must be a number ≥ 0");
    }
    if opts.top_p.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
        return fail("top_p must be in (0, 1]");
    }
    Ok(())
}

/// The (index, repeat) pairs already answered, after checking they answer these prompts.
pub(crate) fn resumable(
    existing: &[Existing],
    prompts: &Prompts,
    out: &Path,
) -> Result<HashSet<(usize, usize)>, ClientError> {
    let mut done = HashSet::new();
    for e in existing {
        if prompts.texts().get(e.index) != Some(&e.prompt) {
            return Err(ClientError::PromptMismatch {
                path: out.to_path_buf(),
                index: e.index,
            });
        }
        done.insert((e.index, e.repeat));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            check_base_url("http://127.0.0.1:8080/v1/").unwrap(),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(
            check_base_url("https://api.example.com/v1").unwrap(),
            "https://api.example.com/v1"
        );
        let err = |u: &str| check_base_url(u).unwrap_err().to_string();
        assert!(
            err("localhost:8080").contains("scheme must be http"),
            "{}",
            err("localhost:8080")
        );
        assert!(err("not a url").starts_with("invalid base URL \"not a url\""));
        assert!(err("ftp://h/v1").contains("http or https"));
        assert!(err("http://h/v1?x=1").contains("no query"));
        let creds = err("https://user:sk-secret@h/v1");
        assert!(
            !creds.contains("sk-secret") && creds.contains("credentials"),
            "{creds}"
        );
    }

    #[test]
    fn options_are_checked() {
        let base = QueryOptions::new("http://h/v1");
        assert!(check_options(&base).is_ok());
        for bad in [
            QueryOptions {
                repeats: 0,
                ..base.clone()
            },
            QueryOptions {
                concurrency: 0,
                ..base.clone()
            },
            QueryOptions {
                max_tokens: 0,
                ..base.clone()
            },
            QueryOptions {
                top_p: Some(0.0),
                ..base.clone()
            },
            QueryOptions {
                temperature: Some(f32::NAN),
                ..base.clone()
            },
            QueryOptions {
                timeout: Duration::ZERO,
                ..base.clone()
            },
        ] {
            assert!(
                matches!(check_options(&bad), Err(ClientError::Options(_))),
                "{bad:?}"
            );
        }
    }
}
