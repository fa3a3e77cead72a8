//! A `tracemark serve` child process for end-to-end tests, and a minimal HTTP/1.1 client
//! over `std::net` (one request per connection), so tests see exactly what goes on the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::Sandbox;
use std::time::Duration;

use serde_json::Value;

/// A running `tracemark serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`, as the server printed it.
    pub addr: String,
    stderr: std::thread::JoinHandle<String>,
}

impl Server {
    /// Starts `tracemark serve ARGS` in `dir` and waits for the bound address (its first
    /// line on stdout). Pass `--listen 127.0.0.1:0` for a free port.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(crate::bin())
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tracemark serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the bound address");
        let addr = line.trim().to_string();
        if addr.is_empty() {
            let status = child.wait().expect("wait");
            panic!(
                "serve exited ({status}) without an address: {}",
                stderr.join().unwrap()
            );
        }
        Self {
            child,
            addr,
            stderr,
        }
    }

    /// `http://ADDR/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Sends SIGTERM (or SIGKILL with `kill9`) and waits: the exit code (None if killed by
    /// a signal) and everything the server wrote to stderr.
    pub fn stop(mut self, kill9: bool) -> (Option<i32>, String) {
        let signal = if kill9 { "-KILL" } else { "-TERM" };
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        let status = self.child.wait().expect("wait for serve");
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        (status.code(), stderr.join().unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response: status, headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header lines as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The body (chunked transfer decoded).
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `data:` payloads of a server-sent-events body.
    pub fn events(&self) -> Vec<String> {
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(str::to_string)
            .collect()
    }
}

/// The request bytes for `method path` with an optional bearer key and body.
fn request_bytes(addr: &str, method: &str, path: &str, key: Option<&str>, body: &str) -> Vec<u8> {
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends one request and reads the whole response.
pub fn http(addr: &str, method: &str, path: &str, key: Option<&str>, body: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    stream
        .write_all(&request_bytes(addr, method, path, key, body))
        .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    parse_reply(&raw)
}

/// `POST /v1/chat/completions` with a JSON body.
pub fn chat(addr: &str, key: Option<&str>, body: &Value) -> Reply {
    http(addr, "POST", "/v1/chat/completions", key, &body.to_string())
}

/// Sends a streamed request, reads until the first answer chunk, and hangs up.
pub fn chat_and_hang_up(addr: &str, key: Option<&str>, body: &Value) {
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    let body = body.to_string();
    stream
        .write_all(&request_bytes(
            addr,
            "POST",
            "/v1/chat/completions",
            key,
            &body,
        ))
        .expect("send the request");
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&seen).contains("\"content\":\"") || seen.len() < 600 {
        let n = stream.read(&mut buf).expect("read the stream");
        assert!(n > 0, "the stream ended before an answer chunk");
        seen.extend_from_slice(&buf[..n]);
    }
    drop(stream);
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Reply {
        status,
        headers,
        body: String::from_utf8(body).expect("a UTF-8 body"),
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&body[..eol]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let rest = &body[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// Every request row of the ledger at `location` (a SQLite file or a postgres:// URL).
pub fn ledger_requests(location: &str) -> Vec<tracemark_ledger::RequestRow> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let ledger = tracemark_ledger::Ledger::open(location)
            .await
            .expect("the ledger opens");
        let rows = ledger.requests().await.expect("the ledger's requests");
        ledger.close().await;
        rows
    })
}

/// `tracemark accounts create ACCOUNT --ledger LEDGER` in `sb`: the new API key.
pub fn create_account(sb: &Sandbox, ledger: &str, account: &str) -> String {
    let out = sb.run(&["accounts", "create", account, "--ledger", ledger]);
    out.ok();
    out.stdout.trim().to_string()
}

/// Starts `tracemark query --json ARGS` in `dir`, with `key` (if any) in `TM_KEY`.
pub fn spawn_query(dir: &Path, key: Option<&str>, args: &[&str]) -> Child {
    let mut cmd = Command::new(crate::bin());
    cmd.args(["query", "--json"]).args(args).current_dir(dir);
    if let Some(key) = key {
        cmd.args(["--api-key-env", "TM_KEY"]).env("TM_KEY", key);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracemark query")
}

/// Waits for a query and returns its JSON summary, asserting success.
pub fn finish_query(child: Child) -> Value {
    let out = child.wait_with_output().expect("wait for query");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "query failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}
