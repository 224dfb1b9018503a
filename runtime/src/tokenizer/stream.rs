//! Incremental decoding for generation: emits text only once its UTF-8 is complete.

use alloc::string::String;
use alloc::vec::Vec;

use super::Tokenizer;

/// Turns a stream of token ids into text pieces. A token may end in the middle of a UTF-8
/// sequence (byte-level BPE pieces, `<0xXX>` byte tokens); those bytes wait in a buffer
/// until the sequence completes. Bytes that can never become valid UTF-8 are emitted as
/// U+FFFD right away. The concatenation of all pieces plus [`TokenStream::flush`] equals
/// [`Tokenizer::decode`] of the same ids.
///
/// The stream does not borrow the tokenizer: pass the same one to every
/// [`TokenStream::push`].
#[derive(Debug, Default)]
pub struct TokenStream {
    pending: Vec<u8>,
    out: String,
    /// A non-BOS token has been pushed (the SentencePiece leading space is dropped once).
    started: bool,
}

impl TokenStream {
    pub fn new() -> Self {
        TokenStream::default()
    }

    /// Adds token `id`; returns the text that became complete (possibly empty). The returned
    /// slice lives in an internal buffer reused by the next call: no allocation per token
    /// once the buffers have grown.
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> &str {
        let piece = tok.token_bytes(id);
        let mut p: &[u8] = &piece;
        if !self.started && Some(id) != tok.bos() {
            if tok.add_space_prefix()
                && let Some(rest) = p.strip_prefix(b" ")
            {
                p = rest;
            }
            self.started = true;
        }
        self.pending.extend_from_slice(p);
        self.out.clear();
        let mut start = 0;
        loop {
            match core::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    self.out.push_str(s);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // The first `valid` bytes were just validated.
                    self.out.push_str(
                        core::str::from_utf8(&self.pending[start..start + valid]).unwrap_or(""),
                    );
                    start += valid;
                    match e.error_len() {
                        Some(bad) => {
                            self.out.push(char::REPLACEMENT_CHARACTER);
                            start += bad;
                        }
                        // An incomplete sequence at the end: wait for more bytes.
                        None => break,
                    }
                }
            }
        }
        self.pending.drain(..start);
        &self.out
    }

    /// Emits whatever is buffered (an incomplete sequence becomes U+FFFD) and resets the
    /// stream for a new text.
    pub fn flush(&mut self) -> &str {
        self.out.clear();
        self.started = false;
        if !self.pending.is_empty() {
            self.out.push_str(&String::from_utf8_lossy(&self.pending));
            self.pending.clear();
        }
        &self.out
    }

    /// Bytes waiting for the rest of a UTF-8 sequence.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }
}
