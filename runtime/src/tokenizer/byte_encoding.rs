//! GPT-2's reversible byte <-> code point table (`bytes_to_unicode` in OpenAI's `encoder.py`,
//! `unicode_byte_to_utf8_map` in llama.cpp's `unicode.cpp`).
//!
//! Byte-level BPE vocabularies store every token as a string of these code points: the
//! printable bytes `!`..=`~`, `¡`..=`¬` and `®`..=`ÿ` stand for themselves, the other 68
//! bytes (controls, space, DEL, NBSP, soft hyphen) map in increasing order to U+0100..U+0143
//! (so space is `Ġ` U+0120 and `\n` is `Ċ` U+010A).

const fn is_printable(b: u8) -> bool {
    matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF)
}

const fn build_byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    let mut b = 0usize;
    while b < 256 {
        table[b] = if is_printable(b as u8) {
            match char::from_u32(b as u32) {
                Some(c) => c,
                None => '\0',
            }
        } else {
            let c = match char::from_u32(256 + n) {
                Some(c) => c,
                None => '\0',
            };
            n += 1;
            c
        };
        b += 1;
    }
    table
}

/// `BYTE_TO_CHAR[b]` is the code point that stands for byte `b` in vocab strings.
pub const BYTE_TO_CHAR: [char; 256] = build_byte_to_char();

const fn build_char_to_byte() -> [i16; 256 + 68] {
    let mut table = [-1i16; 256 + 68];
    let mut b = 0usize;
    while b < 256 {
        table[BYTE_TO_CHAR[b] as usize] = b as i16;
        b += 1;
    }
    table
}

const CHAR_TO_BYTE: [i16; 256 + 68] = build_char_to_byte();

/// The byte a vocab code point stands for, or `None` if `c` is not one of the 256.
pub fn char_to_byte(c: char) -> Option<u8> {
    match CHAR_TO_BYTE.get(c as usize) {
        Some(&b) if b >= 0 => Some(b as u8),
        _ => None,
    }
}

/// Appends the vocab spelling of `bytes` (one code point per byte) to `out`.
pub fn encode_bytes(bytes: &[u8], out: &mut alloc::string::String) {
    for &b in bytes {
        out.push(BYTE_TO_CHAR[b as usize]);
    }
}

/// Decodes a byte-level vocab string back to the bytes it stands for. Code points outside
/// the table (never present in well-formed vocabularies) are kept as their own UTF-8.
pub fn decode_str(s: &str, out: &mut alloc::vec::Vec<u8>) {
    for c in s.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_points_and_roundtrip() {
        assert_eq!(BYTE_TO_CHAR[b' ' as usize], 'Ġ');
        assert_eq!(BYTE_TO_CHAR[b'\n' as usize], 'Ċ');
        assert_eq!(BYTE_TO_CHAR[b'\t' as usize], 'ĉ');
        assert_eq!(BYTE_TO_CHAR[b'a' as usize], 'a');
        assert_eq!(BYTE_TO_CHAR[0xA0], 'ł');
        assert_eq!(BYTE_TO_CHAR[0xAD], 'Ń');
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(BYTE_TO_CHAR[b as usize]), Some(b));
        }
        assert_eq!(char_to_byte('中'), None);
    }
}
