#!/usr/bin/python3
"""Writes llama3_rope_f32.gguf: llama.cpp's own converter, convert_hf_to_gguf.py
(which writes with gguf-py), run on testdata/ref/llama3_rope, a Llama with
rope_scaling llama3. The converter stores that scaling as the tensor
rope_freqs.weight (per-frequency divisors, LlamaModel.generate_extra_tensors)
and no rope_scaling metadata; the tokenizer is left out (set_vocab does
nothing), as for models.json.

    LLAMA_CPP=/path/to/llama.cpp /usr/bin/python3 make_rope_freqs.py

Runs offline with the stand-ins of make_fixtures.py (same requirements).
"""
import os
import subprocess
import sys
import tempfile

from make_fixtures import HERE, LLAMA_CPP, converter


def main():
    ref = os.path.join(HERE, "..", "..", "testdata", "ref", "llama3_rope")
    out = os.path.join(HERE, "llama3_rope_f32.gguf")
    with tempfile.TemporaryDirectory() as tmp:
        shim, env = converter(tmp)
        subprocess.run([sys.executable, shim, os.path.join(LLAMA_CPP, "convert_hf_to_gguf.py"),
                        "--outtype", "f32", "--outfile", out, ref], env=dict(env, NO_VOCAB="1"), check=True, capture_output=True)
    sys.path.insert(0, os.path.join(LLAMA_CPP, "gguf-py"))
    import gguf
    r = gguf.GGUFReader(out)
    freqs = [t for t in r.tensors if t.name == "rope_freqs.weight"]
    assert freqs, "the converter wrote no rope_freqs.weight"
    print("wrote", out, "rope_freqs", [float(x) for x in freqs[0].data])


if __name__ == "__main__":
    main()
