//! The reference file of `perplexity --save-logits` / `--kl-divergence`: which model and
//! tokens it was made from, and one `super::logprob_row` per scored position.
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

    #[cfg(test)]
    fn prefix_len(&self) -> u64 {
        64 + self.model.len() as u64 + 4 * self.tokens.len() as u64
    }
}

/// The length of a file whose header has these fields (`first < n_ctx - 1`), or `None` if it
/// does not fit in a `u64`: the fixed header, the model name, `n_chunk · n_ctx` token ids,
/// then `n_chunk · (n_ctx − 1 − first)` rows, each with its checksum.
fn described_len(
    n_vocab: usize,
    n_ctx: usize,
    n_chunk: usize,
    first: usize,
    name_len: usize,
) -> Option<u64> {
    let n = |v: usize| u64::try_from(v).ok();
    let tokens = n(n_chunk)?.checked_mul(n(n_ctx)?)?.checked_mul(4)?;
    let rows = n(n_chunk)?.checked_mul(n(n_ctx - 1 - first)?)?;
    let row = n(n_vocab)?.checked_mul(2)?.checked_add(16 + CHECK as u64)?;
    64u64
        .checked_add(n(name_len)?)?
        .checked_add(tokens)?
        .checked_add(rows.checked_mul(row)?)
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

/// The header's bytes, after checking that it can be written and that [`Reader`] accepts it.
fn header_bytes(h: &Header) -> Result<Vec<u8>> {
    ensure!(
        h.model.len() <= MAX_NAME,
        "model name longer than {MAX_NAME} bytes"
    );
    let fits = |v: usize| u32::try_from(v).is_ok();
    ensure!(
        h.n_vocab > 0
            && h.n_ctx >= 4
            && h.first < h.n_ctx - 1
            && h.n_chunk > 0
            && [h.n_vocab, h.n_ctx, h.n_chunk].into_iter().all(fits),
        "cannot write a log-probability file for n_vocab {}, n_ctx {}, first {}, {} chunks",
        h.n_vocab,
        h.n_ctx,
        h.first,
        h.n_chunk
    );
    ensure!(
        h.tokens.len() == h.n_chunk * h.n_ctx,
        "token count does not match the chunks"
    );
    let mut head = Vec::with_capacity(64 + h.model.len() + 4 * h.tokens.len());
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
    Ok(head)
}

/// Writes a reference file. [`Writer::create`] writes a temporary file next to the target
/// and [`Writer::finish`] renames it into place; [`Writer::new`] writes the same bytes to
/// any `Write` (the fuzz target writes to memory).
#[derive(Debug)]
pub struct Writer<W: Write = BufWriter<File>> {
    out: W,
    /// The file, for messages.
    name: String,
    row_bytes: usize,
    rows_left: usize,
    /// [`Writer::create`]'s temporary file.
    temp: Option<Temp>,
}

/// The temporary file being written and where it goes.
struct Temp {
    tmp: tempfile::TempPath,
    /// Removes the temporary file on SIGINT / SIGTERM (dropping `tmp` removes it otherwise).
    _interrupt: crate::output_file::TempGuard,
    path: PathBuf,
}

impl std::fmt::Debug for Temp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Temp")
            .field("tmp", &self.tmp)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Writer {
    pub fn create(path: &Path, h: &Header) -> Result<Writer> {
        let head = header_bytes(h)?;
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
        out.write_all(&head).with_context(|| name.clone())?;
        Ok(Writer {
            out,
            name,
            row_bytes: row_bytes(h.n_vocab),
            rows_left: h.n_chunk * h.rows_per_chunk(),
            temp: Some(Temp {
                _interrupt: crate::output_file::register_temp(&tmp),
                tmp,
                path: path.to_path_buf(),
            }),
        })
    }

    /// Flush and rename into place; every row the header announced must have been written.
    pub fn finish(self) -> Result<()> {
        let name = self.name.clone();
        let (mut out, temp) = self.into_parts()?;
        out.flush().with_context(|| name.clone())?;
        let Some(temp) = temp else {
            return Ok(());
        };
        // tempfile creates 0600 files; the reference is as readable as any other output.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&temp.tmp, std::fs::Permissions::from_mode(0o644))
                .with_context(|| name.clone())?;
        }
        temp.tmp
            .persist(&temp.path)
            .map_err(|e| e.error)
            .with_context(|| format!("{name}: cannot rename into place"))?;
        Ok(())
    }
}

impl<W: Write> Writer<W> {
    /// Write the header of `h` to `out`; `name` names the output in messages.
    pub fn new(mut out: W, name: &str, h: &Header) -> Result<Writer<W>> {
        let head = header_bytes(h)?;
        out.write_all(&head).with_context(|| name.to_string())?;
        Ok(Writer {
            out,
            name: name.to_string(),
            row_bytes: row_bytes(h.n_vocab),
            rows_left: h.n_chunk * h.rows_per_chunk(),
            temp: None,
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
                .with_context(|| self.name.clone())?;
        }
        Ok(())
    }

    /// The output, once every row the header announced has been written (nothing is
    /// renamed: see [`Writer::finish`]).
    pub fn into_inner(self) -> Result<W> {
        Ok(self.into_parts()?.0)
    }

    fn into_parts(self) -> Result<(W, Option<Temp>)> {
        ensure!(
            self.rows_left == 0,
            "{}: {} rows were not written",
            self.name,
            self.rows_left
        );
        Ok((self.out, self.temp))
    }
}

/// Reads a reference file chunk by chunk: [`Reader::open`] a file, or
/// [`Reader::from_reader`] any `Read`.
#[derive(Debug)]
pub struct Reader<R = BufReader<File>> {
    pub header: Header,
    input: R,
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
        Reader::from_reader(BufReader::with_capacity(1 << 20, file), len, name)
    }
}

impl<R: Read> Reader<R> {
    /// [`Reader::open`] on `input`, which holds `len` bytes; `name` names it in messages.
    /// Nothing larger than `len` is allocated: the sizes the header describes must add up to
    /// exactly `len` before the token list is read.
    pub fn from_reader(mut input: R, len: u64, name: String) -> Result<Reader<R>> {
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
            .filter(|&n| (n as u64).checked_mul(4).is_some_and(|bytes| bytes <= len));
        let Some(n_tokens) = n_tokens else {
            bail!("{name}: corrupt header: {n_chunk} chunks of {n_ctx} tokens do not fit the file");
        };
        match described_len(n_vocab, n_ctx, n_chunk, first, name_len) {
            Some(described) if described == len => {}
            Some(described) => bail!(
                "{name}: {len} bytes, but its header describes {described} bytes (truncated or corrupt)"
            ),
            None => bail!(
                "{name}: {len} bytes, but its header describes more than 2^64 bytes (corrupt)"
            ),
        }
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
    fn in_memory_writer_and_reader_match_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.logprobs");
        let h = header();
        let rows: Vec<u8> = (0..6 * row_bytes(10)).map(|i| (i * 7) as u8).collect();
        let mut w = Writer::create(&path, &h).unwrap();
        w.write_rows(&rows).unwrap();
        w.finish().unwrap();
        let mut m = Writer::new(Vec::new(), "memory", &h).unwrap();
        m.write_rows(&rows).unwrap();
        let bytes = m.into_inner().unwrap();
        assert_eq!(bytes, std::fs::read(&path).unwrap());
        let mut r = Reader::from_reader(&bytes[..], bytes.len() as u64, "memory".into()).unwrap();
        assert_eq!(r.header, h);
        let mut buf = Vec::new();
        r.next_chunk(&mut buf).unwrap();
        assert_eq!(buf, rows[..3 * row_bytes(10)]);
        r.next_chunk(&mut buf).unwrap();
        assert_eq!(buf, rows[3 * row_bytes(10)..]);
        assert!(r.next_chunk(&mut buf).is_err());
    }

    #[test]
    fn writer_refuses_a_header_the_reader_would_refuse() {
        // `first` must leave a scored row; this used to underflow in `rows_per_chunk`.
        for h in [
            Header {
                first: 7,
                ..header()
            },
            Header {
                n_ctx: 3,
                first: 1,
                tokens: (0..6).collect(),
                ..header()
            },
            Header {
                n_vocab: 0,
                ..header()
            },
        ] {
            let err = Writer::new(Vec::new(), "memory", &h)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("cannot write a log-probability file"),
                "{err}"
            );
        }
    }

    #[test]
    fn sizes_past_u64_are_refused_before_anything_is_allocated() {
        // 2^20 chunks of 2^20 tokens (4 TiB of token ids) and rows of 2^32 - 1 tokens: the
        // rows alone would be ~2^73 bytes. Refused from the header alone, before the token
        // list is allocated, whatever length the input claims.
        let mut head = Vec::new();
        head.extend_from_slice(MAGIC);
        for v in [VERSION, u32::MAX, 1 << 20, 1 << 20, 1 << 19] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        head.extend_from_slice(&[0; 32]);
        head.extend_from_slice(&0u32.to_le_bytes());
        let err = Reader::from_reader(&head[..], 1 << 62, "huge".into())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "huge: 4611686018427387904 bytes, but its header describes more than 2^64 bytes (corrupt)"
        );
        // 2^64 − 2^33 + 1 tokens: counting their bytes overflowed (a panic in debug builds;
        // found by the logprob_file fuzz target).
        let mut many = head.clone();
        many[16..24].copy_from_slice(&[0xff; 8]);
        let err = Reader::from_reader(&many[..], 1 << 62, "many".into())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "many: corrupt header: 4294967295 chunks of 4294967295 tokens do not fit the file"
        );
        // In range but larger than the input: refused, still before allocating.
        let mut small = head.clone();
        small[12..16].copy_from_slice(&10u32.to_le_bytes());
        let err = Reader::from_reader(&small[..], 1 << 62, "big".into())
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("(truncated or corrupt)"), "{err}");
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
