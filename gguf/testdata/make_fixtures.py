#!/usr/bin/python3
"""Writes the GGUF fixtures of golora's gguf tests with llama.cpp's gguf-py.

    PYTHONPATH=/path/to/llama.cpp/gguf-py /usr/bin/python3 make_fixtures.py

(Debian python3-numpy; llama.cpp from the node-llama-cpp 3.22.1 npm package,
llama/gitRelease.bundle.)

ref.gguf      metadata of every value type and arrays, tensors F32 (1-D, 2-D,
              3-D), F16, BF16, Q8_0, Q4_0 quantized by gguf-py from fixed
              arrays, and Q4_1, Q5_0, Q5_1, Q2_K…Q6_K blocks of fixed
              pseudo-random bytes
ref64.gguf    two tensors with general.alignment = 64
meta.gguf     metadata only, written as convert_hf_to_gguf.py --vocab-only
              writes (header and metadata, no tensor section)
ref.json      per tensor of both files: type, shape (row-major), the source
              values it was quantized from (null for the k-quants) and
              gguf-py's dequantization of what it stored (GGUFReader +
              quants.dequantize)

The Go tests read the fixtures with golora and compare values, quantized
bytes and the whole file bytes (golora's writer must reproduce them); they
need no Python.
"""
import json
import os

import numpy as np

import gguf
from gguf import GGMLQuantizationType as Q
from gguf import quants

HERE = os.path.dirname(os.path.abspath(__file__))


def wave(n, phase, scale):
    """Fixed values: scale·sin(0.37·i + phase), float32."""
    return (np.sin(np.arange(n, dtype=np.float64) * 0.37 + phase) * scale).astype(np.float32)


def raw_blocks(qtype, n_blocks, seed, d_offsets):
    """n_blocks blocks of deterministic bytes (an LCG), with the F16 scale
    fields at d_offsets set to small finite values."""
    _, size = gguf.GGML_QUANT_SIZES[qtype]
    out = np.zeros((n_blocks, size), dtype=np.uint8)
    x = seed
    for b in range(n_blocks):
        for i in range(size):
            x = (x * 1103515245 + 12345) % (1 << 31)
            out[b, i] = (x >> 16) & 0xFF
        for k, off in enumerate(d_offsets):
            d = np.array([0.0123 * (b + 1) * (k + 1)], dtype=np.float16).view(np.uint8)
            out[b, off:off + 2] = d
    return out


def add(w, expect, name, qtype, values, raw=None, shape=None):
    """Add a tensor quantized from values (or raw blocks) to writer w."""
    if raw is None:
        shape = list(values.shape)
        if qtype == Q.F32:
            w.add_tensor(name, values)
        elif qtype == Q.F16:
            w.add_tensor(name, values.astype(np.float16))
        else:
            w.add_tensor(name, quants.quantize(values, qtype), raw_dtype=qtype)
        expect[name] = {"type": int(qtype), "shape": shape, "source": [float(v) for v in values.ravel()]}
    else:
        w.add_tensor(name, raw, raw_dtype=qtype)  # rows of blocks: shape [rows, blocks·BlockSize]
        expect[name] = {"type": int(qtype), "shape": list(shape), "source": None}


def write(path, w):
    w.write_header_to_file(path)
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    expect = {}

    w = gguf.GGUFWriter(None, "llama")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo, GGUF ✓")
    w.add_uint64("test.u64", 18000000000000000000)
    w.add_int64("test.i64", -9000000000000000000)
    w.add_float64("test.f64", -2.5e-300)
    w.add_key_value("test.arr.u8", [1, 2, 255], gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.UINT8)
    w.add_key_value("test.arr.i32", [-1, 0, 7], gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.INT32)
    w.add_key_value("test.arr.f32", [0.5, -1.25], gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.FLOAT32)
    w.add_key_value("test.arr.bool", [True, False], gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.BOOL)
    w.add_key_value("test.arr.str", ["a", "", "bc"], gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.STRING)
    w.add_key_value("test.arr.f64", [1e100], gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.FLOAT64)

    add(w, expect, "vec.f32", Q.F32, wave(5, 0.0, 1.0))
    add(w, expect, "mat.f32", Q.F32, wave(12, 1.0, 3.0).reshape(3, 4))
    add(w, expect, "cube.f32", Q.F32, wave(24, 2.0, 0.5).reshape(2, 3, 4))
    add(w, expect, "mat.f16", Q.F16, wave(16, 0.5, 100.0).reshape(2, 8))
    add(w, expect, "mat.bf16", Q.BF16, wave(16, 0.7, 1e3).reshape(4, 4))
    q8 = wave(128, 0.3, 2.0).reshape(2, 64)
    q8[1, 32:] = 0  # an all-zero block: d = 0
    add(w, expect, "mat.q8_0", Q.Q8_0, q8)
    add(w, expect, "mat.q4_0", Q.Q4_0, wave(96, 0.9, 5.0).reshape(3, 32))
    # Blocks of arbitrary bytes for the types golora only reads, with their
    # F16 scale fields (offsets in the block) set to finite values.
    for name, qtype, n, scales in (("mat.q4_1", Q.Q4_1, 2, [0, 2]), ("mat.q5_0", Q.Q5_0, 2, [0]),
                                   ("mat.q5_1", Q.Q5_1, 2, [0, 2]), ("mat.q2_k", Q.Q2_K, 2, [80, 82]),
                                   ("mat.q3_k", Q.Q3_K, 2, [108]), ("mat.q4_k", Q.Q4_K, 2, [0, 2]),
                                   ("mat.q5_k", Q.Q5_K, 2, [0, 2]), ("mat.q6_k", Q.Q6_K, 2, [208])):
        block = gguf.GGML_QUANT_SIZES[qtype][0]
        add(w, expect, name, qtype, None, raw_blocks(qtype, n, 7 + int(qtype), scales), [n, block])
    write(os.path.join(HERE, "ref.gguf"), w)

    w = gguf.GGUFWriter(None, "llama")
    w.add_custom_alignment(64)
    add(w, expect, "a64.f32", Q.F32, wave(3, 0.1, 1.0))
    add(w, expect, "b64.q8_0", Q.Q8_0, wave(32, 0.2, 1.0).reshape(1, 32))
    write(os.path.join(HERE, "ref64.gguf"), w)

    w = gguf.GGUFWriter(os.path.join(HERE, "meta.gguf"), "llama")
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_token_list(["a", "b", "ab"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()

    # gguf-py's reading of what it wrote.
    for fname in ("ref.gguf", "ref64.gguf"):
        r = gguf.GGUFReader(os.path.join(HERE, fname))
        for t in r.tensors:
            e = expect[t.name]
            assert int(t.tensor_type) == e["type"], t.name
            assert [int(x) for x in reversed(t.shape)] == e["shape"], t.name
            vals = quants.dequantize(t.data, t.tensor_type).astype(np.float32).ravel()
            e["values"] = [float(v) for v in vals]
            e["file"] = fname
    with open(os.path.join(HERE, "ref.json"), "w") as f:
        json.dump(expect, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
