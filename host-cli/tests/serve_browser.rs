//! The chat page at `/` in a real browser: headless Chromium sends two messages, and the
//! streamed answers, the tokens/s line and the screenshot are checked
//! (server/tests/clients/browser_chat.py).

mod common;

use common::server::Server;

#[test]
fn the_chat_page_streams_answers_in_headless_chromium() {
    let server = Server::start(&["-t", "2"]);
    let shots = std::env::temp_dir().join("edgellm-browser-test");
    server.run_client(
        "server/tests/clients/browser_chat.py",
        &[&server.url(), shots.to_str().unwrap()],
        "browser checks passed",
    );
    assert!(shots.join("chat-page.png").is_file());
}
