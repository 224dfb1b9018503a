//! `quantize`: llama.cpp's own quantizer (`llama_model_quantize`, what `llama-quantize` runs),
//! so the quantization lab can measure llama.cpp's files and edgellm's side by side with the
//! same perplexity / KL-divergence tool, and compare their bytes tensor by tensor.
//!
//! Defaults are `llama-quantize`'s (`llama_model_quantize_default_params`): no importance
//! matrix, output tensor quantized by the recipe, no requantization unless asked.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail, ensure};
use llama_cpp_2::llama_backend::LlamaBackend;

/// The llama.cpp file types this command accepts, by their `llama-quantize` names.
const FTYPES: [(&str, llama_cpp_sys_2::llama_ftype); 9] = [
    ("F16", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_F16),
    ("Q8_0", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q8_0),
    ("Q6_K", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q6_K),
    ("Q5_K_M", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q5_K_M),
    ("Q5_0", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q5_0),
    ("Q4_K_M", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q4_K_M),
    ("Q4_1", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q4_1),
    ("Q4_0", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q4_0),
    ("Q5_K_S", llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q5_K_S),
];

/// Quantizes `model` to `out` as llama.cpp's file type `ty` with `threads` threads (0 = all).
pub fn run(
    model: &Path,
    out: &Path,
    ty: &str,
    threads: usize,
    allow_requantize: bool,
) -> Result<()> {
    ensure!(
        model.is_file(),
        "model file {} does not exist",
        model.display()
    );
    let Some(&(name, ftype)) = FTYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(ty)) else {
        let names: Vec<_> = FTYPES.iter().map(|(n, _)| *n).collect();
        bail!("unknown type {ty:?} (expected one of {})", names.join(", "));
    };
    let mut backend = LlamaBackend::init().context("initialising the llama.cpp backend")?;
    if std::env::var_os("CROSSCHECK_LOG").is_none() {
        backend.void_logs();
    }
    let inp = CString::new(model.as_os_str().as_bytes()).context("model path contains NUL")?;
    let outp = CString::new(out.as_os_str().as_bytes()).context("output path contains NUL")?;
    // SAFETY: a plain C function returning a struct by value.
    let mut params = unsafe { llama_cpp_sys_2::llama_model_quantize_default_params() };
    params.ftype = ftype;
    params.nthread = i32::try_from(threads).context("thread count too large")?;
    params.allow_requantize = allow_requantize;
    // SAFETY: both paths are NUL-terminated C strings that outlive the call, `params` is a
    // fully initialised value from `llama_model_quantize_default_params`, and its pointer
    // fields are the defaults' nulls; the backend is initialised above and alive.
    let status =
        unsafe { llama_cpp_sys_2::llama_model_quantize(inp.as_ptr(), outp.as_ptr(), &params) };
    drop(backend);
    ensure!(
        status == 0,
        "llama_model_quantize({} -> {} as {name}) failed with status {status} (rerun with CROSSCHECK_LOG=1 for llama.cpp's log)",
        model.display(),
        out.display()
    );
    eprintln!("crosscheck: llama.cpp wrote {} ({name})", out.display());
    Ok(())
}
