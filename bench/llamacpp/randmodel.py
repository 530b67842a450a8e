#!/usr/bin/python3
"""Writes a random Llama or Qwen2 model as a Hugging Face directory
(config.json, model.safetensors in float32), for compare.sh's quantized
exports: weights N(0, 0.02²), norm weights 1 + N(0, 0.1²), biases N(0, 0.02²),
from numpy's generator seeded with SEED.

    randmodel.py DIR ARCH HIDDEN INTERMEDIATE LAYERS HEADS KV_HEADS VOCAB TIED SEED

ARCH is llama or qwen2 (q, k, v biases); TIED 1 ties lm_head to the
embedding. Needs only numpy: the safetensors file is written by hand
(an 8-byte header length, the JSON header, the raw little-endian data).
"""
import json
import os
import struct
import sys

import numpy as np


def main():
    d, arch = sys.argv[1], sys.argv[2]
    h, inter, layers, heads, kv, vocab, tied, seed = map(int, sys.argv[3:11])
    rng = np.random.default_rng(seed)
    hd = h // heads
    tensors = {}

    def w(name, *shape, std=0.02, mean=0.0):
        tensors[name] = (mean + std * rng.standard_normal(shape)).astype("<f4")

    w("model.embed_tokens.weight", vocab, h)
    for i in range(layers):
        p = f"model.layers.{i}."
        w(p + "input_layernorm.weight", h, std=0.1, mean=1.0)
        w(p + "post_attention_layernorm.weight", h, std=0.1, mean=1.0)
        w(p + "self_attn.q_proj.weight", heads * hd, h)
        w(p + "self_attn.k_proj.weight", kv * hd, h)
        w(p + "self_attn.v_proj.weight", kv * hd, h)
        w(p + "self_attn.o_proj.weight", h, heads * hd)
        if arch == "qwen2":
            w(p + "self_attn.q_proj.bias", heads * hd)
            w(p + "self_attn.k_proj.bias", kv * hd)
            w(p + "self_attn.v_proj.bias", kv * hd)
        w(p + "mlp.gate_proj.weight", inter, h)
        w(p + "mlp.up_proj.weight", inter, h)
        w(p + "mlp.down_proj.weight", h, inter)
    w("model.norm.weight", h, std=0.1, mean=1.0)
    if not tied:
        w("lm_head.weight", vocab, h)

    os.makedirs(d, exist_ok=True)
    cfg = {
        "architectures": ["LlamaForCausalLM" if arch == "llama" else "Qwen2ForCausalLM"],
        "model_type": arch,
        "hidden_size": h,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "vocab_size": vocab,
        "max_position_embeddings": 128,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": bool(tied),
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    }
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    header, off = {}, 0
    for name, a in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for a in tensors.values():
            f.write(a.tobytes())


main()
