"""Write the seed corpus for `cargo fuzz run gguf_parse`: a small synthetic GGUF (every
metadata type, a nested array, tensors of several ggml types) made with the Python `gguf`
package, and the first 64 KiB of the real SmolLM2 model.

usage: python3 make_seeds.py [corpus_dir]   (default: corpus/gguf_parse)
"""
import os
import sys

import numpy as np
import gguf

out = sys.argv[1] if len(sys.argv) > 1 else "corpus/gguf_parse"
os.makedirs(out, exist_ok=True)

path = os.path.join(out, "synthetic.gguf")
w = gguf.GGUFWriter(path, "llama")
w.add_uint8("t.u8", 7)
w.add_int8("t.i8", -7)
w.add_uint16("t.u16", 700)
w.add_int16("t.i16", -700)
w.add_uint32("t.u32", 70000)
w.add_int32("t.i32", -70000)
w.add_uint64("t.u64", 1 << 40)
w.add_int64("t.i64", -(1 << 40))
w.add_float32("t.f32", 0.5)
w.add_float64("t.f64", -0.25)
w.add_bool("t.bool", True)
w.add_string("t.str", "héllo")
w.add_array("t.strings", ["a", "bc", ""])
w.add_array("t.i32s", [1, -2, 3])
w.add_array("t.nested", [[1, 2], [3]])
w.add_tensor("f32", np.arange(8, dtype=np.float32))
w.add_tensor("f16", np.arange(32, dtype=np.float16).reshape(2, 16))
w.add_tensor("q8_0", np.zeros((1, 34 * 2), dtype=np.uint8), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

home = os.environ.get("EDGELLM_HOME", os.path.expanduser("~/.cache/edgellm"))
model = os.environ.get("EDGELLM_MODEL", os.path.join(home, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
with open(model, "rb") as f:
    head = f.read(64 << 10)
with open(os.path.join(out, "smollm2_first_64k.gguf"), "wb") as f:
    f.write(head)
print("seeds written to", out)
