//! Render a hostile chat template with hostile messages: `ChatTemplate::new` on arbitrary
//! source, then `render` and `render_with_contents`, with and without the generation prompt.
//! Any panic is a bug, and so is a hang or a memory blow-up (libFuzzer's `-timeout` and
//! `-rss_limit_mb`): the renderer's limits (`chat_template::Limits`) must stop the template
//! first. When `render_with_contents` succeeds, its ranges must be sorted, disjoint, on char
//! boundaries, one per message, and hold exactly the messages' contents.
//!
//! Input: one flags byte, then the template source, then the messages, separated by NUL
//! (arbitrary bytes are read as UTF-8, lossily). A message `role\x01content` has that role;
//! otherwise roles alternate user / assistant (starting with system when flags bit 0 is set).
#![no_main]

use edgellm_cli::chat_template::{ChatTemplate, Message};
use libfuzzer_sys::fuzz_target;

/// More messages than this are ignored (a conversation of 8 shows every interleaving).
const MAX_MESSAGES: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let input = String::from_utf8_lossy(rest);
    let mut parts = input.split('\0');
    let source = parts.next().unwrap_or_default();
    let mut messages = Vec::new();
    for (i, part) in parts.take(MAX_MESSAGES).enumerate() {
        let (role, content) = match part.split_once('\u{1}') {
            Some((role, content)) => (role.to_string(), content.to_string()),
            None => {
                let turn = i + usize::from(flags & 1 == 0);
                let role = match (i, turn % 2) {
                    (0, 0) => "system",
                    (_, 1) => "user",
                    _ => "assistant",
                };
                (role.to_string(), part.to_string())
            }
        };
        messages.push(Message { role, content });
    }
    let (bos, eos) = if flags & 2 != 0 {
        ("<|im_start|>", "<|im_end|>")
    } else {
        ("<s>", "</s>")
    };
    let Ok(template) = ChatTemplate::new(source, bos, eos) else {
        return;
    };
    for add_generation_prompt in [false, true] {
        let _ = template.render(&messages, add_generation_prompt);
        let Ok((text, ranges)) = template.render_with_contents(&messages, add_generation_prompt)
        else {
            continue;
        };
        assert_eq!(ranges.len(), messages.len(), "one range per message");
        let mut end = 0;
        for r in &ranges {
            assert!(
                end <= r.start && r.start <= r.end && r.end <= text.len(),
                "{ranges:?}"
            );
            assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            end = r.end;
        }
        let mut found: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        let mut contents: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
        found.sort_unstable();
        contents.sort_unstable();
        assert_eq!(found, contents, "the ranges hold the messages' contents");
    }
});
