#!/usr/bin/env python3
"""Reference fixture for golora's preference training (DPO, ORPO).

An independent float64 PyTorch implementation of TRL's DPOTrainer (loss_type
"sigmoid", with label smoothing; the reference is the base model with the
adapter switched off, or a second adapter) and ORPOTrainer, trained with
torch.optim.AdamW, clip_grad_norm_ and transformers' linear schedule as the
Hugging Face Trainer does with gradient accumulation (each micro-batch's loss
divided by the accumulation steps).  Per-sequence log-probabilities are those
of TRL's get_batch_logps: position t scores labels[t+1], -100 masked; summed
over the completion for DPO, averaged for ORPO (average_log_prob=True).

Writes testdata/ref/preference/: a tiny Llama model directory, adapter_init/
(the adapter trained), adapter_ref/ (a reference adapter) and expected.json
(the pairs, and for each case the loss, gradient norm and TRL metrics of every
step and the adapter after the last step).  The model, the adapters and the
forward pass come from make_fixtures.py.

Run from anywhere:  /usr/bin/python3 testdata/ref/make_preference.py
Deterministic (numpy RandomState, single-threaded float64, sorted JSON keys).
"""

import os
import sys

sys.dont_write_bytecode = True  # importing make_fixtures leaves nothing behind

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from make_fixtures import (HERE, PEFT_CONFIG_DEFAULTS, base_config, forward, linear_schedule_with_warmup, log,
                           make_adapter, make_model_dir, to_list, write_json)  # noqa: E402

NAME = "preference"


def make_pairs(rng, V, shapes):
    """Pairs of (ids, labels) sides sharing a prompt; labels mask the prompt."""
    pairs = []
    for p, c, r in shapes:
        prompt = rng.randint(3, V, size=p).tolist()
        sides = []
        for n in (c, r):
            comp = rng.randint(3, V, size=n).tolist() + [2]  # the completion, then EOS (id 2)
            ids = prompt + comp
            sides.append({"ids": ids, "labels": [-100] * p + comp})
        pairs.append({"chosen": sides[0], "rejected": sides[1]})
    return pairs


def seq_logp(cfg, W, lora, side):
    """TRL get_batch_logps of one sequence: (Σ log p of the completion's
    targets, their count), and the same over every target of the sequence
    (ORPO's NLL term scores the chosen input_ids, prompt included)."""
    ids = torch.tensor([side["ids"]])
    labels = torch.tensor(side["labels"][1:])
    logits = forward(cfg, W, ids, lora)[0, :-1]
    mask = labels != -100
    lp = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None])[:, 0]
    return (lp * mask).sum(), int(mask.sum()), lp.sum(), lp.numel()


def micro_loss(case, cfg, W, lora, ref_lora, pairs):
    """TRL's loss of one micro-batch, and its per-pair metric values."""
    pc, pr, nc, nr, full, nfull = [], [], [], [], [], 0
    for p in pairs:
        s, n, fs, fn = seq_logp(cfg, W, lora, p["chosen"])
        pc.append(s)
        nc.append(n)
        full.append(fs)
        nfull += fn
        s, n, _, _ = seq_logp(cfg, W, lora, p["rejected"])
        pr.append(s)
        nr.append(n)
    pc, pr = torch.stack(pc), torch.stack(pr)
    m = {}
    if case["method"] == "dpo":
        beta, eps = case["beta"], case["label_smoothing"]
        with torch.no_grad():
            rc = torch.stack([seq_logp(cfg, W, ref_lora, p["chosen"])[0] for p in pairs])
            rr = torch.stack([seq_logp(cfg, W, ref_lora, p["rejected"])[0] for p in pairs])
        logits = (pc - pr) - (rc - rr)
        losses = -F.logsigmoid(beta * logits) * (1 - eps) - F.logsigmoid(-beta * logits) * eps
        loss = losses.mean()
        chosen_r, rejected_r = beta * (pc - rc).detach(), beta * (pr - rr).detach()
        lpc, lpr = pc.detach(), pr.detach()
    else:
        lam = case["lambda"]
        # nn.CrossEntropyLoss over the chosen sequences' input_ids (the
        # prompt too), mean over the micro-batch's targets
        nll = -torch.stack(full).sum() / nfull
        lpc = pc / torch.tensor(nc, dtype=pc.dtype)
        lpr = pr / torch.tensor(nr, dtype=pr.dtype)
        log_odds = (lpc - lpr) - (torch.log1p(-torch.exp(lpc)) - torch.log1p(-torch.exp(lpr)))
        ratio = F.logsigmoid(log_odds)
        loss = nll - (lam * ratio).mean()
        chosen_r, rejected_r = lam * lpc.detach(), lam * lpr.detach()
        lpc, lpr = lpc.detach(), lpr.detach()
        m["log_odds_ratio"] = ratio.detach().tolist()
        m["log_odds_chosen"] = log_odds.detach().tolist()
        m["nll_loss"] = [float(nll)]
    m["rewards/chosen"] = chosen_r.tolist()
    m["rewards/rejected"] = rejected_r.tolist()
    m["rewards/accuracies"] = (chosen_r > rejected_r).double().tolist()
    m["rewards/margins"] = (chosen_r - rejected_r).tolist()
    m["logps/chosen"] = lpc.tolist()
    m["logps/rejected"] = lpr.tolist()
    return loss, m


def run_case(case, cfg, W, lora_init, ref_lora, pairs, hp):
    keys = sorted(lora_init["tensors"])
    params = {k: torch.nn.Parameter(lora_init["tensors"][k].clone()) for k in keys}
    plist = [params[k] for k in keys]
    opt = torch.optim.AdamW(plist, lr=hp["lr"], betas=tuple(hp["betas"]), eps=hp["eps"],
                            weight_decay=hp["weight_decay"], foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule_with_warmup(hp["warmup_steps"], case["steps"]))
    lora = {"scale": lora_init["scale"], "tensors": params}
    B, GA = case["batch"], case["accum"]
    steps = []
    for k in range(case["steps"]):
        lr = opt.param_groups[0]["lr"]
        opt.zero_grad(set_to_none=True)
        total, metrics = 0.0, {}
        for micro in range(GA):
            idx = [(k * B * GA + micro * B + b) % len(pairs) for b in range(B)]
            loss, m = micro_loss(case, cfg, W, lora, ref_lora, [pairs[i] for i in idx])
            (loss / GA).backward()
            total += float(loss) / GA
            for name, v in m.items():
                metrics.setdefault(name, []).extend(v)
        gn = float(torch.nn.utils.clip_grad_norm_(plist, hp["max_grad_norm"]))
        opt.step()
        sched.step()
        st = {"step": k, "lr": lr, "loss": total, "grad_norm": gn}
        st.update({name: float(np.mean(v)) for name, v in metrics.items()})
        steps.append(st)
    return steps, {k: to_list(params[k].detach()) for k in keys}


def main():
    torch.manual_seed(0)
    cfg = base_config(num_hidden_layers=2)
    d, W = make_model_dir(NAME, cfg, seed=1300, head_std=0.1)
    base = "golora-ref/" + NAME
    pc = dict(PEFT_CONFIG_DEFAULTS, base_model_name_or_path=base, target_modules=["q_proj", "v_proj"])
    lora_init = make_adapter(os.path.join(d, "adapter_init"), cfg, W, pc, 1301, "F32", 0.1, 0.1)
    pr = dict(PEFT_CONFIG_DEFAULTS, base_model_name_or_path=base, r=2, lora_alpha=4,
              target_modules=["o_proj", "up_proj"])
    lora_ref = make_adapter(os.path.join(d, "adapter_ref"), cfg, W, pr, 1302, "F32", 0.2, 0.2)
    rng = np.random.RandomState(1303)
    # (prompt, chosen, rejected) lengths before EOS: unequal, so padding and
    # per-token means matter.
    pairs = make_pairs(rng, cfg["vocab_size"], [(3, 4, 2), (5, 2, 5), (2, 6, 3), (4, 3, 3)])
    hp = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "max_grad_norm": 1.0,
          "warmup_steps": 1, "scheduler": "linear (transformers get_linear_schedule_with_warmup)",
          "compute_dtype": "float64"}
    cases = {
        "dpo": {"method": "dpo", "beta": 0.1, "label_smoothing": 0.0, "batch": 2, "accum": 1, "steps": 4},
        "dpo_smooth_accum": {"method": "dpo", "beta": 0.5, "label_smoothing": 0.1, "batch": 1, "accum": 2,
                             "steps": 4},
        "dpo_ref_adapter": {"method": "dpo", "beta": 0.2, "label_smoothing": 0.0, "batch": 2, "accum": 1,
                            "steps": 3, "ref_adapter": "adapter_ref"},
        "orpo": {"method": "orpo", "lambda": 1.0, "batch": 2, "accum": 2, "steps": 3},
    }
    out = {"pairs": pairs, "hparams": hp, "cases": {}}
    for name, case in sorted(cases.items()):
        ref = lora_ref if case.get("ref_adapter") else None
        steps, final = run_case(case, cfg, W, lora_init, ref, pairs, hp)
        losses = [s["loss"] for s in steps]
        log("%-18s losses %s grad_norms %s" % (name, ["%.6f" % x for x in losses],
                                               ["%.4f" % s["grad_norm"] for s in steps]))
        assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
        out["cases"][name] = dict(case, steps=steps, final=final)
    write_json(os.path.join(d, "expected.json"), out)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
    log("total fixture bytes: %d" % total)
    assert total < 400_000


if __name__ == "__main__":
    main()
