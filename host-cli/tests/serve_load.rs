//! A bounded load test: 8 clients stream chat requests for 20 s into a server with 4 slots
//! and a queue of 2, so some are refused. Nothing may be lost: every request completes with
//! consistent counts or gets a clean 503, and /metrics agrees with the clients
//! (scripts/serve-load.py, which also reports time to first token and tokens/s).

mod common;

use common::server::Server;

#[test]
fn eight_clients_for_twenty_seconds_lose_nothing() {
    let server = Server::start(&["-t", "2", "-p", "4", "--queue", "2"]);
    let text = server.run_client(
        "scripts/serve-load.py",
        &[
            &server.url(),
            "--clients",
            "8",
            "--seconds",
            "20",
            "--max-tokens",
            "32",
        ],
        "load test passed",
    );
    eprintln!("{text}");
    let summary: serde_json::Value =
        serde_json::from_str(text.split("\nload test passed").next().unwrap()).unwrap();
    assert!(summary["completed"].as_u64().unwrap() >= 8, "{summary}");
}
