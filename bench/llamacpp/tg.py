#!/usr/bin/env python3
"""Writes a GGUF of random float32 weights in the shape of a Llama-family
config.json, for llama-bench to time (tg.sh): llama.cpp's gguf-py writes it,
so golora's exporter plays no part. The vocabulary is placeholder pieces
(a SentencePiece-style list llama.cpp loads); llama-bench feeds token ids.

    tg.py CONFIG.json OUT.gguf LLAMA_CPP_TREE
"""
import json
import sys

import numpy as np

cfg_path, out, tree = sys.argv[1:4]
sys.path.insert(0, tree + "/gguf-py")
import gguf  # noqa: E402  (llama.cpp's own writer)

c = json.load(open(cfg_path))
if c.get("model_type", "llama") not in ("llama", "mistral"):
    sys.exit(f"{cfg_path}: model_type {c.get('model_type')}: tg.py writes llama and mistral shapes")
C, I, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
H = c["num_attention_heads"]
KV = c.get("num_key_value_heads", H)
D = c.get("head_dim", C // H)
V = c["vocab_size"]
rng = np.random.default_rng(1)


def w(*shape):
    return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)


g = gguf.GGUFWriter(out, "llama")
g.add_context_length(c.get("max_position_embeddings", 2048))
g.add_embedding_length(C)
g.add_block_count(L)
g.add_feed_forward_length(I)
g.add_head_count(H)
g.add_head_count_kv(KV)
g.add_key_length(D)
g.add_value_length(D)
g.add_rope_dimension_count(D)
g.add_rope_freq_base(float(c.get("rope_theta", 10000.0)))
g.add_layer_norm_rms_eps(float(c.get("rms_norm_eps", 1e-5)))
g.add_file_type(gguf.LlamaFileType.ALL_F32)
g.add_tokenizer_model("llama")
g.add_token_list([b"<unk>", b"<s>", b"</s>"] + [f"p{i}".encode() for i in range(3, V)])
g.add_token_scores([0.0] * 3 + [-float(i) for i in range(3, V)])
g.add_token_types([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.NORMAL] * (V - 3))
g.add_bos_token_id(1)
g.add_eos_token_id(2)
g.add_tensor("token_embd.weight", w(V, C))
for i in range(L):
    p = f"blk.{i}."
    g.add_tensor(p + "attn_norm.weight", np.ones(C, np.float32))
    g.add_tensor(p + "attn_q.weight", w(H * D, C))
    g.add_tensor(p + "attn_k.weight", w(KV * D, C))
    g.add_tensor(p + "attn_v.weight", w(KV * D, C))
    g.add_tensor(p + "attn_output.weight", w(C, H * D))
    g.add_tensor(p + "ffn_norm.weight", np.ones(C, np.float32))
    g.add_tensor(p + "ffn_gate.weight", w(I, C))
    g.add_tensor(p + "ffn_up.weight", w(I, C))
    g.add_tensor(p + "ffn_down.weight", w(C, I))
g.add_tensor("output_norm.weight", np.ones(C, np.float32))
if not c.get("tie_word_embeddings", False):
    g.add_tensor("output.weight", w(V, C))
g.write_header_to_file()
g.write_kv_data_to_file()
g.write_tensors_to_file()
g.close()
