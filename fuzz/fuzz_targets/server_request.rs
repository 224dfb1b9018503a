//! `edgellm serve`'s request parsers on arbitrary bodies: chat and text completions,
//! /tokenize and /detokenize. Any body must give a checked request or a 4xx error whose
//! message is not empty; a panic is a bug (the server must keep serving).

#![no_main]

use edgellm_server::api::request::{
    MAX_STOP, MAX_STOP_BYTES, Prompt, parse_chat, parse_completion, parse_detokenize,
    parse_tokenize,
};
use libfuzzer_sys::fuzz_target;

/// SmolLM2's vocabulary size: token ids at and above it are refused.
const VOCAB: usize = 49152;

fuzz_target!(|body: &[u8]| {
    for parsed in [parse_chat(body), parse_completion(body, VOCAB)] {
        match parsed {
            Ok(r) => {
                assert!(r.stop.len() <= MAX_STOP);
                assert!(r.stop.iter().all(|s| !s.is_empty() && s.len() <= MAX_STOP_BYTES));
                assert!(r.max_tokens.is_none_or(|n| n >= 1));
                assert!(r.sampling.temperature.is_none_or(|t| (0.0..=2.0).contains(&t)));
                assert!(r.sampling.top_p.is_none_or(|p| (0.0..=1.0).contains(&p)));
                match &r.prompt {
                    Prompt::Chat(messages) => assert!(!messages.is_empty()),
                    Prompt::Tokens(ids) => assert!(ids.iter().all(|&t| (t as usize) < VOCAB)),
                    Prompt::Text(_) => {}
                }
            }
            Err(e) => {
                assert!(e.status.is_client_error(), "{e:?}");
                assert!(!e.message.is_empty());
            }
        }
    }
    if let Err(e) = parse_tokenize(body) {
        assert!(e.status.is_client_error());
    }
    match parse_detokenize(body, VOCAB) {
        Ok(ids) => assert!(ids.iter().all(|&t| (t as usize) < VOCAB)),
        Err(e) => assert!(e.status.is_client_error()),
    }
});
