//! A running `edgellm serve` for the tests, and a minimal HTTP/1.1 client over a raw
//! socket (what a hostile client sends is exactly what these tests write).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `edgellm serve` on a free port of 127.0.0.1 with SmolLM2; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The `--api-key` it was started with: [`Server::get`] and [`Server::post`] send it.
    key: Option<String>,
}

impl Server {
    /// Start the server with `args` (after `serve -m SMOLLM2 --port 0`) and wait until it
    /// listens.
    pub fn start(args: &[&str]) -> Server {
        let model = super::smollm2_path();
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgellm"))
            .args(["serve", "-m"])
            .arg(&model)
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start edgellm serve");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let Some(addr) = line
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
        else {
            let mut rest = String::new();
            let _ = err.read_to_string(&mut rest);
            panic!("edgellm serve did not start: {line}{rest}");
        };
        let addr = addr.parse().unwrap();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        let key = args
            .windows(2)
            .find(|w| w[0] == "--api-key")
            .map(|w| w[1].to_string());
        Server { child, addr, key }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Run the Python client `script` (a path from the repository root) with `args`; fails
    /// the test with its output unless it exits 0 and prints `done`. Its stdout.
    pub fn run_client(&self, script: &str, args: &[&str], done: &str) -> String {
        let path = format!("{}/../{script}", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("python3")
            .arg(&path)
            .args(args)
            .output()
            .expect("cannot run python3");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && text.contains(done),
            "{script} failed:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// Send SIGTERM and wait (up to `limit`) for the process to exit; its exit code.
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Send a request and read the whole response.
    pub fn request<K: AsRef<str>, V: AsRef<str>>(
        &self,
        method: &str,
        path: &str,
        headers: &[(K, V)],
        body: &[u8],
    ) -> Response {
        let mut s = self.open(method, path, headers, body);
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        Response::parse(&raw)
    }

    /// GET with the server's key, if it has one.
    pub fn get(&self, path: &str) -> Response {
        let auth = self.auth();
        self.request("GET", path, &auth, b"")
    }

    /// POST a JSON body with the server's key, if it has one.
    pub fn post(&self, path: &str, body: &str) -> Response {
        let mut headers = self.auth();
        headers.push(("Content-Type".into(), "application/json".into()));
        self.request("POST", path, &headers, body.as_bytes())
    }

    fn auth(&self) -> Vec<(String, String)> {
        self.key
            .iter()
            .map(|k| ("Authorization".to_string(), format!("Bearer {k}")))
            .collect()
    }

    /// Send a request and return the connection, for reading a stream as it comes.
    pub fn open<K: AsRef<str>, V: AsRef<str>>(
        &self,
        method: &str,
        path: &str,
        headers: &[(K, V)],
        body: &[u8],
    ) -> TcpStream {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{}: {}\r\n", k.as_ref(), v.as_ref()));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) before reading all of a large body.
        let _ = s.write_all(body);
        s
    }

    /// A Prometheus sample's value from /metrics.
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").body;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status, headers (lower-case names) and body of one response (chunked bodies joined).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
        let (head, body) = match split {
            Some(at) => (&raw[..at], &raw[at + 4..]),
            None => (raw, &raw[raw.len()..]),
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {head:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        };
        let body = String::from_utf8_lossy(&body).into_owned();
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// The payload of a chunked body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&body[..eol]);
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let rest = &body[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}
