#!/usr/bin/env python3
"""Generate the ggml oracle fixtures of edgellm-kernels (kernels/fixtures/).

Regenerate (from the repository root):

    python3 scripts/gen_kernel_fixtures.py

Oracles:
- gguf-py 0.19 (`pip install gguf`), `gguf.quants.quantize` / `dequantize`: numpy ports of
  ggml's reference quantizers, bit-exact with ggml-quants.c. It quantizes Q4_0, Q4_1, Q5_0,
  Q8_0, F16 and BF16, and dequantizes those plus Q4_K, Q5_K and Q6_K.
- ggml-quants.c itself for what gguf-py cannot quantize (Q4_K, Q5_K, Q6_K, Q8_1, Q8_K): the
  script compiles it with `gcc -O2 -ffp-contract=off` (no FMA contraction: the reference
  semantics) into a temporary shared library and calls `quantize_row_*_ref` through ctypes.
  The source is looked up in the llama.cpp copy of the `llama-cpp-sys-2` crate in
  ~/.cargo/registry, or at $GGML_SRC (a `ggml/` directory). Without it those types are
  skipped and their existing fixtures kept.

For each type T the script writes `T.in.f32` (input, little-endian f32), `T.q.bin` (the
oracle's quantized bytes) and `T.deq.f32` (the oracle's dequantization of those bytes; for
Q8_1 and Q8_K, which gguf-py cannot dequantize, `d * q` computed here). The inputs are a
fixed pattern: an all-zero block, an all-equal block, tiny values (subnormal f16 scales),
huge values (f16 overflow), exact rounding ties, one outlier, and seeded normal values.
`kernels/tests/ggml_fixtures.rs` checks that edgellm's quantizers produce the same bytes and
its dequantizers the same values (bitwise).
"""

import ctypes
import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

try:
    import gguf
    from gguf.quants import dequantize, quantize
except ImportError:  # pragma: no cover
    sys.exit("the Python package `gguf` is missing: pip install gguf==0.19.0")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "kernels" / "fixtures"
T = gguf.GGMLQuantizationType

# Block sizes and byte sizes of the types we write.
BLOCK = {"Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q8_0": (32, 34),
         "Q8_1": (32, 36), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210),
         "Q8_K": (256, 292), "F16": (1, 2), "BF16": (1, 2)}


def pattern(block: int, n_blocks: int, seed: int) -> np.ndarray:
    """Deterministic input of n_blocks blocks of `block` values with the edge cases first."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_blocks, block)).astype(np.float32)
    x[0] = 0.0                                   # all zero: d = 0
    x[1] = np.float32(0.7)                       # all equal: max == min
    x[2] *= np.float32(3e-6)                     # tiny: subnormal f16 scales
    x[3] *= np.float32(2e4)                      # huge: f16 overflow of d / m / s
    ties = np.array([127.0, 2.5, -3.5, 0.5, -0.5, 1.5, -1.5, 126.5, -126.5, 63.5, -7.5, 8.5],
                    dtype=np.float32)            # amax 127 -> id = 1: exact .5 ties
    x[4] = np.resize(ties, block)
    x[5] = np.abs(x[5]) + np.float32(1.0)        # all positive (Q4_1 min > 0, K min clamp)
    x[6] *= np.float32(0.01)
    x[6, block // 3] = np.float32(-50.0)         # one outlier
    return x.reshape(-1)


def find_ggml() -> Path | None:
    if os.environ.get("GGML_SRC"):
        p = Path(os.environ["GGML_SRC"])
        return p if (p / "src" / "ggml-quants.c").exists() else None
    hits = sorted(glob.glob(os.path.expanduser(
        "~/.cargo/registry/src/*/llama-cpp-sys-2-*/llama.cpp/ggml/src/ggml-quants.c")))
    return Path(hits[-1]).parent.parent if hits else None


# ggml-quants.c calls these only on its error / importance-matrix paths, which the
# reference quantizers used here never take; stubs let the library load on its own.
STUBS = r"""
#include <stdlib.h>
#include <stddef.h>
void ggml_abort(const char *file, int line, const char *fmt, ...) { abort(); }
size_t ggml_row_size(int type, long long ne) { abort(); }
const char *ggml_type_name(int type) { abort(); }
size_t ggml_type_size(int type) { abort(); }
"""


def build_ggml(ggml: Path, tmp: str) -> ctypes.CDLL:
    so = os.path.join(tmp, "libggmlquants.so")
    stubs = os.path.join(tmp, "stubs.c")
    Path(stubs).write_text(STUBS)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-ffp-contract=off",
                    "-I", str(ggml / "include"), "-I", str(ggml / "src"),
                    str(ggml / "src" / "ggml-quants.c"), stubs, "-o", so, "-lm"], check=True)
    return ctypes.CDLL(so)


def c_quantize(lib: ctypes.CDLL, name: str, x: np.ndarray) -> np.ndarray:
    block, size = BLOCK[name]
    out = np.zeros(len(x) // block * size, dtype=np.uint8)
    fn = getattr(lib, f"quantize_row_{name.lower().replace('_k', '_K')}_ref")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    xc = np.ascontiguousarray(x, dtype=np.float32)
    fn(xc.ctypes.data, out.ctypes.data, len(x))
    return out


def write(name: str, x: np.ndarray, q: np.ndarray, deq: np.ndarray) -> None:
    (OUT / f"{name}.in.f32").write_bytes(x.astype("<f4").tobytes())
    (OUT / f"{name}.q.bin").write_bytes(q.astype(np.uint8).tobytes())
    (OUT / f"{name}.deq.f32").write_bytes(deq.astype("<f4").tobytes())
    print(f"{name}: {len(x)} values, {len(q)} bytes")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    x32 = pattern(32, 10, seed=32)
    x256 = pattern(256, 8, seed=256)

    # gguf-py quantizes and dequantizes these.
    for name in ["Q4_0", "Q4_1", "Q5_0", "Q8_0", "F16", "BF16"]:
        qt = T[name]
        q = quantize(x32.reshape(1, -1), qt).reshape(-1).view(np.uint8)
        deq = dequantize(q.reshape(1, -1), qt).reshape(-1).astype(np.float32)
        write(name, x32, q, deq)

    ggml = find_ggml()
    if ggml is None:
        print("ggml-quants.c not found: K-quant, Q8_1 and Q8_K fixtures not regenerated")
        return
    with tempfile.TemporaryDirectory() as tmp:
        lib = build_ggml(ggml, tmp)
        # The C reference must agree with gguf-py where both exist (checks the harness).
        for name in ["Q4_0", "Q4_1", "Q5_0", "Q8_0"]:
            ref = (OUT / f"{name}.q.bin").read_bytes()
            assert c_quantize(lib, name, x32).tobytes() == ref, f"{name}: ggml C != gguf-py"
        for name in ["Q4_K", "Q5_K", "Q6_K"]:
            q = c_quantize(lib, name, x256)
            deq = dequantize(q.reshape(1, -1), T[name]).reshape(-1).astype(np.float32)
            write(name, x256, q, deq)
        q = c_quantize(lib, "Q8_1", x32)
        blocks = q.reshape(-1, 36)
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
        deq = (blocks[:, 4:].view(np.int8).astype(np.float32) * d).reshape(-1)
        write("Q8_1", x32, q, deq)
        q = c_quantize(lib, "Q8_K", x256)
        blocks = q.reshape(-1, 292)
        d = blocks[:, 0:4].copy().view(np.float32)
        deq = (d * blocks[:, 4:260].view(np.int8).astype(np.float32)).reshape(-1)
        write("Q8_K", x256, q, deq)


if __name__ == "__main__":
    main()
