#!/usr/bin/env python3
"""Reference fixtures for golora.

An independent float64 PyTorch re-implementation of Hugging Face transformers'
Llama / Mistral / Qwen2 / Qwen3 / GPT-2 causal-LM forward pass, PEFT LoRA, and the training step
of transformers' Trainer (AdamW + linear warmup/decay + clip_grad_norm_ +
gradient accumulation).  It writes tiny random models as real HF model
directories plus expected.json files that the Go tests read (no Python needed
at test time).

Run from anywhere:  /usr/bin/python3 testdata/ref/make_fixtures.py
Deterministic: weights and ids come from numpy's legacy RandomState (whose
streams are frozen), computation is single-threaded float64, and all JSON is
written with sorted keys; rerunning reproduces the same bytes.

Written for PyTorch 1.13 (Debian python3-torch) and numpy; no transformers,
peft or safetensors package is used: the semantics were re-derived from the
transformers / PEFT sources (modeling_llama.py, modeling_mistral.py,
modeling_qwen2.py, modeling_qwen3.py, modeling_gpt2.py, modeling_rope_utils.py, optimization.py, trainer.py,
peft/tuners/lora) and re-written here.
"""

import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch

torch.set_num_threads(1)
F64 = torch.float64
HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------
# safetensors (own writer and reader)
# --------------------------------------------------------------------------

ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def round_to(t, st_dtype):
    """Value of t after storing it as st_dtype, as float64."""
    return t.to(ST_DTYPES[st_dtype]).to(F64)


def tensor_bytes(t, st_dtype):
    t = t.detach().contiguous()
    if st_dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if st_dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if st_dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(st_dtype)


def write_safetensors(path, tensors):
    """tensors: {name: (tensor, st_dtype)}.  Data laid out in name order."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t, dt = tensors[name]
        b = tensor_bytes(t, dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return off  # total data bytes


def read_safetensors(path):
    """Returns {name: float64 tensor} decoded from the file bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            assert info == {"format": "pt"}
            continue
        a, b = info["data_offsets"]
        buf = data[a:b]
        shape = info["shape"]
        if info["dtype"] == "F32":
            arr = np.frombuffer(buf, dtype="<f4").astype(np.float64)
        elif info["dtype"] == "F16":
            arr = np.frombuffer(buf, dtype="<f2").astype(np.float64)
        elif info["dtype"] == "BF16":
            u = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32).astype(np.float64)
        else:
            raise ValueError(info["dtype"])
        out[name] = torch.from_numpy(arr.reshape(shape).copy())
    return out


# --------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------

def to_list(t):
    return t.detach().to(F64).cpu().numpy().tolist()


def write_json(path, obj, indent=None):
    with open(path, "w") as f:
        if indent is None:
            f.write(json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False))
        else:
            f.write(json.dumps(obj, sort_keys=True, indent=indent, allow_nan=False))
        f.write("\n")


def write_hf_config(path, cfg):
    # transformers: json.dumps(config_dict, indent=2, sort_keys=True) + "\n"
    write_json(path, cfg, indent=2)


# --------------------------------------------------------------------------
# Model definition (float64 reference of transformers semantics)
# --------------------------------------------------------------------------

def head_dim_of(cfg):
    hd = cfg.get("head_dim")
    return hd if hd else cfg["hidden_size"] // cfg["num_attention_heads"]


def inv_freq_default(cfg):
    """inv_freq[i] = 1 / theta^(2i/d), i = 0..d/2-1, d = head_dim."""
    d = head_dim_of(cfg)
    return 1.0 / (float(cfg["rope_theta"]) ** (torch.arange(0, d, 2, dtype=F64) / d))


def inv_freq_of(cfg):
    inv = inv_freq_default(cfg)
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    rt = rs.get("rope_type", rs.get("type"))
    if rt != "llama3":
        raise NotImplementedError(rt)
    factor = rs["factor"]
    lo, hi = rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    lo_wavelen = old / lo
    hi_wavelen = old / hi
    out = []
    for f in inv.tolist():
        wavelen = 2 * math.pi / f
        if wavelen < hi_wavelen:           # high frequency: unchanged
            out.append(f)
        elif wavelen > lo_wavelen:         # low frequency: divided by factor
            out.append(f / factor)
        else:                              # in between: smooth interpolation
            smooth = (old / wavelen - lo) / (hi - lo)
            out.append((1 - smooth) * f / factor + smooth * f)
    return torch.tensor(out, dtype=F64)  # attention_factor is 1.0 for llama3


def has_qk_norm(cfg):
    return cfg["model_type"] == "qwen3"


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def lora_key(module_path, ab):
    return "base_model.model." + module_path + ".lora_" + ab + ".weight"


def linear(W, name, x, lora):
    """y = x·Wᵀ (+ b) (+ s·(x·Aᵀ)·Bᵀ).  name is the module path (no .weight)."""
    y = x @ W[name + ".weight"].T
    if name + ".bias" in W:
        y = y + W[name + ".bias"]
    if lora is not None:
        ka = lora_key(name, "A")
        if ka in lora["tensors"]:
            A = lora["tensors"][ka]
            B = lora["tensors"][lora_key(name, "B")]
            y = y + lora["scale"] * ((x @ A.T) @ B.T)
    return y


def gelu_new(x):
    """GPT-2's gelu_new: x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def conv1d(W, name, x, lora):
    """GPT-2's Conv1D: y = x·W + b with W stored [in, out]; a PEFT adapter
    (fan_in_fan_out) adds s·(x·Aᵀ)·Bᵀ with A [r, in], B [out, r]."""
    y = x @ W[name + ".weight"] + W[name + ".bias"]
    if lora is not None and lora_key(name, "A") in lora["tensors"]:
        A = lora["tensors"][lora_key(name, "A")]
        B = lora["tensors"][lora_key(name, "B")]
        y = y + lora["scale"] * ((x @ A.T) @ B.T)
    return y


def gpt2_forward(cfg, W, ids, lora=None, builtin=False):
    """GPT-2 logits [B, T, V]: learned positions, pre-LayerNorm blocks,
    fused c_attn split into q | k | v, gelu_new MLP, tied head. builtin
    uses torch's layer_norm, gelu(approximate="tanh") and a masked
    softmax written differently, as a second implementation."""
    Bsz, T = ids.shape
    C, nh = cfg["n_embd"], cfg["n_head"]
    hd = C // nh
    eps = cfg["layer_norm_epsilon"]
    F = torch.nn.functional
    ln = (lambda x, w, b: F.layer_norm(x, (C,), w, b, eps)) if builtin else (lambda x, w, b: layer_norm(x, w, b, eps))
    act = (lambda x: F.gelu(x, approximate="tanh")) if builtin else gelu_new
    h = W["transformer.wte.weight"][ids] + W["transformer.wpe.weight"][:T][None]
    for i in range(cfg["n_layer"]):
        p = "transformer.h.%d." % i
        x = ln(h, W[p + "ln_1.weight"], W[p + "ln_1.bias"])
        q, k, v = conv1d(W, p + "attn.c_attn", x, lora).split(C, dim=-1)
        q, k, v = (t.view(Bsz, T, nh, hd).transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        if builtin:
            s = s + torch.triu(torch.full((T, T), float("-inf"), dtype=s.dtype), diagonal=1)
        else:
            s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1), float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(Bsz, T, C)
        h = h + conv1d(W, p + "attn.c_proj", o, lora)
        x = ln(h, W[p + "ln_2.weight"], W[p + "ln_2.bias"])
        h = h + conv1d(W, p + "mlp.c_proj", act(conv1d(W, p + "mlp.c_fc", x, lora)), lora)
    h = ln(h, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"])
    head = W["transformer.wte.weight"] if cfg.get("tie_word_embeddings", True) else W["lm_head.weight"]
    return h @ head.T


def forward(cfg, W, ids, lora=None, dtype=F64):
    """logits [B, T, V] for ids [B, T] (no padding, positions 0..T-1).

    dtype is the compute dtype of the position/rope tensors; float64 for the
    reference, float32 only for the sanity comparison."""
    if cfg["model_type"] == "gpt2":
        return gpt2_forward(cfg, W, ids, lora)
    Bsz, T = ids.shape
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg["num_key_value_heads"]
    hd = head_dim_of(cfg)
    eps = cfg["rms_norm_eps"]
    assert nh % nkv == 0
    g = nh // nkv

    h = W["model.embed_tokens.weight"][ids]                    # [B,T,H]
    pos = torch.arange(T, dtype=F64)
    freqs = (pos[:, None] * inv_freq_of(cfg)[None, :]).to(dtype)          # [T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)                    # [T, hd]
    cos, sin = emb.cos(), emb.sin()
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    sw = cfg.get("sliding_window") if cfg["model_type"] == "mistral" or cfg.get("use_sliding_window") else None
    if sw is not None:
        assert T <= sw, "fixtures keep sequences shorter than the sliding window"

    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        x = rms_norm(h, W[p + "input_layernorm.weight"], eps)
        q = linear(W, p + "self_attn.q_proj", x, lora)          # [B,T,nh*hd]
        k = linear(W, p + "self_attn.k_proj", x, lora)          # [B,T,nkv*hd]
        v = linear(W, p + "self_attn.v_proj", x, lora)
        assert q.shape[-1] == nh * hd and k.shape[-1] == nkv * hd and v.shape[-1] == nkv * hd
        q = q.view(Bsz, T, nh, hd)
        k = k.view(Bsz, T, nkv, hd)
        if has_qk_norm(cfg):
            # Qwen3: each head of q and k normalised over head_dim, before RoPE
            q = rms_norm(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q = q.transpose(1, 2)                                   # [B,nh,T,hd]
        k = k.transpose(1, 2)                                   # [B,nkv,T,hd]
        v = v.view(Bsz, T, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # GQA: query head j uses kv head j // g
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(causal, float("-inf"))
        a = torch.softmax(s, dim=-1)
        o = (a @ v).transpose(1, 2).reshape(Bsz, T, nh * hd)
        h = h + linear(W, p + "self_attn.o_proj", o, lora)
        x = rms_norm(h, W[p + "post_attention_layernorm.weight"], eps)
        gate = linear(W, p + "mlp.gate_proj", x, lora)
        up = linear(W, p + "mlp.up_proj", x, lora)
        h = h + linear(W, p + "mlp.down_proj", torch.nn.functional.silu(gate) * up, lora)

    h = rms_norm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return h @ head.T


def ce_sum_count(logits, labels):
    """HF causal-LM loss pieces: position t predicts labels[t+1]; -100 ignored."""
    lg = logits[:, :-1, :].reshape(-1, logits.shape[-1])
    lb = labels[:, 1:].reshape(-1)
    s = torch.nn.functional.cross_entropy(lg, lb, ignore_index=-100, reduction="sum")
    return s, int((lb != -100).sum())


def causal_lm_loss(logits, labels):
    s, n = ce_sum_count(logits, labels)
    return s / n


# --------------------------------------------------------------------------
# Slow, loop-based second implementation (numpy) used only as a self-check
# --------------------------------------------------------------------------

def slow_forward(cfg, W, ids, lora=None):
    if cfg["model_type"] == "gpt2":
        return gpt2_forward(cfg, W, ids, lora, builtin=True)
    Wn = {k: v.numpy() for k, v in W.items()}
    L = None
    if lora is not None:
        L = {k: v.numpy() for k, v in lora["tensors"].items()}
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim_of(cfg)
    eps = cfg["rms_norm_eps"]
    inv = inv_freq_of(cfg).numpy()

    def lin(name, x):
        y = Wn[name + ".weight"].dot(x)
        if name + ".bias" in Wn:
            y = y + Wn[name + ".bias"]
        if L is not None and lora_key(name, "A") in L:
            y = y + lora["scale"] * L[lora_key(name, "B")].dot(L[lora_key(name, "A")].dot(x))
        return y

    def norm(x, w):
        return w * x / math.sqrt(float(np.mean(x * x)) + eps)

    def rope(vec, t):
        out = np.empty_like(vec)
        half = hd // 2
        for i in range(half):
            ang = t * inv[i]
            c, s = math.cos(ang), math.sin(ang)
            a, b = vec[i], vec[i + half]
            out[i] = a * c - b * s
            out[i + half] = b * c + a * s
        return out

    res = []
    for seq in ids.tolist():
        T = len(seq)
        hs = [Wn["model.embed_tokens.weight"][tok].copy() for tok in seq]
        for li in range(cfg["num_hidden_layers"]):
            p = "model.layers.%d." % li
            xs = [norm(hh, Wn[p + "input_layernorm.weight"]) for hh in hs]
            Q = [lin(p + "self_attn.q_proj", x) for x in xs]
            K = [lin(p + "self_attn.k_proj", x) for x in xs]
            V = [lin(p + "self_attn.v_proj", x) for x in xs]
            if has_qk_norm(cfg):
                def heads_norm(vec, w, n):
                    return np.concatenate([norm(vec[j * hd:(j + 1) * hd], w) for j in range(n)])
                Q = [heads_norm(qq, Wn[p + "self_attn.q_norm.weight"], nh) for qq in Q]
                K = [heads_norm(kk, Wn[p + "self_attn.k_norm.weight"], nkv) for kk in K]
            outs = []
            for t in range(T):
                o = np.zeros(nh * hd)
                for j in range(nh):
                    kvh = j // (nh // nkv)
                    qv = rope(Q[t][j * hd:(j + 1) * hd], t)
                    sc = []
                    for u in range(t + 1):
                        kv = rope(K[u][kvh * hd:(kvh + 1) * hd], u)
                        sc.append(float(qv.dot(kv)) / math.sqrt(hd))
                    m = max(sc)
                    e = [math.exp(z - m) for z in sc]
                    z = sum(e)
                    for u in range(t + 1):
                        o[j * hd:(j + 1) * hd] += (e[u] / z) * V[u][kvh * hd:(kvh + 1) * hd]
                outs.append(o)
            hs = [hh + lin(p + "self_attn.o_proj", o) for hh, o in zip(hs, outs)]
            new = []
            for hh in hs:
                x = norm(hh, Wn[p + "post_attention_layernorm.weight"])
                gt = lin(p + "mlp.gate_proj", x)
                up = lin(p + "mlp.up_proj", x)
                new.append(hh + lin(p + "mlp.down_proj", gt / (1 + np.exp(-gt)) * up))
            hs = new
        head = Wn["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else Wn["lm_head.weight"]
        res.append([head.dot(norm(hh, Wn["model.norm.weight"])) for hh in hs])
    return torch.tensor(np.array(res), dtype=F64)


# --------------------------------------------------------------------------
# Random model construction
# --------------------------------------------------------------------------

def gpt2_shapes(cfg):
    C, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    I = cfg["n_inner"] or 4 * C
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (P, C),
              "transformer.ln_f.weight": (C,), "transformer.ln_f.bias": (C,)}
    if not cfg.get("tie_word_embeddings", True):
        shapes["lm_head.weight"] = (V, C)
    for i in range(cfg["n_layer"]):
        p = "transformer.h.%d." % i
        for n in ("ln_1", "ln_2"):
            shapes[p + n + ".weight"] = (C,)
            shapes[p + n + ".bias"] = (C,)
        for n, fin, fout in (("attn.c_attn", C, 3 * C), ("attn.c_proj", C, C), ("mlp.c_fc", C, I), ("mlp.c_proj", I, C)):
            shapes[p + n + ".weight"] = (fin, fout)  # Conv1D: [in, out]
            shapes[p + n + ".bias"] = (fout,)
    return shapes


def expected_shapes(cfg):
    if cfg["model_type"] == "gpt2":
        return gpt2_shapes(cfg)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim_of(cfg)
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    assert not (cfg["model_type"] == "qwen3" and qkv_bias), "qwen3 attention_bias (o_proj bias too) is not modelled"
    shapes = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,)}
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (V, H)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        shapes[p + "input_layernorm.weight"] = (H,)
        shapes[p + "post_attention_layernorm.weight"] = (H,)
        shapes[p + "self_attn.q_proj.weight"] = (nh * hd, H)
        shapes[p + "self_attn.k_proj.weight"] = (nkv * hd, H)
        shapes[p + "self_attn.v_proj.weight"] = (nkv * hd, H)
        shapes[p + "self_attn.o_proj.weight"] = (H, nh * hd)
        if qkv_bias:
            shapes[p + "self_attn.q_proj.bias"] = (nh * hd,)
            shapes[p + "self_attn.k_proj.bias"] = (nkv * hd,)
            shapes[p + "self_attn.v_proj.bias"] = (nkv * hd,)
        if has_qk_norm(cfg):
            shapes[p + "self_attn.q_norm.weight"] = (hd,)
            shapes[p + "self_attn.k_norm.weight"] = (hd,)
        shapes[p + "mlp.gate_proj.weight"] = (I, H)
        shapes[p + "mlp.up_proj.weight"] = (I, H)
        shapes[p + "mlp.down_proj.weight"] = (H, I)
    return shapes


def random_weights(cfg, seed, head_std=0.2):
    rng = np.random.RandomState(seed)
    W = {}
    for name, shape in sorted(expected_shapes(cfg).items()):
        if name.endswith("norm.weight") or (".ln_" in name and name.endswith(".weight")):
            a = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name.endswith(".bias"):
            a = 0.1 * rng.standard_normal(shape)
        elif "embed_tokens" in name or ".wte." in name or ".wpe." in name:
            a = 0.2 * rng.standard_normal(shape)
        elif "lm_head" in name:
            a = head_std * rng.standard_normal(shape)
        else:
            a = 0.15 * rng.standard_normal(shape)
        W[name] = torch.from_numpy(np.asarray(a, dtype=np.float64))
    return W


def random_ids(rng, B, T, V):
    return torch.from_numpy(rng.randint(0, V, size=(B, T)).astype(np.int64))


ST_OF_TORCH = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}


def base_config(**kw):
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 48,
        "max_position_embeddings": 128,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.46.3",
        "use_cache": True,
        "vocab_size": 64,
    }
    cfg.update(kw)
    return cfg


def mistral_config(**kw):
    cfg = {
        "architectures": ["MistralForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 48,
        "max_position_embeddings": 256,
        "model_type": "mistral",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "sliding_window": 32,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
        "transformers_version": "4.46.3",
        "use_cache": True,
        "vocab_size": 64,
    }
    cfg.update(kw)
    return cfg


def qwen2_config(**kw):
    # Qwen2 has no attention_bias key: q/k/v biases are always on, o_proj never.
    cfg = {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 48,
        "max_position_embeddings": 128,
        "max_window_layers": 2,
        "model_type": "qwen2",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": 4096,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.46.3",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": 64,
    }
    cfg.update(kw)
    return cfg


def qwen3_config(**kw):
    # Qwen3: explicit head_dim (here 16, not hidden/heads = 8), no biases, q_norm/k_norm.
    cfg = {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": 16,
        "hidden_act": "silu",
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 48,
        "max_position_embeddings": 128,
        "max_window_layers": 2,
        "model_type": "qwen3",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": "4.51.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": 64,
    }
    cfg.update(kw)
    return cfg


def gpt2_config(**kw):
    # GPT-2's config.json keys (GPT2Config), tiny; n_inner null means 4·n_embd.
    cfg = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256 % 64,
        "embd_pdrop": 0.1,
        "eos_token_id": 50256 % 64,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": 16,
        "n_embd": 32,
        "n_head": 4,
        "n_inner": None,
        "n_layer": 2,
        "n_positions": 16,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "torch_dtype": "float32",
        "transformers_version": "4.46.3",
        "use_cache": True,
        "vocab_size": 64,
    }
    cfg.update(kw)
    return cfg


def make_model_dir(name, cfg, seed, shards=None, head_std=0.2, bare_gpt2=False):
    """Writes config + weights; returns the float64 weights read back from disk.

    bare_gpt2 writes GPT-2's weights as the original checkpoint names them
    (h.N.…, wte, wpe, ln_f: no "transformer." prefix) together with the
    attn.bias (causal mask) and attn.masked_bias buffers it carries."""
    d = os.path.join(HERE, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    write_hf_config(os.path.join(d, "config.json"), cfg)
    st = ST_OF_TORCH[cfg["torch_dtype"]]
    W = random_weights(cfg, seed, head_std)
    tensors = {k: (v, st) for k, v in W.items()}
    if bare_gpt2:
        tensors = {k[len("transformer."):]: v for k, v in tensors.items()}
        P = cfg["n_positions"]
        for i in range(cfg["n_layer"]):
            tensors["h.%d.attn.bias" % i] = (torch.tril(torch.ones(P, P, dtype=F64)).view(1, 1, P, P), "F32")
            tensors["h.%d.attn.masked_bias" % i] = (torch.tensor(-1e4, dtype=F64), "F32")
    if shards is None:
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        back = read_safetensors(os.path.join(d, "model.safetensors"))
        if bare_gpt2:
            back = {"transformer." + k: v for k, v in back.items() if not k.endswith((".attn.bias", ".masked_bias"))}
    else:
        names = sorted(tensors, key=shard_sort_key)
        n = len(shards)
        weight_map = {}
        total = 0
        back = {}
        for si, part in enumerate(shards):
            fname = "model-%05d-of-%05d.safetensors" % (si + 1, n)
            sub = {k: tensors[k] for k in names if part(k)}
            total += write_safetensors(os.path.join(d, fname), sub)
            for k in sub:
                assert k not in weight_map
                weight_map[k] = fname
            back.update(read_safetensors(os.path.join(d, fname)))
        assert sorted(weight_map) == sorted(tensors), "every tensor in exactly one shard"
        # transformers: json.dumps(index, indent=2, sort_keys=True) + "\n"
        write_json(os.path.join(d, "model.safetensors.index.json"),
                   {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    # the file holds exactly the rounded values; compute from those
    shapes = expected_shapes(cfg)
    assert sorted(back) == sorted(shapes)
    for k, v in back.items():
        assert tuple(v.shape) == tuple(shapes[k]), k
        assert torch.equal(v, round_to(W[k], st)), k
    return d, back


def shard_sort_key(k):
    return k


def check_logits_sane(logits):
    assert torch.isfinite(logits).all()
    sd = float(logits.std())
    pmax = float(torch.softmax(logits, -1).max())
    assert 0.3 < sd < 5.0, sd
    assert pmax < 0.95, pmax
    return sd, pmax


def self_check_forward(cfg, W, ids, logits, lora=None, tag=""):
    slow = slow_forward(cfg, W, ids, lora)
    err = float((slow - logits).abs().max())
    assert err < 1e-11, (tag, err)
    # float32 run of the same graph (sanity of conditioning)
    W32 = {k: v.to(torch.float32) for k, v in W.items()}
    l32 = None
    if lora is not None:
        l32 = {"scale": lora["scale"], "tensors": {k: v.to(torch.float32) for k, v in lora["tensors"].items()}}
    f32 = forward_f32(cfg, W32, ids, l32)
    err32 = float((f32.to(F64) - logits).abs().max())
    assert err32 < 1e-4, (tag, err32)
    return err, err32


def forward_f32(cfg, W32, ids, lora32):
    # same code path; torch ops follow the dtype of the weights
    return forward(cfg, W32, ids, lora32, dtype=torch.float32)


LOG = []


def log(*a):
    s = " ".join(str(x) for x in a)
    LOG.append(s)
    print(s)


# --------------------------------------------------------------------------
# Cases 1-6: forward fixtures
# --------------------------------------------------------------------------

def forward_case(name, cfg, seed, T, shards=None, grads=None, extra=None, bare_gpt2=False):
    d, W = make_model_dir(name, cfg, seed, shards, bare_gpt2=bare_gpt2)
    rng = np.random.RandomState(seed + 1000)
    ids = random_ids(rng, 2, T, cfg["vocab_size"])
    logits = forward(cfg, W, ids)
    loss = causal_lm_loss(logits, ids)
    sd, pmax = check_logits_sane(logits)
    err, err32 = self_check_forward(cfg, W, ids, logits, tag=name)
    exp = {
        "ids": ids.tolist(),
        "logits": to_list(logits),
        "loss": float(loss),
    }
    if grads:
        P = {k: v.clone().requires_grad_(k in grads) for k, v in W.items()}
        l2 = causal_lm_loss(forward(cfg, P, ids), ids)
        assert float(l2) == float(loss)
        l2.backward()
        exp["grads"] = {k: to_list(P[k].grad) for k in grads}
        fd_check(cfg, W, ids, grads, {k: P[k].grad for k in grads})
    if extra:
        exp.update(extra(cfg, W, ids, logits))
    write_json(os.path.join(d, "expected.json"), exp)
    log("%-18s T=%d loss=%.6f logits_sd=%.3f pmax=%.3f slow_err=%.1e f32_err=%.1e" %
        (name, T, float(loss), sd, pmax, err, err32))


def fd_check(cfg, W, ids, names, grads):
    rng = np.random.RandomState(7)
    h = 1e-6
    worst = 0.0
    for k in names:
        flat = W[k].view(-1)
        for idx in rng.choice(flat.numel(), size=4, replace=False).tolist():
            old = float(flat[idx])
            flat[idx] = old + h
            lp = float(causal_lm_loss(forward(cfg, W, ids), ids))
            flat[idx] = old - h
            lm = float(causal_lm_loss(forward(cfg, W, ids), ids))
            flat[idx] = old
            fd = (lp - lm) / (2 * h)
            an = float(grads[k].view(-1)[idx])
            e = abs(fd - an) / max(1e-6, abs(fd) + abs(an))
            worst = max(worst, e)
            assert e < 1e-5 or abs(fd - an) < 1e-9, (k, idx, fd, an)
    log("  finite-difference grad check ok, worst rel err %.1e" % worst)


def llama3_extra(cfg, W, ids, logits):
    plain_cfg = dict(cfg)
    plain_cfg["rope_scaling"] = None
    inv_plain = inv_freq_of(plain_cfg)
    inv = inv_freq_of(cfg)
    # the three llama3 regimes must all be exercised
    rs = cfg["rope_scaling"]
    wl = 2 * math.pi / inv_plain
    hi_wl = rs["original_max_position_embeddings"] / rs["high_freq_factor"]
    lo_wl = rs["original_max_position_embeddings"] / rs["low_freq_factor"]
    n_hi = int((wl < hi_wl).sum())
    n_lo = int((wl > lo_wl).sum())
    n_mid = len(wl) - n_hi - n_lo
    assert n_hi > 0 and n_lo > 0 and n_mid > 0, (n_hi, n_mid, n_lo)
    assert not torch.equal(inv, inv_plain)
    logits_plain = forward(plain_cfg, W, ids)
    diff = float((logits - logits_plain).abs().max())
    assert diff > 1e-3, diff
    log("  llama3 rope: %d unchanged, %d smoothed, %d divided; max |logit diff| vs plain rope %.3g" %
        (n_hi, n_mid, n_lo, diff))
    return {"inv_freq": to_list(inv), "inv_freq_unscaled": to_list(inv_plain),
            "logits_unscaled_rope": to_list(logits_plain)}


# --------------------------------------------------------------------------
# Case 7: LoRA + training
# --------------------------------------------------------------------------

PEFT_CONFIG_DEFAULTS = {
    # Key set of LoraConfig as saved by PEFT 0.19 (save_pretrained writes
    # json.dumps(config, indent=2, sort_keys=True), inference_mode true).
    "alora_invocation_tokens": None,
    "alpha_pattern": {},
    "arrow_config": None,
    "auto_mapping": None,
    "base_model_name_or_path": "golora-ref/lora_train",
    "bias": "none",
    "corda_config": None,
    "ensure_weight_tying": False,
    "eva_config": None,
    "exclude_modules": None,
    "fan_in_fan_out": False,
    "inference_mode": True,
    "init_lora_weights": True,
    "layer_replication": None,
    "layers_pattern": None,
    "layers_to_transform": None,
    "loftq_config": {},
    "lora_alpha": 8,
    "lora_bias": False,
    "lora_dropout": 0.0,
    "lora_ga_config": None,
    "megatron_config": None,
    "megatron_core": "megatron.core",
    "modules_to_save": None,
    "peft_type": "LORA",
    "peft_version": "0.19.1",
    "qalora_group_size": 16,
    "r": 4,
    "rank_pattern": {},
    "revision": None,
    "target_modules": ["down_proj", "q_proj", "v_proj"],
    "target_parameters": None,
    "task_type": "CAUSAL_LM",
    "trainable_token_indices": None,
    "use_bdlora": None,
    "use_dora": False,
    "use_qalora": False,
    "use_rslora": False,
}

GPT2_MODULE_PATHS = {"c_attn": ["attn.c_attn"], "c_proj": ["attn.c_proj", "mlp.c_proj"], "c_fc": ["mlp.c_fc"]}

MODULE_PATHS = {
    "q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj", "v_proj": "self_attn.v_proj",
    "o_proj": "self_attn.o_proj", "gate_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj",
    "down_proj": "mlp.down_proj",
}


def module_paths(cfg, i, targets):
    """The module paths of layer i that PEFT's target_modules select."""
    if cfg["model_type"] == "gpt2":
        return ["transformer.h.%d.%s" % (i, m) for t in targets for m in GPT2_MODULE_PATHS[t]]
    return ["model.layers.%d.%s" % (i, MODULE_PATHS[t]) for t in targets]


def lora_scale(pc):
    if pc["use_rslora"]:
        return pc["lora_alpha"] / math.sqrt(pc["r"])
    return pc["lora_alpha"] / pc["r"]


def make_adapter(d, cfg, W, pc, seed, st_dtype, a_std, b_std):
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    write_json(os.path.join(d, "adapter_config.json"), pc, indent=2)
    rng = np.random.RandomState(seed)
    r = pc["r"]
    tensors = {}
    gpt2 = cfg["model_type"] == "gpt2"
    for i in range(cfg["n_layer"] if gpt2 else cfg["num_hidden_layers"]):
        for path in module_paths(cfg, i, pc["target_modules"]):
            out_f, in_f = W[path + ".weight"].shape
            if gpt2:  # Conv1D weights are stored [in, out] (fan_in_fan_out); A, B keep PEFT's shapes
                in_f, out_f = out_f, in_f
            A = a_std * rng.standard_normal((r, in_f))
            Bm = b_std * rng.standard_normal((out_f, r))
            tensors[lora_key(path, "A")] = (torch.from_numpy(A), st_dtype)
            tensors[lora_key(path, "B")] = (torch.from_numpy(Bm), st_dtype)
    fn = os.path.join(d, "adapter_model.safetensors")
    write_safetensors(fn, tensors)
    back = read_safetensors(fn)
    for k, (t, dt) in tensors.items():
        assert torch.equal(back[k], round_to(t, dt)), k
        assert back[k].shape[0] == r if k.endswith("lora_A.weight") else back[k].shape[1] == r
    return {"scale": lora_scale(pc), "tensors": back}


def linear_schedule_with_warmup(warmup, total):
    # transformers.get_linear_schedule_with_warmup's lr_lambda
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return f


def train(cfg, W, lora_init, ids, labels, hp, accum):
    keys = sorted(lora_init["tensors"])
    params = {k: torch.nn.Parameter(lora_init["tensors"][k].clone()) for k in keys}
    plist = [params[k] for k in keys]
    opt = torch.optim.AdamW(plist, lr=hp["lr"], betas=tuple(hp["betas"]), eps=hp["eps"],
                            weight_decay=hp["weight_decay"], foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, linear_schedule_with_warmup(hp["warmup_steps"], hp["max_steps"]))
    mine = ManualAdamW(keys, {k: lora_init["tensors"][k].clone() for k in keys}, hp)
    lora = {"scale": lora_init["scale"], "tensors": params}
    B = ids.shape[0]
    micro = [(slice(0, B), )] if accum == 1 else [(slice(j, j + 1), ) for j in range(B)]
    assert accum == len(micro)
    n_total = int((labels[:, 1:] != -100).sum())
    steps = []
    for step in range(hp["max_steps"]):
        lr = opt.param_groups[0]["lr"]
        assert lr == hp["lr"] * linear_schedule_with_warmup(hp["warmup_steps"], hp["max_steps"])(step)
        opt.zero_grad(set_to_none=True)
        loss_total = 0.0
        for (sl,) in micro:
            s, n = ce_sum_count(forward(cfg, W, ids[sl], lora), labels[sl])
            l = s / n_total  # sum over the whole step's unmasked targets / their count
            l.backward()
            loss_total += float(l)
        grads = {k: params[k].grad.clone() for k in keys}
        gn = float(torch.nn.utils.clip_grad_norm_(plist, hp["max_grad_norm"]))
        opt.step()
        sched.step()
        mine.step(grads, lr, gn)
        steps.append({"step": step, "lr": lr, "loss": loss_total, "grad_norm": gn,
                      "num_targets": n_total,
                      "clip_coef": min(1.0, hp["max_grad_norm"] / (gn + 1e-6))})
    final = {k: params[k].detach().clone() for k in keys}
    for k in keys:
        assert float((final[k] - mine.p[k]).abs().max()) < 1e-14, k
    return steps, final


class ManualAdamW:
    """Written-out torch.optim.AdamW (+clip) used only to cross-check torch."""

    def __init__(self, keys, p, hp):
        self.keys, self.p, self.hp = keys, p, hp
        self.m = {k: torch.zeros_like(v) for k, v in p.items()}
        self.v = {k: torch.zeros_like(v) for k, v in p.items()}
        self.t = 0

    def step(self, grads, lr, gn_expected):
        hp = self.hp
        b1, b2 = hp["betas"]
        gn = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
        assert abs(gn - gn_expected) < 1e-12 * max(1.0, gn)
        coef = min(1.0, hp["max_grad_norm"] / (gn + 1e-6))
        self.t += 1
        for k in self.keys:
            g = grads[k] * coef
            p = self.p[k] * (1 - lr * hp["weight_decay"])
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            bc1 = 1 - b1 ** self.t
            bc2 = 1 - b2 ** self.t
            denom = self.v[k].sqrt() / math.sqrt(bc2) + hp["eps"]
            self.p[k] = p - (lr / bc1) * self.m[k] / denom


def lora_case(name="lora_train", cfg=None, seed=700, targets=("down_proj", "q_proj", "v_proj"), head_std=0.1,
              rs_extra="o_proj"):
    if cfg is None:
        cfg = base_config(num_hidden_layers=2)
    # lm_head std 0.1 (not 0.2) so that the grad norms straddle max_grad_norm:
    # the first steps are clipped, the later ones are not (qwen3_lora_train: 0.08, gpt2_lora_train: 0.0975).
    d, W = make_model_dir(name, cfg, seed=seed, head_std=head_std)
    rng = np.random.RandomState(seed + 1000)
    ids = random_ids(rng, 2, 9, cfg["vocab_size"])
    labels = ids.clone()
    prompt_len = [3, 5]  # unequal so that mean-of-micro-means != global mean
    for b, pl in enumerate(prompt_len):
        labels[b, :pl] = -100

    base = "golora-ref/" + name
    fan = cfg["model_type"] == "gpt2"  # PEFT sets fan_in_fan_out for Conv1D modules
    pc = dict(PEFT_CONFIG_DEFAULTS, base_model_name_or_path=base, target_modules=sorted(targets), fan_in_fan_out=fan)
    lora_init = make_adapter(os.path.join(d, "adapter_init"), cfg, W, pc, seed + 1, "F32", 0.1, 0.1)
    pc2 = dict(PEFT_CONFIG_DEFAULTS, r=8, lora_alpha=16, use_rslora=True, base_model_name_or_path=base,
               target_modules=sorted(set(targets) | {rs_extra}), fan_in_fan_out=fan)
    lora_rs = make_adapter(os.path.join(d, "adapter_rslora_bf16"), cfg, W, pc2, seed + 2, "BF16", 0.1, 0.05)
    assert abs(lora_rs["scale"] - 16 / math.sqrt(8)) < 1e-15 and lora_init["scale"] == 2.0

    logits_base = forward(cfg, W, ids)
    logits_init = forward(cfg, W, ids, lora_init)
    logits_rs = forward(cfg, W, ids, lora_rs)
    for lg in (logits_base, logits_init, logits_rs):
        check_logits_sane(lg)
    d_init = float((logits_init - logits_base).abs().max())
    d_rs = float((logits_rs - logits_base).abs().max())
    assert d_init > 0.05 and d_rs > 0.05, (d_init, d_rs)
    e1 = self_check_forward(cfg, W, ids, logits_base, tag="lora base")
    e2 = self_check_forward(cfg, W, ids, logits_init, lora_init, tag="lora init")
    e3 = self_check_forward(cfg, W, ids, logits_rs, lora_rs, tag="lora rslora")
    log("%-18s base/init/rslora slow_err %.1e %.1e %.1e f32_err %.1e %.1e %.1e; "
        "max |adapter effect| init %.3f rslora %.3f" %
        (name, e1[0], e2[0], e3[0], e1[1], e2[1], e3[1], d_init, d_rs))

    # gradient of the masked loss at adapter_init, w.r.t. A and B
    P = {k: v.clone().requires_grad_(True) for k, v in lora_init["tensors"].items()}
    loss0 = causal_lm_loss(forward(cfg, W, ids, {"scale": lora_init["scale"], "tensors": P}), labels)
    loss0.backward()
    grads_init = {k: to_list(P[k].grad) for k in sorted(P)}

    hp = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01,
          "max_grad_norm": 1.0, "warmup_steps": 2, "max_steps": 6,
          "scheduler": "linear (transformers get_linear_schedule_with_warmup)",
          "clip_eps": 1e-6, "prompt_lengths_masked": prompt_len,
          "lora_scale_init": lora_init["scale"], "lora_scale_rslora": lora_rs["scale"],
          "compute_dtype": "float64"}
    steps1, final1 = train(cfg, W, lora_init, ids, labels, hp, accum=1)
    steps2, final2 = train(cfg, W, lora_init, ids, labels, hp, accum=2)
    assert abs(steps1[0]["loss"] - float(loss0)) < 1e-14
    for a, b in zip(steps1, steps2):
        assert abs(a["loss"] - b["loss"]) < 1e-12 and abs(a["grad_norm"] - b["grad_norm"]) < 1e-12
        assert a["lr"] == b["lr"]
    for k in final1:
        assert float((final1[k] - final2[k]).abs().max()) < 1e-12
    # the naive accumulation (mean of per-micro-batch means) must differ here
    s0, n0 = ce_sum_count(logits_init[0:1], labels[0:1])
    s1, n1 = ce_sum_count(logits_init[1:2], labels[1:2])
    naive = 0.5 * (float(s0) / n0 + float(s1) / n1)
    assert abs(naive - float(loss0)) > 1e-3, (naive, float(loss0))

    final_lora = {"scale": lora_init["scale"], "tensors": final1}
    logits_final = forward(cfg, W, ids, final_lora)
    loss_final = float(causal_lm_loss(logits_final, labels))
    losses = [s["loss"] for s in steps1]
    assert loss_final < losses[0] and losses[-1] < losses[0], (losses, loss_final)
    n_clipped = sum(1 for s in steps1 if s["grad_norm"] > hp["max_grad_norm"])
    assert 1 <= n_clipped < len(steps1), n_clipped
    assert all(abs(s["grad_norm"] - hp["max_grad_norm"]) > 0.05 for s in steps1)
    assert steps1[0]["lr"] == 0.0
    log("  train: lrs %s" % [s["lr"] for s in steps1])
    log("  train: losses %s -> final %.6f" % (["%.6f" % x for x in losses], loss_final))
    log("  train: grad_norms %s (%d of 6 steps clipped)" %
        (["%.4f" % s["grad_norm"] for s in steps1], n_clipped))

    exp = {
        "ids": ids.tolist(),
        "labels": labels.tolist(),
        "logits_base": to_list(logits_base),
        "logits_with_adapter_init": to_list(logits_init),
        "logits_with_adapter_rslora": to_list(logits_rs),
        "loss_with_adapter_init": float(loss0),
        "grads_init": grads_init,
        "hparams": hp,
        "train": {"accum1": {"grad_accum_steps": 1, "micro_batches": [[0, 1]], "steps": steps1},
                  "accum2": {"grad_accum_steps": 2, "micro_batches": [[0], [1]], "steps": steps2}},
        "final": {k: to_list(v) for k, v in sorted(final1.items())},
        "loss_after_training": loss_final,
        "logits_after_training": to_list(logits_final),
    }
    write_json(os.path.join(d, "expected.json"), exp)


# --------------------------------------------------------------------------

def main():
    torch.manual_seed(0)
    cases = ["llama_f32", "llama_bf16_tied", "mistral_f16_headdim", "qwen2_f32_bias",
             "llama3_rope", "llama_sharded", "qwen3_f32", "qwen3_bf16_tied", "gpt2_f32", "gpt2_bf16_bare",
             "lora_train", "qwen3_lora_train", "gpt2_lora_train"]

    forward_case("llama_f32", base_config(num_hidden_layers=3), seed=100, T=9,
                 grads=["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                        "model.layers.1.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight"])

    forward_case("llama_bf16_tied",
                 base_config(num_key_value_heads=1, tie_word_embeddings=True, torch_dtype="bfloat16",
                             vocab_size=56),
                 seed=200, T=8)

    forward_case("mistral_f16_headdim", mistral_config(head_dim=16), seed=300, T=7)

    forward_case("qwen2_f32_bias", qwen2_config(vocab_size=72), seed=400, T=8)

    # original_max_position_embeddings 32 (not 16): with head_dim 32 and theta 5e5 this puts
    # inv_freq[0] in the unchanged band, inv_freq[1] in the smoothed band, the rest divided.
    # (With 16, no frequency can be in the unchanged band: that needs wavelen < 16/4 < 2*pi.)
    forward_case("llama3_rope",
                 base_config(hidden_size=32, num_attention_heads=2, num_key_value_heads=1, head_dim=32,
                             rope_theta=500000.0, max_position_embeddings=256,
                             rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                           "original_max_position_embeddings": 32, "rope_type": "llama3"}),
                 seed=500, T=9, extra=llama3_extra)

    def shard1(k):
        return k.startswith("model.embed_tokens") or k.startswith("model.layers.0.") or \
            (k.startswith("model.layers.1.") and "self_attn" in k)

    forward_case("llama_sharded", base_config(vocab_size=48, intermediate_size=40), seed=600, T=7,
                 shards=[shard1, lambda k: not shard1(k)])

    forward_case("qwen3_f32", qwen3_config(), seed=700, T=9,
                 grads=["model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight",
                        "model.layers.0.self_attn.k_proj.weight", "model.layers.1.self_attn.q_proj.weight",
                        "model.embed_tokens.weight", "lm_head.weight"])

    forward_case("qwen3_bf16_tied", qwen3_config(tie_word_embeddings=True, torch_dtype="bfloat16", vocab_size=56),
                 seed=800, T=8)

    forward_case("gpt2_f32", gpt2_config(), seed=1000, T=9,
                 grads=["transformer.wpe.weight", "transformer.h.0.ln_1.weight",
                        "transformer.h.0.ln_1.bias", "transformer.h.0.attn.c_attn.weight",
                        "transformer.h.1.mlp.c_fc.weight", "transformer.h.1.mlp.c_proj.bias",
                        "transformer.ln_f.bias"])

    forward_case("gpt2_bf16_bare", gpt2_config(torch_dtype="bfloat16", vocab_size=56), seed=1100, T=8,
                 bare_gpt2=True)

    lora_case()
    # k_proj's adapter trains through the key norm.
    lora_case("qwen3_lora_train", qwen3_config(), seed=900, targets=("k_proj", "q_proj", "v_proj"),
              head_std=0.08)
    lora_case("gpt2_lora_train", gpt2_config(tie_word_embeddings=False), seed=1200, targets=("c_attn", "c_fc"), head_std=0.0975,
              rs_extra="c_proj")

    total = 0
    for c in cases:
        for root, _, files in os.walk(os.path.join(HERE, c)):
            for f in files:
                total += os.path.getsize(os.path.join(root, f))
    log("total fixture bytes: %d" % total)
    assert total < 2_500_000


if __name__ == "__main__":
    main()
