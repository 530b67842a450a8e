#!/usr/bin/env python3
"""Generates torch_fixture.json, the PyTorch reference for optim's tests.

Run from this directory with a Python that has torch and numpy:

    /usr/bin/python3 gen_torch_fixture.py > torch_fixture.json

It records
  * adamw:     torch.optim.AdamW updates of float32 params (sizes 1, 5 and 37, so
               both the scalar tail and the vectorised loop of torch's CPU kernels
               are exercised) over 6 steps with weight decay, the lr of each step
               coming from a LambdaLR linear warmup schedule (step 0 has lr 0);
               params, exp_avg and exp_avg_sq after every step;
  * schedules: the lr torch's LambdaLR hands the optimizer at steps 0..total+1
               for the transformers lambdas written out below;
  * clip:      torch.nn.utils.clip_grad_norm_ results (total norm and clipped
               grads) for several max_norm values.

The lambdas are those of transformers.optimization (get_constant_schedule_with_warmup,
get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup with
num_cycles=0.5), restated here so that transformers need not be installed.

float32 values are written as Python floats (shortest repr of the exact double),
which Go parses back to the identical float32.

Generated with torch 1.13 (Debian python3-torch, CPU capability AVX2). torch >= 2.0
computes the first moment with lerp_ instead of mul_/add_, which can move results
by an ulp; regenerate with 1.13 or loosen the tolerance in the Go test.
"""
import json
import math
import sys

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR


def warm(step, warmup):
    return float(step) / float(max(1, warmup))


def constant(warmup, total):
    def f(s):
        if s < warmup:
            return float(s) / float(max(1.0, warmup))
        return 1.0
    return f


def linear(warmup, total):
    def f(s):
        if s < warmup:
            return warm(s, warmup)
        return max(0.0, float(total - s) / float(max(1, total - warmup)))
    return f


def cosine(warmup, total, num_cycles=0.5):
    def f(s):
        if s < warmup:
            return warm(s, warmup)
        progress = float(s - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))
    return f


LAMBDAS = {"constant": constant, "linear": linear, "cosine": cosine}


def fl(t):
    return [float(x) for x in t.detach().numpy().astype(np.float32).tolist()]


def adamw_case(name, sizes, lr, betas, eps, wd, warmup, total, steps, seed):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(n, generator=g).requires_grad_(True) for n in sizes]
    init = [fl(p) for p in params]
    opt = torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    sched = LambdaLR(opt, LAMBDAS["linear"](warmup, total))
    out = []
    for k in range(steps):
        grads = []
        for p in params:
            scale = 10.0 ** float(torch.empty(1).uniform_(-4, 1, generator=g))
            gr = torch.randn(p.shape, generator=g) * scale
            if k == 2:
                gr[0] = 0.0  # a zero gradient element
            p.grad = gr.float()
            grads.append(fl(p.grad))
        used_lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        out.append({
            "lr": used_lr,
            "grads": grads,
            "params": [fl(p) for p in params],
            "exp_avg": [fl(opt.state[p]["exp_avg"]) for p in params],
            "exp_avg_sq": [fl(opt.state[p]["exp_avg_sq"]) for p in params],
        })
    return {"name": name, "beta1": betas[0], "beta2": betas[1], "eps": eps,
            "weight_decay": wd, "init": init, "steps": out}


def schedule_case(kind, base, warmup, total):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    sched = LambdaLR(opt, LAMBDAS[kind](warmup, total))
    lrs = []
    for _ in range(total + 2):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {"kind": kind, "base": base, "warmup": warmup, "total": total, "lrs": lrs}


def clip_case(max_norm, scale, seed):
    g = torch.Generator().manual_seed(seed)
    grads = [torch.randn(n, generator=g) * scale for n in (3, 40)]
    params = [torch.zeros(gr.shape, requires_grad=True) for gr in grads]
    for p, gr in zip(params, grads):
        p.grad = gr.clone()
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return {"max_norm": max_norm, "grads": [fl(gr) for gr in grads],
            "norm": float(norm), "clipped": [fl(p.grad) for p in params]}


def main():
    torch.set_num_threads(1)
    fixture = {
        "generator": "gen_torch_fixture.py",
        "torch_version": torch.__version__,
        "adamw": [
            adamw_case("default-betas", [1, 5, 37], 1e-2, (0.9, 0.999), 1e-8, 0.1, 2, 6, 6, 1),
            adamw_case("low-beta2", [4, 33], 3e-3, (0.8, 0.95), 1e-6, 0.01, 1, 6, 6, 2),
        ],
        "schedules": [
            schedule_case(kind, base, warmup, total)
            for kind in ("constant", "linear", "cosine")
            for base, warmup, total in ((2e-4, 3, 10), (1e-3, 0, 7), (5e-5, 6, 4))
        ],
        "clip": [
            clip_case(1.0, 1.0, 3),    # norm ~6.5: clipped
            clip_case(100.0, 1.0, 4),  # not clipped
            clip_case(0.5, 1e-3, 5),   # tiny grads, not clipped
            clip_case(0.25, 30.0, 6),  # large grads, clipped hard
        ],
    }
    json.dump(fixture, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
