#!/usr/bin/env python3
"""Phi-3 reference fixtures for golora.

An independent float64 PyTorch re-implementation of transformers'
Phi3ForCausalLM (modeling_phi3.py, modeling_rope_utils.py's longrope,
masking_utils' sliding window), run with make_fixtures.py's machinery
(safetensors writer, random weights, forward_case, lora_case: PEFT LoRA and
the Trainer's AdamW steps).  make_fixtures.py itself is only imported; its
outputs do not change.

Run from anywhere:  /usr/bin/python3 testdata/ref/make_phi3.py
Deterministic, as make_fixtures.py.

Phi-3's layer, as transformers computes it:
  qkv = qkv_proj(rmsnorm(h)), rows [q (H·D) | k (KV·D) | v (KV·D)];
  RoPE on the first R = int(D·partial_rotary_factor) dims of each head of q
  and k (rotate-half within those R), cos and sin multiplied by the longrope
  attention factor; the other D−R dims pass;
  causal attention, key j seen from query i when i − j < sliding_window;
  h += o_proj(att); gate, up = gate_up_proj(rmsnorm(h)).chunk(2);
  h += down_proj(silu(gate)·up).
longrope: inv_freq_i = 1/(ext_i · theta^(2i/R)), ext = long_factor when the
sequence (max position + 1) is longer than original_max_position_embeddings,
else short_factor; attention factor √(1 + ln s / ln orig) with
s = max_position_embeddings / orig (transformers' default when rope_scaling
gives neither factor nor attention_factor).
"""

import math
import os

import numpy as np
import torch

import make_fixtures as mf

F64 = torch.float64


def phi3_config(**kw):
    # Phi3Config's keys as Phi-3-mini's config.json has them, tiny: Llama's
    # (make_fixtures.base_config) without mlp_bias and pretraining_tp, with
    # Phi-3's own.
    cfg = mf.base_config(architectures=["Phi3ForCausalLM"], model_type="phi3", max_position_embeddings=64,
                         original_max_position_embeddings=64, embd_pdrop=0.0, resid_pdrop=0.0, pad_token_id=0,
                         sliding_window=6)
    del cfg["mlp_bias"], cfg["pretraining_tp"]
    cfg.update(kw)
    return cfg


def sizes(cfg):
    C, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = mf.head_dim_of(cfg)
    rot = int(hd * cfg.get("partial_rotary_factor", 1.0))
    return C, nh, nkv, hd, rot


def phi3_shapes(cfg):
    C, nh, nkv, hd, _ = sizes(cfg)
    I, V = cfg["intermediate_size"], cfg["vocab_size"]
    shapes = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,), "lm_head.weight": (V, C)}
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        shapes[p + "input_layernorm.weight"] = (C,)
        shapes[p + "post_attention_layernorm.weight"] = (C,)
        shapes[p + "self_attn.qkv_proj.weight"] = ((nh + 2 * nkv) * hd, C)
        shapes[p + "self_attn.o_proj.weight"] = (C, nh * hd)
        shapes[p + "mlp.gate_up_proj.weight"] = (2 * I, C)
        shapes[p + "mlp.down_proj.weight"] = (C, I)
    return shapes


def rope_tables(cfg, T):
    """cos, sin [T, R] (halves repeated, as emb = cat(freqs, freqs)), scaled."""
    _, _, _, _, rot = sizes(cfg)
    inv = 1.0 / (float(cfg["rope_theta"]) ** (torch.arange(0, rot, 2, dtype=F64) / rot))
    scale = 1.0
    rs = cfg.get("rope_scaling")
    if rs:
        assert rs["type"] == "longrope"
        orig = cfg["original_max_position_embeddings"]
        s = cfg["max_position_embeddings"] / orig
        scale = math.sqrt(1 + math.log(s) / math.log(orig)) if s > 1 else 1.0
        ext = rs["long_factor"] if T > orig else rs["short_factor"]
        inv = inv / torch.tensor(ext, dtype=F64)
    freqs = torch.arange(T, dtype=F64)[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * scale, emb.sin() * scale


def phi3_forward(cfg, W, ids, lora=None, dtype=F64):
    """logits [B, T, V] for ids [B, T] (positions 0..T-1)."""
    B, T = ids.shape
    C, nh, nkv, hd, rot = sizes(cfg)
    I = cfg["intermediate_size"]
    eps = cfg["rms_norm_eps"]
    g = nh // nkv
    cos, sin = (t.to(dtype) for t in rope_tables(cfg, T))
    i_idx = torch.arange(T)[:, None]
    j_idx = torch.arange(T)[None, :]
    hidden = (j_idx > i_idx)
    if cfg.get("sliding_window"):
        hidden = hidden | (i_idx - j_idx >= cfg["sliding_window"])

    def rope(x):  # [B, heads, T, hd]
        r, rest = x[..., :rot], x[..., rot:]
        return torch.cat((r * cos + mf.rotate_half(r) * sin, rest), dim=-1)

    h = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        x = mf.rms_norm(h, W[p + "input_layernorm.weight"], eps)
        qkv = mf.linear(W, p + "self_attn.qkv_proj", x, lora)
        q, k, v = qkv.split([nh * hd, nkv * hd, nkv * hd], dim=-1)
        q = rope(q.view(B, T, nh, hd).transpose(1, 2))
        k = rope(k.view(B, T, nkv, hd).transpose(1, 2)).repeat_interleave(g, dim=1)
        v = v.view(B, T, nkv, hd).transpose(1, 2).repeat_interleave(g, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(hidden, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, nh * hd)
        h = h + mf.linear(W, p + "self_attn.o_proj", o, lora)
        x = mf.rms_norm(h, W[p + "post_attention_layernorm.weight"], eps)
        gate, up = mf.linear(W, p + "mlp.gate_up_proj", x, lora).chunk(2, dim=-1)
        assert gate.shape[-1] == I
        h = h + mf.linear(W, p + "mlp.down_proj", torch.nn.functional.silu(gate) * up, lora)
    h = mf.rms_norm(h, W["model.norm.weight"], eps)
    return h @ W["lm_head.weight"].T


def phi3_slow(cfg, W, ids, lora=None):
    """Second implementation: numpy, one token and one head at a time, the
    fused matrices cut into q/k/v and gate/up rows, RoPE pair by pair."""
    C, nh, nkv, hd, rot = sizes(cfg)
    I = cfg["intermediate_size"]
    eps = cfg["rms_norm_eps"]
    Wn = {k: v.numpy() for k, v in W.items()}
    L = {k: v.numpy() for k, v in lora["tensors"].items()} if lora else {}
    win = cfg.get("sliding_window") or 10 ** 9

    def lin(name, x, rows=None):
        w = Wn[name + ".weight"]
        y = w.dot(x)
        if mf.lora_key(name, "A") in L:
            y = y + lora["scale"] * L[mf.lora_key(name, "B")].dot(L[mf.lora_key(name, "A")].dot(x))
        return y if rows is None else y[rows[0]:rows[1]]

    def norm(x, w):
        return w * x / math.sqrt(float(np.mean(x * x)) + eps)

    res = []
    for seq in ids.tolist():
        T = len(seq)
        cos, sin = (t.numpy() for t in rope_tables(cfg, T))

        def rope(vec, t):
            out = vec.copy()
            half = rot // 2
            for i in range(half):
                a, b = vec[i], vec[i + half]
                out[i] = a * cos[t, i] - b * sin[t, i]
                out[i + half] = b * cos[t, i] + a * sin[t, i]
            return out

        hs = [Wn["model.embed_tokens.weight"][tok].copy() for tok in seq]
        for li in range(cfg["num_hidden_layers"]):
            p = "model.layers.%d." % li
            xs = [norm(x, Wn[p + "input_layernorm.weight"]) for x in hs]
            qkv = "self_attn.qkv_proj"
            Q = [lin(p + qkv, x, (0, nh * hd)) for x in xs]
            K = [lin(p + qkv, x, (nh * hd, (nh + nkv) * hd)) for x in xs]
            V = [lin(p + qkv, x, ((nh + nkv) * hd, (nh + 2 * nkv) * hd)) for x in xs]
            new = []
            for t in range(T):
                o = np.zeros(nh * hd)
                for j in range(nh):
                    kv = j // (nh // nkv)
                    qv = rope(Q[t][j * hd:(j + 1) * hd], t)
                    us = [u for u in range(t + 1) if t - u < win]
                    sc = [float(qv.dot(rope(K[u][kv * hd:(kv + 1) * hd], u))) / math.sqrt(hd) for u in us]
                    m = max(sc)
                    e = [math.exp(z - m) for z in sc]
                    for u, w in zip(us, e):
                        o[j * hd:(j + 1) * hd] += (w / sum(e)) * V[u][kv * hd:(kv + 1) * hd]
                h2 = hs[t] + lin(p + "self_attn.o_proj", o)
                x = norm(h2, Wn[p + "post_attention_layernorm.weight"])
                gate = lin(p + "mlp.gate_up_proj", x, (0, I))
                up = lin(p + "mlp.gate_up_proj", x, (I, 2 * I))
                new.append(h2 + lin(p + "mlp.down_proj", gate / (1 + np.exp(-gate)) * up))
            hs = new
        res.append([Wn["lm_head.weight"].dot(norm(x, Wn["model.norm.weight"])) for x in hs])
    return torch.tensor(np.array(res), dtype=F64)


# make_fixtures' cases run on Phi-3 through these: its functions look the
# names up in its module at call time.
_shapes, _forward, _slow = mf.expected_shapes, mf.forward, mf.slow_forward
mf.expected_shapes = lambda cfg: phi3_shapes(cfg) if cfg["model_type"] == "phi3" else _shapes(cfg)
mf.forward = lambda cfg, W, ids, lora=None, dtype=F64: (
    phi3_forward(cfg, W, ids, lora, dtype) if cfg["model_type"] == "phi3" else _forward(cfg, W, ids, lora, dtype))
mf.slow_forward = lambda cfg, W, ids, lora=None: (
    phi3_slow(cfg, W, ids, lora) if cfg["model_type"] == "phi3" else _slow(cfg, W, ids, lora))
mf.MODULE_PATHS.update({"qkv_proj": "self_attn.qkv_proj", "gate_up_proj": "mlp.gate_up_proj"})


def longrope_extra(cfg, W, ids, logits):
    """The logits of the prefix of original_max_position_embeddings tokens
    (short factors); and a check that the whole sequence's differ from what
    the short factors would give."""
    orig = cfg["original_max_position_embeddings"]
    assert ids.shape[1] > orig
    short = mf.forward(cfg, W, ids[:, :orig])
    mf.self_check_forward(cfg, W, ids[:, :orig], short, tag="longrope short")
    rs = cfg["rope_scaling"]
    both_short = dict(cfg, rope_scaling=dict(rs, long_factor=rs["short_factor"]))
    wrong = mf.forward(both_short, W, ids)
    diff = float((wrong - logits).abs().max())
    assert diff > 1e-3, diff
    mf.log("  longrope: T=%d > original %d uses the long factors; max |logit diff| vs short factors %.3g" %
           (ids.shape[1], orig, diff))
    return {"ids_short": ids[:, :orig].tolist(), "logits_short": mf.to_list(short)}


def main():
    torch.manual_seed(0)
    # Grouped-query attention, a sliding window shorter than the sequence.
    mf.forward_case("phi3_f32", phi3_config(), seed=1300, T=9,
                    grads=["model.layers.0.self_attn.qkv_proj.weight", "model.layers.1.mlp.gate_up_proj.weight",
                           "model.layers.0.mlp.down_proj.weight", "model.embed_tokens.weight", "lm_head.weight"])
    # partial_rotary_factor 0.5 (8 of head_dim 16 rotated) and longrope with
    # a sequence longer than original_max_position_embeddings.
    rng = np.random.RandomState(1400)
    ls = phi3_config(
        hidden_size=32, num_attention_heads=2, num_key_value_heads=1, head_dim=16, partial_rotary_factor=0.5,
        max_position_embeddings=64, original_max_position_embeddings=8, sliding_window=None,
        torch_dtype="bfloat16", vocab_size=56,
        rope_scaling={"long_factor": [round(float(x), 4) for x in 1 + 4 * rng.rand(4)],
                      "short_factor": [round(float(x), 4) for x in 1 + 0.3 * rng.rand(4)],
                      "type": "longrope"})
    mf.forward_case("phi3_bf16_longrope", ls, seed=1500, T=11, extra=longrope_extra)
    mf.lora_case("phi3_lora_train", phi3_config(), seed=1605, targets=("gate_up_proj", "qkv_proj"), head_std=0.07,
                 rs_extra="o_proj")


if __name__ == "__main__":
    main()
