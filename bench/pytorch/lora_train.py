#!/usr/bin/python3
"""PyTorch baseline for `golora bench train`: LoRA (or full) training steps
of a random float32 Llama on CPU.

The model reproduces Hugging Face's LlamaForCausalLM (transformers 4.45, the
last releases that run on torch 1.13, where attention is "eager": plain
matmul + additive causal mask + float32 softmax) module for module:
embed_tokens, per layer input_layernorm -> self_attn (q/k/v/o_proj,
rotate-half RoPE, GQA by repeat_kv) -> residual -> post_attention_layernorm ->
SwiGLU mlp (down(silu(gate(x)) * up(x))) -> residual, final norm, lm_head tied
to embed_tokens, cross-entropy over logits[:, :-1] against labels[:, 1:].
Weights are drawn as HF's _init_weights does (normal, std
initializer_range; RMSNorm weights 1).

LoRA follows PEFT's LoraLayer.Linear: y = base(x) + lora_B(lora_A(dropout(x)))
* (alpha / r), lora_A kaiming-uniform(a=sqrt(5)), lora_B zeros, dropout 0
(nn.Identity), alpha 16. Everything but the adapters has requires_grad False.
The optimizer is torch.optim.AdamW (lr 1e-4, betas 0.9/0.999, eps 1e-8,
weight decay 0, as golora) over the trainable parameters, after
clip_grad_norm_(1.0).

One warm-up step, then --steps timed steps. Prints one JSON object.
"""
import argparse
import json
import math
import os
import resource
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-config", dest="config", default=None, help="HF config.json (default /tmp/smol.json, else smollm135m.json beside this script)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--method", default="lora", choices=["lora", "full"])
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


args = parse()
# Before torch is imported, so that OpenMP and any OpenBLAS start with it.
os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Config:
    def __init__(self, d):
        self.vocab_size = d["vocab_size"]
        self.hidden_size = d["hidden_size"]
        self.intermediate_size = d["intermediate_size"]
        self.num_hidden_layers = d["num_hidden_layers"]
        self.num_attention_heads = d["num_attention_heads"]
        self.num_key_value_heads = d.get("num_key_value_heads") or self.num_attention_heads
        self.head_dim = d.get("head_dim") or self.hidden_size // self.num_attention_heads
        self.rms_norm_eps = d.get("rms_norm_eps", 1e-6)
        self.rope_theta = d.get("rope_theta", 10000.0)
        self.tie_word_embeddings = d.get("tie_word_embeddings", False)
        self.initializer_range = d.get("initializer_range", 0.02)
        self.attention_bias = d.get("attention_bias", False)
        self.mlp_bias = d.get("mlp_bias", False)
        act = d.get("hidden_act", "silu")
        if act != "silu":
            raise SystemExit(f"hidden_act {act!r}: only silu is supported")
        if d.get("rope_scaling"):
            raise SystemExit("rope_scaling is not supported")


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, dim, base):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    @torch.no_grad()
    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype=x.dtype), emb.sin().to(dtype=x.dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos = cos.unsqueeze(1)
    sin = sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_heads, self.head_dim = c.num_attention_heads, c.head_dim
        self.num_key_value_heads = c.num_key_value_heads
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        self.q_proj = nn.Linear(c.hidden_size, self.num_heads * self.head_dim, bias=c.attention_bias)
        self.k_proj = nn.Linear(c.hidden_size, self.num_key_value_heads * self.head_dim, bias=c.attention_bias)
        self.v_proj = nn.Linear(c.hidden_size, self.num_key_value_heads * self.head_dim, bias=c.attention_bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, c.hidden_size, bias=c.attention_bias)

    def forward(self, hidden_states, attention_mask, position_embeddings):
        bsz, q_len, _ = hidden_states.size()
        query_states = self.q_proj(hidden_states)
        key_states = self.k_proj(hidden_states)
        value_states = self.v_proj(hidden_states)
        query_states = query_states.view(bsz, q_len, self.num_heads, self.head_dim).transpose(1, 2)
        key_states = key_states.view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        value_states = value_states.view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        cos, sin = position_embeddings
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        key_states = repeat_kv(key_states, self.num_key_value_groups)
        value_states = repeat_kv(value_states, self.num_key_value_groups)
        attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) / math.sqrt(self.head_dim)
        causal_mask = attention_mask[:, :, :, : key_states.shape[-2]]
        attn_weights = attn_weights + causal_mask
        attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
        attn_weights = F.dropout(attn_weights, p=0.0, training=self.training)
        attn_output = torch.matmul(attn_weights, value_states)
        attn_output = attn_output.transpose(1, 2).contiguous()
        attn_output = attn_output.reshape(bsz, q_len, -1)
        return self.o_proj(attn_output)


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=c.mlp_bias)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = LlamaAttention(c)
        self.mlp = LlamaMLP(c)
        self.input_layernorm = LlamaRMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, hidden_states, attention_mask, position_embeddings):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states = self.self_attn(hidden_states, attention_mask, position_embeddings)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return residual + hidden_states


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([LlamaDecoderLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = LlamaRMSNorm(c.hidden_size, c.rms_norm_eps)
        self.rotary_emb = LlamaRotaryEmbedding(c.head_dim, c.rope_theta)

    def forward(self, input_ids):
        inputs_embeds = self.embed_tokens(input_ids)
        bsz, seq = input_ids.shape
        position_ids = torch.arange(seq).unsqueeze(0)
        # _update_causal_mask without padding: min_dtype above the diagonal,
        # 0 elsewhere, shape (bsz, 1, q, kv).
        dtype = inputs_embeds.dtype
        causal_mask = torch.full((seq, seq), torch.finfo(dtype).min, dtype=dtype).triu(1)
        causal_mask = causal_mask[None, None, :, :].expand(bsz, 1, -1, -1)
        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states, causal_mask, position_embeddings)
        return self.norm(hidden_states)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.apply(self._init_weights)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=std)

    def forward(self, input_ids, labels):
        hidden_states = self.model(input_ids)
        logits = self.lm_head(hidden_states)
        logits = logits.float()
        shift_logits = logits[..., :-1, :].contiguous()
        shift_labels = labels[..., 1:].contiguous()
        loss = F.cross_entropy(shift_logits.view(-1, self.config.vocab_size), shift_labels.view(-1))
        return loss


class LoraLinear(nn.Module):
    """PEFT's lora.Linear for one adapter, no DoRA, dropout 0."""

    def __init__(self, base_layer, r, alpha):
        super().__init__()
        self.base_layer = base_layer
        self.lora_dropout = nn.Identity()
        self.lora_A = nn.Linear(base_layer.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base_layer.out_features, bias=False)
        self.scaling = alpha / r
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        result = self.base_layer(x)
        x = x.to(self.lora_A.weight.dtype)
        return result + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


def attach_lora(model, targets, r, alpha):
    n = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and name in targets:
                setattr(module, name, LoraLinear(child, r, alpha))
                n += 1
    if n == 0:
        raise SystemExit(f"no module matched --targets {','.join(sorted(targets))}")
    return n


def blas_library():
    """The BLAS shared object torch loaded (torch 1.13 from Debian calls
    whatever libblas.so.3 resolves to)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() or "mkl" in line.lower()}
        return ",".join(sorted(l for l in libs if l.startswith("/")))
    except OSError:
        return ""


def main():
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    path = args.config
    if path is None:
        path = "/tmp/smol.json" if os.path.exists("/tmp/smol.json") else \
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "smollm135m.json")
    with open(path) as f:
        c = Config(json.load(f))

    model = LlamaForCausalLM(c)
    n_params = sum(p.numel() for p in model.parameters())  # tied weight counted once
    if args.method == "lora":
        for p in model.parameters():
            p.requires_grad_(False)
        attach_lora(model, {t.strip() for t in args.targets.split(",") if t.strip()}, args.rank, args.alpha)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    g = torch.Generator().manual_seed(args.seed + 2)
    ids = torch.randint(0, c.vocab_size, (args.batch_size, args.seq_len), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(ids, ids)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    step()  # warm-up
    loss = float("nan")
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sec = (time.perf_counter() - start) / args.steps
    tokens = args.batch_size * args.seq_len
    print(json.dumps({
        "method": args.method,
        "tokens_per_sec": tokens / sec,
        "step_seconds": sec,
        "tokens_per_step": tokens,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "trainable_params": trainable,
        "params": n_params,
        "final_loss": loss,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "blas": blas_library(),
        "config": path,
    }))


if __name__ == "__main__":
    sys.exit(main())
