//! The chat page at `/` in a real browser: headless Chromium sends two messages, and the
//! streamed answers, the tokens/s line and the screenshot are checked
//! (server/tests/clients/browser_chat.py).

mod common;

use std::process::Command;

use common::server::Server;

#[test]
fn the_chat_page_streams_answers_in_headless_chromium() {
    let server = Server::start(&["-t", "2"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../server/tests/clients/browser_chat.py"
    );
    let shots = std::env::temp_dir().join("edgellm-browser-test");
    let out = Command::new("python3")
        .arg(script)
        .arg(server.url())
        .arg(&shots)
        .output()
        .expect("cannot run python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser checks failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("browser checks passed"), "{text}");
    assert!(shots.join("chat-page.png").is_file());
}
