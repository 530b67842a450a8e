#!/usr/bin/env python3
"""DoRA reference fixture for golora (testdata/ref/dora_train).

A float64 re-implementation of PEFT's DoRA on a Linear (DoraLinearLayer and
DoraLinearVariant in peft/tuners/lora/dora.py and variants.py), written from
those sources:

    lora_weight = B @ A                                   [out, in]
    weight_norm = ‖W + s·lora_weight‖₂ over in, per row    detached (no gradient)
    f           = magnitude / weight_norm                 [out]
    result      = x·Wᵀ + b
    result     += (f − 1)·(result − b) + f·s·(x·Aᵀ)·Bᵀ

(lora_dropout 0, so the base term is the base layer's result without its
bias). The magnitude is saved as base_model.model.<module>.lora_magnitude_vector
(PEFT drops the ".weight" of the DoraLinearLayer parameter when saving).

The model, the forward pass, the AdamW/Trainer loop and the file writers are
make_fixtures.py's: this script only swaps in the DoRA linear. It writes a tiny
Llama model, adapter_init (a DoRA adapter with non-trivial A, B and
magnitude), and expected.json laid out as make_fixtures.py's lora_train: the
logits with and without the adapter, the masked loss and its gradient, six
training steps with the same hyperparameters (batch 2, and batch 1 with two
accumulated micro-batches), the final weights and the logits after training.

Run: /usr/bin/python3 testdata/ref/make_dora.py  (deterministic; float64)
"""

import math
import os

import numpy as np
import torch

import make_fixtures as mf

F64 = torch.float64
NAME = "dora_train"
plain_linear = mf.linear


def magnitude_key(module_path):
    return "base_model.model." + module_path + ".lora_magnitude_vector"


def dora_linear(W, name, x, lora):
    """PEFT's Linear with a DoRA adapter when lora has name's magnitude, else LoRA."""
    if lora is None or magnitude_key(name) not in lora["tensors"]:
        return plain_linear(W, name, x, lora)
    t, s = lora["tensors"], lora["scale"]
    Wt = W[name + ".weight"]
    A, B, m = t[mf.lora_key(name, "A")], t[mf.lora_key(name, "B")], t[magnitude_key(name)]
    bias = W.get(name + ".bias")
    result = x @ Wt.T
    if bias is not None:
        result = result + bias
    weight_norm = torch.linalg.norm(Wt + s * (B @ A), dim=1).detach()
    f = (m / weight_norm).view(1, -1)
    base_result = result - bias if bias is not None else result
    return result + (f - 1) * base_result + f * ((x @ A.T) @ B.T) * s


def make_dora_adapter(d, cfg, W, pc, seed):
    """adapter_init: A, B ~ 0.1·N(0,1); magnitude = ‖W + s·B·A‖·(1 + 0.2·N(0,1))."""
    os.makedirs(d)
    mf.write_json(os.path.join(d, "adapter_config.json"), pc, indent=2)
    rng = np.random.RandomState(seed)
    r, s = pc["r"], mf.lora_scale(pc)
    tensors = {}
    for i in range(cfg["num_hidden_layers"]):
        for path in mf.module_paths(cfg, i, pc["target_modules"]):
            out_f, in_f = W[path + ".weight"].shape
            A = torch.from_numpy(0.1 * rng.standard_normal((r, in_f)))
            B = torch.from_numpy(0.1 * rng.standard_normal((out_f, r)))
            n = torch.linalg.norm(W[path + ".weight"] + s * (B @ A), dim=1)
            m = n * torch.from_numpy(1 + 0.2 * rng.standard_normal(out_f))
            tensors[mf.lora_key(path, "A")] = (A, "F32")
            tensors[mf.lora_key(path, "B")] = (B, "F32")
            tensors[magnitude_key(path)] = (m, "F32")
    fn = os.path.join(d, "adapter_model.safetensors")
    mf.write_safetensors(fn, tensors)
    back = mf.read_safetensors(fn)
    for k, (t, dt) in tensors.items():
        assert torch.equal(back[k], mf.round_to(t, dt)), k
    return {"scale": s, "tensors": back}


def main():
    mf.linear = dora_linear  # make_fixtures.forward looks linear up at call time
    cfg = mf.base_config(num_hidden_layers=2)
    seed = 1300
    d, W = mf.make_model_dir(NAME, cfg, seed=seed, head_std=0.1)
    rng = np.random.RandomState(seed + 1000)
    ids = mf.random_ids(rng, 2, 9, cfg["vocab_size"])
    labels = ids.clone()
    prompt_len = [3, 5]
    for b, pl in enumerate(prompt_len):
        labels[b, :pl] = -100
    targets = sorted(mf.MODULE_PATHS)
    pc = dict(mf.PEFT_CONFIG_DEFAULTS, base_model_name_or_path="golora-ref/" + NAME,
              target_modules=targets, use_dora=True)
    dora = make_dora_adapter(os.path.join(d, "adapter_init"), cfg, W, pc, seed + 1)

    logits_base = mf.forward(cfg, W, ids)
    logits_dora = mf.forward(cfg, W, ids, dora)
    for lg in (logits_base, logits_dora):
        mf.check_logits_sane(lg)
    effect = float((logits_dora - logits_base).abs().max())
    assert effect > 0.05, effect

    # The same adapter with B = 0 and the magnitude at its initial value
    # ‖W‖ must leave the model unchanged (PEFT's fresh DoRA adapter).
    fresh = {k: (torch.zeros_like(v) if ".lora_B." in k else v) for k, v in dora["tensors"].items()}
    for k in fresh:
        if k.endswith(".lora_magnitude_vector"):
            path = k[len("base_model.model."):-len(".lora_magnitude_vector")]
            fresh[k] = torch.linalg.norm(W[path + ".weight"], dim=1)
    e0 = float((mf.forward(cfg, W, ids, {"scale": dora["scale"], "tensors": fresh}) - logits_base).abs().max())
    assert e0 < 1e-12, e0

    P = {k: v.clone().requires_grad_(True) for k, v in dora["tensors"].items()}
    loss0 = mf.causal_lm_loss(mf.forward(cfg, W, ids, {"scale": dora["scale"], "tensors": P}), labels)
    loss0.backward()
    grads_init = {k: mf.to_list(P[k].grad) for k in sorted(P)}

    hp = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01,
          "max_grad_norm": 1.0, "warmup_steps": 2, "max_steps": 6,
          "scheduler": "linear (transformers get_linear_schedule_with_warmup)",
          "clip_eps": 1e-6, "prompt_lengths_masked": prompt_len,
          "lora_scale": dora["scale"], "compute_dtype": "float64"}
    steps, final = mf.train(cfg, W, dora, ids, labels, hp, accum=1)
    steps2, final2 = mf.train(cfg, W, dora, ids, labels, hp, accum=2)
    assert abs(steps[0]["loss"] - float(loss0)) < 1e-14
    for a, b in zip(steps, steps2):
        assert abs(a["loss"] - b["loss"]) < 1e-12 and abs(a["grad_norm"] - b["grad_norm"]) < 1e-12
    for k in final:
        assert float((final[k] - final2[k]).abs().max()) < 1e-12
    final_lora = {"scale": dora["scale"], "tensors": final}
    logits_final = mf.forward(cfg, W, ids, final_lora)
    loss_final = float(mf.causal_lm_loss(logits_final, labels))
    losses = [s["loss"] for s in steps]
    assert loss_final < losses[0] and losses[-1] < losses[0], (losses, loss_final)
    moved = max(float((final[k] - dora["tensors"][k]).abs().max()) for k in final if k.endswith("magnitude_vector"))
    assert moved > 1e-3, moved
    mf.log("%-18s max |adapter effect| %.3f; fresh adapter err %.1e" % (NAME, effect, e0))
    mf.log("  train: losses %s -> final %.6f; grad_norms %s" %
           (["%.6f" % x for x in losses], loss_final, ["%.4f" % s["grad_norm"] for s in steps]))

    mf.write_json(os.path.join(d, "expected.json"), {
        "ids": ids.tolist(),
        "labels": labels.tolist(),
        "logits_base": mf.to_list(logits_base),
        "logits_with_adapter_init": mf.to_list(logits_dora),
        "loss_with_adapter_init": float(loss0),
        "grads_init": grads_init,
        "hparams": hp,
        "train": {"accum1": {"grad_accum_steps": 1, "micro_batches": [[0, 1]], "steps": steps},
                  "accum2": {"grad_accum_steps": 2, "micro_batches": [[0], [1]], "steps": steps2}},
        "final": {k: mf.to_list(v) for k, v in sorted(final.items())},
        "loss_after_training": loss_final,
        "logits_after_training": mf.to_list(logits_final),
    })
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
    mf.log("total fixture bytes: %d" % total)
    assert total < 500_000


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
