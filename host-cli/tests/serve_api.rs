//! `edgellm serve` end to end: the official `openai` Python client, curl's raw stream, and
//! hostile requests — each bad request a 4xx OpenAI-shaped error while the server keeps
//! serving; a full queue is 503 with Retry-After; a client that disconnects frees its slot.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::Server;

const CHAT: &str = r#"{"messages":[{"role":"user","content":"Name three colors."}],"max_tokens":8,"temperature":0}"#;

/// The `openai` package's chat, streaming, completions, models, usage, stop sequences,
/// seeds, concurrency and error types (server/tests/clients/openai_client.py).
#[test]
fn the_openai_python_client_works_against_the_server() {
    let server = Server::start(&["--api-key", "test-key", "-p", "4", "-t", "2"]);
    server.run_client(
        "server/tests/clients/openai_client.py",
        &[&server.url(), "test-key"],
        "checks passed",
    );
}

/// curl sees server-sent events: `data: {json}` lines, then `data: [DONE]`.
#[test]
fn curl_reads_the_raw_event_stream() {
    let server = Server::start(&["-t", "1"]);
    let body = r#"{"messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}"#;
    let out = Command::new("curl")
        .args([
            "-sSN",
            "--max-time",
            "120",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ])
        .arg(format!("{}/v1/chat/completions", server.url()))
        .output()
        .expect("cannot run curl");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let events: Vec<&str> = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"), "{text}");
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").expect(e)).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage = &chunks.last().unwrap()["usage"];
    let generated = usage["completion_tokens"].as_u64().unwrap();
    assert!((1..=6).contains(&generated), "{usage}");
    let finish = &chunks[chunks.len() - 2]["choices"][0]["finish_reason"];
    assert!(finish == "length" || finish == "stop", "{finish}");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
}

/// Every bad request is a 4xx with `{"error": {"message", "type", ...}}` naming the
/// problem; afterwards the server still answers.
#[test]
fn bad_requests_get_openai_errors_and_the_server_keeps_serving() {
    let mut server = Server::start(&[
        "-t",
        "1",
        "-c",
        "64",
        "--max-body",
        "4096",
        "--api-key",
        "k",
    ]);
    let auth = [("Authorization", "Bearer k")];
    let post = |body: &[u8]| server.request("POST", "/v1/chat/completions", &auth, body);
    let long_prompt = format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "word ".repeat(200)
    );
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "invalid JSON",
            b"{\"messages\": [".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "not an object",
            b"[]".to_vec(),
            400,
            "must be a JSON object",
        ),
        (
            "missing messages",
            b"{}".to_vec(),
            400,
            "messages: required",
        ),
        (
            "wrong type",
            br#"{"messages":"hello"}"#.to_vec(),
            400,
            "messages: expected an array",
        ),
        (
            "bad role",
            br#"{"messages":[{"role":7,"content":"x"}]}"#.to_vec(),
            400,
            "messages[0].role",
        ),
        (
            "negative max_tokens",
            br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":-1}"#.to_vec(),
            400,
            "max_tokens",
        ),
        (
            "huge max_tokens",
            br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":1000000000000}"#.to_vec(),
            400,
            "context is 64 tokens",
        ),
        (
            "float max_tokens",
            br#"{"messages":[{"role":"user","content":"x"}],"max_tokens":2.5}"#.to_vec(),
            400,
            "max_tokens",
        ),
        (
            "prompt over the context",
            long_prompt.into_bytes(),
            400,
            "context is 64 tokens",
        ),
        (
            "unknown model",
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}"#.to_vec(),
            404,
            "does not exist",
        ),
        (
            "body over the cap",
            vec![b' '; 5000],
            413,
            "limit of 4096 bytes",
        ),
        (
            "invalid UTF-8",
            b"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "temperature out of range",
            br#"{"messages":[{"role":"user","content":"x"}],"temperature":-1}"#.to_vec(),
            400,
            "temperature",
        ),
        (
            "unsupported n",
            br#"{"messages":[{"role":"user","content":"x"}],"n":3}"#.to_vec(),
            400,
            "n: not supported",
        ),
    ];
    for (what, body, status, needle) in cases {
        let r = post(&body);
        assert_eq!(r.status, status, "{what}: {}", r.body);
        let e = &r.json()["error"];
        let message = e["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: {}", r.body));
        assert!(message.contains(needle), "{what}: {message}");
        assert!(e["type"].is_string(), "{what}: {}", r.body);
    }
    // Without the key, with a wrong key, and a key sent in a different scheme.
    let no_headers: Vec<(&str, &str)> = vec![];
    for headers in [
        no_headers,
        vec![("Authorization", "Bearer kk")],
        vec![("Authorization", "Basic k")],
    ] {
        let r = server.request("GET", "/v1/models", &headers, b"");
        assert_eq!(r.status, 401, "{:?}", headers);
        assert_eq!(r.json()["error"]["code"], "invalid_api_key");
    }
    // The page and /health need no key; unknown routes and methods are JSON 404 / 405.
    assert_eq!(server.get("/health").status, 200);
    assert_eq!(server.get("/").status, 200);
    let r = server.request("GET", "/v2/nothing", &auth, b"");
    assert_eq!(
        (r.status, r.json()["error"]["message"].as_str().unwrap()),
        (404, "no route GET /v2/nothing")
    );
    assert_eq!(
        server
            .request("GET", "/v1/chat/completions", &auth, b"")
            .status,
        405
    );
    // /tokenize and /detokenize check their input too.
    let r = server.request("POST", "/detokenize", &auth, br#"{"tokens":[1, 99999999]}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not a token id"));
    let r = server.request("POST", "/tokenize", &auth, br#"{"text":"x"}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    // Still serving: a good request works and the process is alive.
    let r = post(CHAT.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(server.alive());
    assert!(server.metric("edgellm_http_responses_total{code=\"400\"}") >= 10.0);
}

/// With one slot and a queue of one, a third concurrent request is refused with 503 and
/// Retry-After; the others complete.
#[test]
fn a_full_queue_is_503_with_retry_after() {
    let server = Server::start(&["-t", "1", "-p", "1", "--queue", "1"]);
    let long = r#"{"prompt":"Count: 1, 2, 3,","max_tokens":400,"stream":true}"#;
    // The first request holds the slot: wait until it streams.
    let none: &[(&str, &str)] = &[];
    let first = server.open("POST", "/v1/completions", none, long.as_bytes());
    let mut first = BufReader::new(first);
    let mut line = String::new();
    while !line.starts_with("data:") {
        line.clear();
        first.read_line(&mut line).unwrap();
    }
    // The second waits in the queue.
    let second = server.open(
        "POST",
        "/v1/completions",
        none,
        br#"{"prompt":"Hi","max_tokens":4}"#,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.metric("edgellm_queue_depth") < 1.0 {
        assert!(Instant::now() < deadline, "the second request never queued");
        std::thread::sleep(Duration::from_millis(20));
    }
    let third = server.post("/v1/chat/completions", CHAT);
    assert_eq!(third.status, 503, "{}", third.body);
    assert_eq!(third.header("retry-after"), Some("1"));
    assert_eq!(third.json()["error"]["type"], "server_busy");
    assert_eq!(server.metric("edgellm_requests_rejected_total"), 1.0);
    drop((first, second));
}

/// A streaming client that goes away mid-answer frees its slot: with one slot, the next
/// request is served, and the cancellation is counted.
#[test]
fn a_client_that_disconnects_frees_its_slot() {
    let server = Server::start(&["-t", "1", "-p", "1"]);
    let long = r#"{"prompt":"Once upon a time","max_tokens":1500,"stream":true}"#;
    let none: &[(&str, &str)] = &[];
    let s = server.open("POST", "/v1/completions", none, long.as_bytes());
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    while !line.starts_with("data:") {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    drop(reader);
    let started = Instant::now();
    let r = server.post("/v1/chat/completions", CHAT);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.metric("edgellm_requests_cancelled_total"), 1.0);
    // 1500 tokens would take many seconds; the slot came free long before.
    assert!(server.metric("edgellm_generated_tokens_total") < 1500.0);
    eprintln!("served after the disconnect in {:?}", started.elapsed());
}

/// /metrics is Prometheus text whose counters follow the requests; /tokenize and
/// /detokenize round-trip; /v1/models names the model; / is the chat page.
#[test]
fn metrics_tokenizer_models_and_page() {
    let server = Server::start(&["-t", "1"]);
    let r = server.post(
        "/v1/completions",
        r#"{"prompt":"Hello","max_tokens":5,"temperature":0}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let usage = &r.json()["usage"];
    let m = server.get("/metrics");
    assert!(
        m.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert!(
        m.body
            .contains("# TYPE edgellm_generated_tokens_total counter")
    );
    assert_eq!(
        server.metric("edgellm_generated_tokens_total"),
        usage["completion_tokens"].as_f64().unwrap()
    );
    assert_eq!(
        server.metric("edgellm_prompt_tokens_total"),
        usage["prompt_tokens"].as_f64().unwrap()
    );
    assert_eq!(server.metric("edgellm_requests_completed_total"), 1.0);
    assert_eq!(server.metric("edgellm_active_sequences"), 0.0);
    assert!(server.metric("edgellm_generated_tokens_per_second") > 0.0);

    let ids = server
        .post("/tokenize", r#"{"content":"Hello, world! <|im_start|>"}"#)
        .json();
    let ids = ids["tokens"].as_array().unwrap().clone();
    assert!(ids.len() >= 4);
    let back = server.post(
        "/detokenize",
        &serde_json::json!({ "tokens": ids }).to_string(),
    );
    assert_eq!(back.json()["content"], "Hello, world! <|im_start|>");

    let models = server.get("/v1/models").json();
    assert_eq!(models["data"][0]["id"], "SmolLM2-135M-Instruct.Q4_1");
    let page = server.get("/");
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("edgellm"));
}

/// SIGTERM ends the server with status 0: at once when idle, and within the grace period
/// while a stream is open.
#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut idle = Server::start(&["-t", "1"]);
    assert_eq!(idle.terminate(Duration::from_secs(10)), Some(0));

    let mut busy = Server::start(&["-t", "1", "-p", "1"]);
    let none: &[(&str, &str)] = &[];
    let long = r#"{"prompt":"Once upon a time","max_tokens":1900,"stream":true}"#;
    let mut reader = BufReader::new(busy.open("POST", "/v1/completions", none, long.as_bytes()));
    let mut line = String::new();
    while !line.starts_with("data:") {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    assert_eq!(busy.terminate(Duration::from_secs(20)), Some(0));
}
