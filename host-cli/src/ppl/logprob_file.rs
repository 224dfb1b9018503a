//! The reference file of `perplexity --save-logits` / `--kl-divergence`: which model and
//! tokens it was made from, and one [`super::logprob_row`] per scored position.
//!
//! Layout (little-endian):
//!
//! | offset | field | type |
//! |---|---|---|
//! | 0 | magic `EDGELOGP` | 8 bytes |
//! | 8 | version (2) | u32 |
//! | 12 | `n_vocab` | u32 |
//! | 16 | `n_ctx` (tokens per chunk) | u32 |
//! | 20 | `n_chunk` | u32 |
//! | 24 | `first` (first scored position of a chunk, `n_ctx / 2`) | u32 |
//! | 28 | vocabulary fingerprint: SHA-256 of `n_vocab` and every token string (u32 length + bytes) | 32 bytes |
//! | 60 | model name length `m` (≤ 4096) | u32 |
//! | 64 | model name (UTF-8, informational) | m bytes |
//! | 64+m | token ids of the evaluated text | u32 × n_chunk·n_ctx |
//! | … | rows: per chunk, `n_ctx − 1 − first` rows, each followed by its checksum (the first 8 bytes of the row's SHA-256) | `16 + 2·n_vocab + 8` bytes each |
//!
//! The file size is checked against the header before anything is compared, so a truncated
//! file is reported as such; every row's checksum is checked as it is read, so a corrupted
//! row is named (its index, chunk and position) instead of turning into a wrong KLD.
//! Version 1 files (no checksums) are refused with a request to regenerate them.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use edgellm_runtime::tokenizer::Tokenizer;
use sha2::{Digest, Sha256};

use super::logprob_row::row_bytes;

const MAGIC: &[u8; 8] = b"EDGELOGP";
const VERSION: u32 = 2;
/// Bytes of the checksum that follows each row.
const CHECK: usize = 8;

/// The checksum of one row: the first [`CHECK`] bytes of its SHA-256.
fn checksum(row: &[u8]) -> [u8; CHECK] {
    let d = Sha256::digest(row);
    let mut c = [0u8; CHECK];
    c.copy_from_slice(&d[..CHECK]);
    c
}
const MAX_NAME: usize = 4096;

/// What the rows were computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub n_vocab: usize,
    pub n_ctx: usize,
    pub n_chunk: usize,
    pub first: usize,
    pub fingerprint: [u8; 32],
    pub model: String,
    /// `n_chunk · n_ctx` token ids.
    pub tokens: Vec<u32>,
}

impl Header {
    /// Scored rows per chunk.
    pub fn rows_per_chunk(&self) -> usize {
        self.n_ctx - 1 - self.first
    }

    fn prefix_len(&self) -> u64 {
        64 + self.model.len() as u64 + 4 * self.tokens.len() as u64
    }

    fn file_len(&self) -> u64 {
        self.prefix_len()
            + (self.n_chunk * self.rows_per_chunk()) as u64
                * (row_bytes(self.n_vocab) + CHECK) as u64
    }
}

/// SHA-256 over the vocabulary size and every token string, each prefixed by its length.
pub fn vocab_fingerprint(tok: &Tokenizer) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((tok.vocab_size() as u32).to_le_bytes());
    for id in 0..tok.vocab_size() as u32 {
        let piece = tok.token_piece(id).as_bytes();
        h.update((piece.len() as u32).to_le_bytes());
        h.update(piece);
    }
    h.finalize().into()
}

/// Writes a reference file into a temporary file next to the target; [`Writer::finish`]
/// renames it into place.
pub struct Writer {
    out: BufWriter<File>,
    tmp: tempfile::TempPath,
    /// Removes the temporary file on SIGINT / SIGTERM (dropping `tmp` removes it otherwise).
    _interrupt: crate::output_file::TempGuard,
    path: PathBuf,
    row_bytes: usize,
    rows_left: usize,
}

impl Writer {
    pub fn create(path: &Path, h: &Header) -> Result<Writer> {
        ensure!(
            h.model.len() <= MAX_NAME,
            "model name longer than {MAX_NAME} bytes"
        );
        ensure!(
            h.tokens.len() == h.n_chunk * h.n_ctx,
            "token count does not match the chunks"
        );
        let name = path.display().to_string();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let (file, tmp) = tempfile::Builder::new()
            .prefix(".edgellm-logprobs-")
            .tempfile_in(dir)
            .with_context(|| format!("{name}: cannot create a temporary file"))?
            .into_parts();
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut head = Vec::with_capacity(64 + h.model.len());
        head.extend_from_slice(MAGIC);
        for v in [
            VERSION,
            h.n_vocab as u32,
            h.n_ctx as u32,
            h.n_chunk as u32,
            h.first as u32,
        ] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        head.extend_from_slice(&h.fingerprint);
        head.extend_from_slice(&(h.model.len() as u32).to_le_bytes());
        head.extend_from_slice(h.model.as_bytes());
        for t in &h.tokens {
            head.extend_from_slice(&t.to_le_bytes());
        }
        out.write_all(&head).with_context(|| name.clone())?;
        Ok(Writer {
            out,
            _interrupt: crate::output_file::register_temp(&tmp),
            tmp,
            path: path.to_path_buf(),
            row_bytes: row_bytes(h.n_vocab),
            rows_left: h.n_chunk * h.rows_per_chunk(),
        })
    }

    /// Append whole rows (a multiple of the row size).
    pub fn write_rows(&mut self, rows: &[u8]) -> Result<()> {
        let n = rows.len() / self.row_bytes;
        ensure!(
            n * self.row_bytes == rows.len() && n <= self.rows_left,
            "row data does not fit the header"
        );
        self.rows_left -= n;
        for row in rows.chunks_exact(self.row_bytes) {
            self.out
                .write_all(row)
                .and_then(|()| self.out.write_all(&checksum(row)))
                .with_context(|| self.path.display().to_string())?;
        }
        Ok(())
    }

    /// Flush and rename into place; every row the header announced must have been written.
    pub fn finish(mut self) -> Result<()> {
        let name = self.path.display().to_string();
        ensure!(
            self.rows_left == 0,
            "{name}: {} rows were not written",
            self.rows_left
        );
        self.out.flush().with_context(|| name.clone())?;
        // tempfile creates 0600 files; the reference is as readable as any other output.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.tmp, std::fs::Permissions::from_mode(0o644))
                .with_context(|| name.clone())?;
        }
        self.tmp
            .persist(&self.path)
            .map_err(|e| e.error)
            .with_context(|| format!("{name}: cannot rename into place"))?;
        Ok(())
    }
}

/// Reads a reference file chunk by chunk.
pub struct Reader {
    pub header: Header,
    input: BufReader<File>,
    row_bytes: usize,
    /// The file, for messages.
    name: String,
    /// Rows read so far.
    rows_read: usize,
    /// One row and its checksum.
    scratch: Vec<u8>,
}

impl Reader {
    /// Open and check a reference file: magic, version, sane sizes, and a length that
    /// matches the header exactly.
    pub fn open(path: &Path) -> Result<Reader> {
        let name = path.display().to_string();
        let file = File::open(path).with_context(|| name.clone())?;
        let len = file.metadata().with_context(|| name.clone())?.len();
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut fixed = [0u8; 64];
        if len < 64 || input.read_exact(&mut fixed).is_err() || &fixed[..8] != MAGIC {
            bail!(
                "{name}: not an edgellm log-probability file (made by `edgellm perplexity --save-logits`)"
            );
        }
        let u = |at: usize| {
            u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]]) as usize
        };
        ensure!(
            u(8) == VERSION as usize,
            "{name}: version {} of the log-probability format, this build reads {VERSION} \
             (regenerate it with `edgellm perplexity --save-logits`)",
            u(8)
        );
        let (n_vocab, n_ctx, n_chunk, first, name_len) = (u(12), u(16), u(20), u(24), u(60));
        ensure!(
            n_vocab > 0 && n_ctx >= 4 && first < n_ctx - 1 && n_chunk > 0 && name_len <= MAX_NAME,
            "{name}: corrupt header (n_vocab {n_vocab}, n_ctx {n_ctx}, first {first}, chunks {n_chunk})"
        );
        let n_tokens = n_chunk
            .checked_mul(n_ctx)
            .filter(|&n| (n as u64) * 4 <= len);
        let Some(n_tokens) = n_tokens else {
            bail!("{name}: corrupt header: {n_chunk} chunks of {n_ctx} tokens do not fit the file");
        };
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(&fixed[28..60]);
        let mut model = vec![0u8; name_len];
        input
            .read_exact(&mut model)
            .with_context(|| format!("{name}: truncated header"))?;
        let mut raw = vec![0u8; n_tokens * 4];
        input
            .read_exact(&mut raw)
            .with_context(|| format!("{name}: truncated token list"))?;
        let header = Header {
            n_vocab,
            n_ctx,
            n_chunk,
            first,
            fingerprint,
            model: String::from_utf8_lossy(&model).into_owned(),
            tokens: raw
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        };
        ensure!(
            len == header.file_len(),
            "{name}: {len} bytes, but its header describes {} bytes (truncated or corrupt)",
            header.file_len()
        );
        Ok(Reader {
            header,
            input,
            row_bytes: row_bytes(n_vocab),
            name,
            rows_read: 0,
            scratch: Vec::new(),
        })
    }

    /// Read the rows of the next chunk into `buf`, checking each row's checksum.
    pub fn next_chunk(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let rows = self.header.rows_per_chunk();
        buf.clear();
        self.scratch.resize(self.row_bytes + CHECK, 0);
        for _ in 0..rows {
            self.input
                .read_exact(&mut self.scratch)
                .with_context(|| format!("{}: reading reference log-probabilities", self.name))?;
            let (row, check) = self.scratch.split_at(self.row_bytes);
            if checksum(row) != check {
                let r = self.rows_read;
                bail!(
                    "{}: row {r} (chunk {}, position {}) is corrupt: its checksum does not match",
                    self.name,
                    r / rows,
                    self.header.first + r % rows
                );
            }
            buf.extend_from_slice(row);
            self.rows_read += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            n_vocab: 10,
            n_ctx: 8,
            n_chunk: 2,
            first: 4,
            fingerprint: [7; 32],
            model: "m".into(),
            tokens: (0..16).collect(),
        }
    }

    #[test]
    fn round_trip_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.logprobs");
        let h = header();
        let mut w = Writer::create(&path, &h).unwrap();
        let rows: Vec<u8> = (0..3 * row_bytes(10)).map(|i| i as u8).collect();
        w.write_rows(&rows).unwrap();
        w.write_rows(&rows).unwrap();
        w.finish().unwrap();
        let mut r = Reader::open(&path).unwrap();
        assert_eq!(r.header, h);
        let mut buf = Vec::new();
        r.next_chunk(&mut buf).unwrap();
        assert_eq!(buf, rows);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = Reader::open(&path).err().unwrap().to_string();
        assert!(err.contains("truncated or corrupt"), "{err}");
        // One flipped byte in the second chunk's first row is named.
        let mut flipped = bytes.clone();
        let at = h.prefix_len() as usize + 3 * (row_bytes(10) + CHECK) + 5;
        flipped[at] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        let mut r = Reader::open(&path).unwrap();
        r.next_chunk(&mut buf).unwrap();
        let err = r.next_chunk(&mut buf).unwrap_err().to_string();
        assert!(
            err.ends_with("row 3 (chunk 1, position 4) is corrupt: its checksum does not match"),
            "{err}"
        );
        std::fs::write(
            &path,
            b"not a logprob file at all, not at all, not at all, not at all!!",
        )
        .unwrap();
        let err = Reader::open(&path).err().unwrap().to_string();
        assert!(err.contains("not an edgellm log-probability file"), "{err}");
    }

    #[test]
    fn unfinished_writer_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.logprobs");
        let w = Writer::create(&path, &header()).unwrap();
        assert!(w.finish().is_err());
        assert!(!path.exists());
    }
}
