#!/usr/bin/env python3
"""Reference fixtures for golora's Gemma 2 and Gemma 3 (text) models.

An independent float64 PyTorch re-implementation of transformers'
Gemma2ForCausalLM and Gemma3ForCausalLM forward pass (modeling_gemma2.py,
modeling_gemma3.py, configuration_gemma2.py, configuration_gemma3.py,
re-derived and re-written here), in the style of make_fixtures.py, whose
safetensors writer, random weights, forward/gradient cases and LoRA
training case it reuses: this script plugs its forward pass into them and
writes only its own directories (make_fixtures.py's outputs are untouched).

What Gemma does differently from Llama, as modelled here:
  - RMSNorm is x/rms(x)·(1 + w) (computed in float32 by transformers; here
    float64);
  - the token embeddings are multiplied by √hidden_size rounded to the
    model's dtype (torch.tensor(hidden**0.5, dtype=hidden_states.dtype));
  - four norms per layer: input_layernorm before attention,
    post_attention_layernorm on the attention output, pre_feedforward_layernorm
    before the MLP, post_feedforward_layernorm on the MLP output;
  - MLP down(gelu_tanh(gate)·up);
  - attention scores scaled by query_pre_attn_scalar^-0.5, soft-capped
    cap·tanh(s/cap) before the mask (attn_logit_softcapping, Gemma 2);
    final logits soft-capped likewise (final_logit_softcapping);
  - sliding-window attention (key j seen from query i when i − j < window)
    on the sliding layers: Gemma 2 layer i when i % 2 == 0, Gemma 3 layer i
    when (i + 1) % sliding_window_pattern != 0;
  - Gemma 3: q_norm/k_norm ((1 + w) RMSNorm over head_dim) before RoPE; the
    sliding layers rotate with base rope_local_base_freq, unscaled, the
    others with rope_theta and rope_scaling (linear here).

Run from anywhere:  /usr/bin/python3 testdata/ref/make_gemma.py
Deterministic, as make_fixtures.py is.
"""

import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

F64 = torch.float64
GEMMA = ("gemma2", "gemma3_text")


def gemma_config(model_type, **kw):
    g3 = model_type == "gemma3_text"
    cfg = {
        "architectures": ["Gemma3ForCausalLM" if g3 else "Gemma2ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None if g3 else 5.0,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "final_logit_softcapping": None if g3 else 3.0,
        "head_dim": 16,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 48,
        "max_position_embeddings": 128,
        "model_type": model_type,
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "num_key_value_heads": 2,
        "pad_token_id": 0,
        "query_pre_attn_scalar": 12,
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0,
        "sliding_window": 4,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.50.0",
        "use_cache": True,
        "vocab_size": 64,
    }
    if g3:
        cfg.update({"rope_theta": 1000000.0, "rope_local_base_freq": 100.0, "sliding_window_pattern": 2,
                    "rope_scaling": {"rope_type": "linear", "factor": 2.0}})
    cfg.update(kw)
    return cfg


def gemma_shapes(cfg):
    """Llama's tensors plus the two output norms of each layer (and Gemma
    3's head norms)."""
    shapes = _shapes(dict(cfg, model_type="llama"))
    H, hd = cfg["hidden_size"], cfg["head_dim"]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        shapes[p + "pre_feedforward_layernorm.weight"] = (H,)
        shapes[p + "post_feedforward_layernorm.weight"] = (H,)
        if cfg["model_type"] == "gemma3_text":
            shapes[p + "self_attn.q_norm.weight"] = (hd,)
            shapes[p + "self_attn.k_norm.weight"] = (hd,)
    return shapes


def sliding_layers(cfg):
    if cfg.get("layer_types"):
        return [t == "sliding_attention" for t in cfg["layer_types"]]
    pattern = cfg.get("sliding_window_pattern", 6) if cfg["model_type"] == "gemma3_text" else 2
    return [bool((i + 1) % pattern) for i in range(cfg["num_hidden_layers"])]


def inv_freq(cfg, sliding):
    """Gemma 3's sliding layers: base rope_local_base_freq, default rope;
    every other layer: rope_theta and rope_scaling (default or linear)."""
    d = cfg["head_dim"]
    local = cfg["model_type"] == "gemma3_text" and sliding
    theta = cfg["rope_local_base_freq"] if local else cfg["rope_theta"]
    inv = 1.0 / (float(theta) ** (torch.arange(0, d, 2, dtype=F64) / d))
    rs = None if local else cfg.get("rope_scaling")
    if rs:
        assert rs.get("rope_type", rs.get("type")) == "linear"
        inv = inv / rs["factor"]
    return inv


def gemma_rms(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * (1.0 + w)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gemma_forward(cfg, W, ids, lora=None, dtype=F64, builtin=False):
    """logits [B, T, V] for ids [B, T]. builtin uses torch's gelu(tanh), an
    additive −inf mask and torch.where for the window, as a second
    implementation for the self-check."""
    Bsz, T = ids.shape
    H, nh, nkv, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    g = nh // nkv
    g3 = cfg["model_type"] == "gemma3_text"
    F = torch.nn.functional
    act = (lambda x: F.gelu(x, approximate="tanh")) if builtin else gelu_tanh
    E = W["model.embed_tokens.weight"]
    # sqrt(hidden) rounded to the model's dtype, then used at full precision
    normalizer = torch.tensor(H ** 0.5, dtype=mf.ST_DTYPES[mf.ST_OF_TORCH[cfg["torch_dtype"]]]).to(E.dtype)
    h = E[ids] * normalizer
    pos = torch.arange(T, dtype=F64)
    qi, kj = torch.arange(T)[:, None], torch.arange(T)[None, :]
    scale = cfg["query_pre_attn_scalar"] ** -0.5
    acap, fcap = cfg.get("attn_logit_softcapping"), cfg.get("final_logit_softcapping")
    sw = cfg["sliding_window"]
    for i, sliding in enumerate(sliding_layers(cfg)):
        p = "model.layers.%d." % i
        freqs = (pos[:, None] * inv_freq(cfg, sliding)[None, :]).to(dtype)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = gemma_rms(h, W[p + "input_layernorm.weight"], eps)
        q = mf.linear(W, p + "self_attn.q_proj", x, lora).view(Bsz, T, nh, hd)
        k = mf.linear(W, p + "self_attn.k_proj", x, lora).view(Bsz, T, nkv, hd)
        v = mf.linear(W, p + "self_attn.v_proj", x, lora).view(Bsz, T, nkv, hd).transpose(1, 2)
        if g3:
            q = gemma_rms(q, W[p + "self_attn.q_norm.weight"], eps)
            k = gemma_rms(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + mf.rotate_half(q) * sin
        k = k * cos + mf.rotate_half(k) * sin
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        s = (q @ k.transpose(-1, -2)) * scale
        if acap:
            s = acap * torch.tanh(s / acap)
        masked = kj > qi
        if sliding:
            masked = masked | (qi - kj >= sw)
        if builtin:
            s = s + torch.where(masked, torch.tensor(float("-inf"), dtype=s.dtype), torch.tensor(0.0, dtype=s.dtype))
        else:
            s = s.masked_fill(masked, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(Bsz, T, nh * hd)
        a = mf.linear(W, p + "self_attn.o_proj", o, lora)
        h = h + gemma_rms(a, W[p + "post_attention_layernorm.weight"], eps)
        x = gemma_rms(h, W[p + "pre_feedforward_layernorm.weight"], eps)
        gate = mf.linear(W, p + "mlp.gate_proj", x, lora)
        up = mf.linear(W, p + "mlp.up_proj", x, lora)
        m = mf.linear(W, p + "mlp.down_proj", act(gate) * up, lora)
        h = h + gemma_rms(m, W[p + "post_feedforward_layernorm.weight"], eps)
    h = gemma_rms(h, W["model.norm.weight"], eps)
    head = E if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    logits = h @ head.T
    if fcap:
        logits = fcap * torch.tanh(logits / fcap)
    return logits


# make_fixtures.py's cases call these through its module globals.
_forward, _slow, _shapes = mf.forward, mf.slow_forward, mf.expected_shapes


def forward(cfg, W, ids, lora=None, dtype=F64):
    if cfg["model_type"] in GEMMA:
        return gemma_forward(cfg, W, ids, lora, dtype)
    return _forward(cfg, W, ids, lora, dtype)


def slow_forward(cfg, W, ids, lora=None):
    if cfg["model_type"] in GEMMA:
        return gemma_forward(cfg, W, ids, lora, builtin=True)
    return _slow(cfg, W, ids, lora)


def expected_shapes(cfg):
    if cfg["model_type"] in GEMMA:
        return gemma_shapes(cfg)
    return _shapes(cfg)


mf.forward, mf.slow_forward, mf.expected_shapes = forward, slow_forward, expected_shapes


def capped_extra(cfg, W, ids, logits):
    """The same model's logits without the soft-caps: they must differ, so
    the fixture tests them."""
    plain = dict(cfg, attn_logit_softcapping=None, final_logit_softcapping=None)
    d = float((forward(plain, W, ids) - logits).abs().max())
    assert d > 0.05, d
    mf.log("  soft-capping changes the logits by up to %.3f" % d)
    return {}


def window_extra(cfg, W, ids, logits):
    """Without the sliding window the logits must differ."""
    full = dict(cfg, sliding_window=10 ** 6)
    d = float((forward(full, W, ids) - logits).abs().max())
    assert d > 0.05, d
    mf.log("  the sliding window changes the logits by up to %.3f" % d)
    return {}


def main():
    torch.manual_seed(0)
    cases = ["gemma2_f32", "gemma2_bf16", "gemma3_f32", "gemma3_bf16", "gemma2_lora_train"]

    def both(cfg, W, ids, logits):
        if cfg.get("attn_logit_softcapping"):
            capped_extra(cfg, W, ids, logits)
        return window_extra(cfg, W, ids, logits)

    mf.forward_case("gemma2_f32", gemma_config("gemma2"), seed=1300, T=9, extra=both,
                    grads=["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
                           "model.layers.0.post_attention_layernorm.weight",
                           "model.layers.1.pre_feedforward_layernorm.weight",
                           "model.layers.2.post_feedforward_layernorm.weight",
                           "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.gate_proj.weight",
                           "model.norm.weight"])
    # hidden 40: √40 = 6.3246 is 6.3125 in bfloat16.
    mf.forward_case("gemma2_bf16", gemma_config("gemma2", hidden_size=40, torch_dtype="bfloat16",
                                                tie_word_embeddings=False), seed=1400, T=8, extra=both)
    mf.forward_case("gemma3_f32", gemma_config("gemma3_text"), seed=1500, T=9, extra=both,
                    grads=["model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight",
                           "model.layers.2.post_feedforward_layernorm.weight", "model.embed_tokens.weight"])
    mf.forward_case("gemma3_bf16", gemma_config("gemma3_text", hidden_size=40, torch_dtype="bfloat16",
                                                attn_logit_softcapping=4.0, final_logit_softcapping=3.0,
                                                layer_types=["sliding_attention", "full_attention",
                                                             "full_attention"]),
                    seed=1600, T=8, extra=both)
    mf.lora_case("gemma2_lora_train", gemma_config("gemma2", tie_word_embeddings=False), seed=1700,
                 targets=("down_proj", "q_proj", "v_proj"), head_std=0.03)

    total = 0
    for c in cases:
        for root, _, files in os.walk(os.path.join(mf.HERE, c)):
            for f in files:
                total += os.path.getsize(os.path.join(root, f))
    mf.log("total fixture bytes: %d" % total)
    assert total < 1_500_000


if __name__ == "__main__":
    main()
