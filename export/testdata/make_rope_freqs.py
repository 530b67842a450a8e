#!/usr/bin/python3
"""Writes llama3_rope_f32.gguf: llama.cpp's own converter, convert_hf_to_gguf.py
(which writes with gguf-py), run on testdata/ref/llama3_rope, a Llama with
rope_scaling llama3. The converter stores that scaling as the tensor
rope_freqs.weight (per-frequency divisors, LlamaModel.generate_extra_tensors)
and no rope_scaling metadata; the tokenizer is left out (set_vocab does
nothing), as for models.json.

    LLAMA_CPP=/path/to/llama.cpp /usr/bin/python3 make_rope_freqs.py

Also writes rope_freqs.json: the rope_freqs.weight the converter's
LlamaModel.generate_extra_tensors computes (in float32, with torch) for the
llama3 RoPE scaling of Llama 3.1 and 3.2 (8B, 3B, 1B shapes: rope_theta,
head_dim, factor, low/high_freq_factor, original_max_position_embeddings),
each factor as the bits of its float32.

Runs offline with the stand-ins of make_fixtures.py (same requirements).
"""
import json
import os
import subprocess
import sys
import tempfile

from make_fixtures import HERE, LLAMA_CPP, converter


# Llama 3.1 8B, Llama 3.2 3B and 1B: the config.json fields the factors depend on.
CONFIGS = [
    {"rope_theta": 500000.0, "hidden_size": 4096, "num_attention_heads": 32,
     "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192}},
    {"rope_theta": 500000.0, "hidden_size": 3072, "num_attention_heads": 24, "head_dim": 128,
     "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192}},
    {"rope_theta": 500000.0, "hidden_size": 2048, "num_attention_heads": 32, "head_dim": 64,
     "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192}},
]

# Run through the shim: LlamaModel.generate_extra_tensors on a stand-in
# holding only what it reads (hparams, rope_parameters as TextModel sets
# them: rope_scaling with rope_theta mirrored in).
FACTORS = '''
import json, struct, sys
from conversion.llama import LlamaModel
class Stub:
    def format_tensor_name(self, key, *a):
        return "rope_freqs.weight"
out = []
for cfg in json.loads(sys.argv[1]):
    s = Stub()
    s.hparams = cfg
    s.rope_parameters = dict(cfg["rope_scaling"], rope_theta=cfg["rope_theta"])
    (name, t), = list(LlamaModel.generate_extra_tensors(s))
    out.append({"config": cfg, "bits": [struct.unpack("<I", struct.pack("<f", x))[0] for x in t.tolist()]})
print(json.dumps(out))
'''


def main():
    ref = os.path.join(HERE, "..", "..", "testdata", "ref", "llama3_rope")
    out = os.path.join(HERE, "llama3_rope_f32.gguf")
    with tempfile.TemporaryDirectory() as tmp:
        shim, env = converter(tmp)
        subprocess.run([sys.executable, shim, os.path.join(LLAMA_CPP, "convert_hf_to_gguf.py"),
                        "--outtype", "f32", "--outfile", out, ref], env=dict(env, NO_VOCAB="1"), check=True, capture_output=True)
        script = os.path.join(tmp, "factors.py")
        with open(script, "w") as f:
            f.write(FACTORS)
        res = subprocess.run([sys.executable, shim, script, json.dumps(CONFIGS)], env=env, check=True, capture_output=True, text=True)
        with open(os.path.join(HERE, "rope_freqs.json"), "w") as f:
            json.dump(json.loads(res.stdout), f, indent=1)
            f.write("\n")
    sys.path.insert(0, os.path.join(LLAMA_CPP, "gguf-py"))
    import gguf
    r = gguf.GGUFReader(out)
    freqs = [t for t in r.tensors if t.name == "rope_freqs.weight"]
    assert freqs, "the converter wrote no rope_freqs.weight"
    print("wrote", out, "rope_freqs", [float(x) for x in freqs[0].data])


if __name__ == "__main__":
    main()
