//! Parse arbitrary bytes as GGUF; on success walk every metadata value, array element
//! (nested arrays included) and tensor view. Any panic, overflow or out-of-bounds slice is a
//! bug: the parser must return a `GgufError` for every malformed input.
#![no_main]

use edgellm_runtime::gguf::{Gguf, Value};
use libfuzzer_sys::fuzz_target;

fn walk(v: &Value<'_>, sink: &mut u64) {
    *sink = sink.wrapping_add(v.as_u64().unwrap_or(0));
    *sink = sink.wrapping_add(v.as_f32().map_or(0, |f| f.to_bits() as u64));
    if let Some(s) = v.as_str() {
        *sink = sink.wrapping_add(s.len() as u64);
    }
    if let Some(a) = v.as_array() {
        let mut n = 0usize;
        for e in a.iter() {
            walk(&e, sink);
            n += 1;
        }
        assert_eq!(n, a.len(), "array iteration must yield len() elements");
        if let Some(last) = a.len().checked_sub(1) {
            assert!(a.get(last).is_some());
        }
        assert!(a.get(a.len()).is_none());
        if let Some(it) = a.strings() {
            assert_eq!(it.count(), a.len());
        }
        if let Some(it) = a.f32s() {
            assert_eq!(it.count(), a.len());
        }
        if let Some(it) = a.i32s() {
            assert_eq!(it.count(), a.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::parse(data) else { return };
    let mut sink = 0u64;
    for (key, v) in g.metadata() {
        assert!(g.get(key).is_some());
        walk(v, &mut sink);
    }
    let _ = (
        g.version(),
        g.alignment(),
        g.data_offset(),
        g.parameter_count(),
    );
    let _ = g.u32("general.alignment");
    let _ = g.str("general.architecture");
    for t in g.tensors() {
        let r = t.byte_range();
        assert!(r.end <= data.len(), "tensor range inside the file");
        assert_eq!(g.tensor_data(t).len(), t.n_bytes());
        assert_eq!(r.start % g.alignment(), 0);
        assert!(t.dims().len() <= 4);
        assert!(g.tensor(t.name).is_some());
        sink = sink.wrapping_add(t.n_elements());
    }
    std::hint::black_box(sink);
});
