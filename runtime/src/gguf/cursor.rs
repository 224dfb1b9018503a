//! Checked little-endian reads over the file bytes, tracking the absolute offset.
//!
//! Every read checks the bytes left first and returns [`GgufError::Truncated`] naming the
//! offset, the place in the file ([`Loc`]) and the field. Nothing here allocates.

use super::error::{Context, GgufError, Limit, clip};

/// Where the cursor is, borrowed from the file: turned into an owned [`Context`] only when an
/// error is built.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Loc<'a> {
    Header,
    Key(&'a str),
    KeyIndex(u64),
    Tensor(&'a str),
    TensorIndex(u64),
}

impl Loc<'_> {
    pub(crate) fn context(self) -> Context {
        match self {
            Loc::Header => Context::Header,
            Loc::Key(k) => Context::Key(clip(k)),
            Loc::KeyIndex(i) => Context::KeyIndex(i),
            Loc::Tensor(t) => Context::Tensor(clip(t)),
            Loc::TensorIndex(i) => Context::TensorIndex(i),
        }
    }
}

/// A read position in `bytes`. `pos <= bytes.len()` always holds.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// Absolute offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// The bytes from absolute offset `start` (at most `pos`) up to the cursor.
    pub(crate) fn slice_from(&self, start: usize) -> &'a [u8] {
        &self.bytes[start.min(self.pos)..self.pos]
    }

    /// Bytes left after the cursor.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// A truncation error at the cursor for a field of `needed` bytes.
    pub(crate) fn truncated(&self, loc: Loc<'_>, what: &'static str, needed: u64) -> GgufError {
        GgufError::Truncated {
            offset: self.offset(),
            context: loc.context(),
            what,
            needed,
            available: self.remaining() as u64,
        }
    }

    /// Error unless `count` items of at least `min_size` bytes each can still fit in the file.
    /// Called before any loop or allocation sized by a count read from the file.
    pub(crate) fn ensure_room(
        &self,
        loc: Loc<'_>,
        what: &'static str,
        count: u64,
        min_size: u64,
    ) -> Result<(), GgufError> {
        match count.checked_mul(min_size) {
            Some(n) if n <= self.remaining() as u64 => Ok(()),
            n => Err(self.truncated(loc, what, n.unwrap_or(u64::MAX))),
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(
        &mut self,
        n: u64,
        loc: Loc<'_>,
        what: &'static str,
    ) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() as u64 {
            return Err(self.truncated(loc, what, n));
        }
        // n <= remaining <= usize::MAX, so the cast and the addition are exact.
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        loc: Loc<'_>,
        what: &'static str,
    ) -> Result<[u8; N], GgufError> {
        let b = self.take(N as u64, loc, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u32(&mut self, loc: Loc<'_>, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(loc, what)?))
    }

    pub(crate) fn u64(&mut self, loc: Loc<'_>, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(loc, what)?))
    }

    /// A GGUF string: `u64` byte length (at most `cap`), then that many UTF-8 bytes.
    pub(crate) fn string(
        &mut self,
        loc: Loc<'_>,
        what: &'static str,
        cap: u64,
    ) -> Result<&'a str, GgufError> {
        let at = self.offset();
        let len = self.u64(loc, what)?;
        if len > cap {
            return Err(GgufError::LimitExceeded {
                offset: at,
                context: loc.context(),
                what: length_what(what),
                value: len,
                limit: Limit::Bytes(cap),
            });
        }
        let start = self.offset();
        let b = self.take(len, loc, what)?;
        core::str::from_utf8(b).map_err(|e| GgufError::InvalidUtf8 {
            offset: start,
            context: loc.context(),
            what,
            valid_up_to: e.valid_up_to(),
        })
    }
}

/// "string length", "key length", "tensor name length" for the cap message.
fn length_what(what: &'static str) -> &'static str {
    match what {
        "key" => "key length",
        "tensor name" => "tensor name length",
        _ => "string length",
    }
}
