//! The log-probability reference file of `perplexity --save-logits` / `--kl-divergence`:
//! - arbitrary bytes through `Reader::from_reader` and every `next_chunk`: any error is fine,
//!   a panic (or an allocation larger than the input) is a bug;
//! - a round trip: a valid file written by `Writer` (header sizes and rows from the input)
//!   reads back identically, and after flipping bytes of its rows the first corrupted row is
//!   the one the checksum error names (index, chunk and position).
//!
//! Input: one mode byte; even → the rest is a file; odd → the rest drives the round trip.
#![no_main]

use edgellm_cli::ppl::logprob_file::{Header, Reader, Writer};
use libfuzzer_sys::fuzz_target;

fn read_all(bytes: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut r = Reader::from_reader(bytes, bytes.len() as u64, "fuzz".into())?;
    let mut chunks = Vec::new();
    for _ in 0..r.header.n_chunk {
        let mut buf = Vec::new();
        r.next_chunk(&mut buf)?;
        chunks.push(buf);
    }
    Ok(chunks)
}

fn round_trip(data: &[u8]) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0) as usize;
    let n_vocab = 1 + byte(0) % 40;
    let n_ctx = 4 + byte(1) % 12;
    let first = byte(2) % (n_ctx - 1);
    let n_chunk = 1 + byte(3) % 3;
    let n_flips = byte(4) % 4;
    let model = String::from_utf8_lossy(data.get(5..5 + byte(5) % 8).unwrap_or(b"")).into_owned();
    let mut seed = data.iter().fold(0x9e37_79b9_u32, |h, &b| {
        h.rotate_left(5) ^ u32::from(b).wrapping_mul(0x0100_0193)
    });
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let header = Header {
        n_vocab,
        n_ctx,
        n_chunk,
        first,
        fingerprint: [byte(6) as u8; 32],
        model,
        tokens: (0..n_chunk * n_ctx).map(|_| next()).collect(),
    };
    let row_bytes = 16 + 2 * n_vocab;
    let rows = n_chunk * header.rows_per_chunk();
    let data_rows: Vec<u8> = (0..rows * row_bytes).map(|_| next() as u8).collect();
    let mut w = Writer::new(Vec::new(), "fuzz", &header).expect("a valid header is written");
    w.write_rows(&data_rows).expect("the announced rows fit");
    let file = w.into_inner().expect("every row was written");

    let back = read_all(&file).expect("a file the writer made reads back");
    assert_eq!(back.concat(), data_rows);
    let r = Reader::from_reader(&file[..], file.len() as u64, "fuzz".into()).unwrap();
    assert_eq!(r.header, header);

    // Flip bytes of the rows (and their checksums): the first flipped row is named.
    let prefix = file.len() - rows * (row_bytes + 8);
    let mut bad = file.clone();
    for _ in 0..n_flips.max(1) {
        let at = next() as usize % (rows * (row_bytes + 8));
        bad[prefix + at] ^= 1 << (next() % 8);
    }
    // The first row (with its checksum) that differs; two flips of one bit cancel out.
    let Some(first_bad) = (0..rows).find(|r| {
        let span = prefix + r * (row_bytes + 8)..prefix + (r + 1) * (row_bytes + 8);
        bad[span.clone()] != file[span]
    }) else {
        return;
    };
    let err = read_all(&bad).expect_err("a corrupted row is detected");
    let per = header.rows_per_chunk();
    let want = format!(
        "fuzz: row {first_bad} (chunk {}, position {}) is corrupt: its checksum does not match",
        first_bad / per,
        first + first_bad % per
    );
    assert_eq!(err.to_string(), want);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let _ = read_all(rest);
    } else {
        round_trip(rest);
    }
});
