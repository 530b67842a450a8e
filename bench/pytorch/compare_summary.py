#!/usr/bin/python3
"""Tables of compare.sh: reads its results file (label, load, JSON per line) and
prints medians, ratios and fractions of the theoretical peak."""
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, load, js = line.rstrip("\n").split("\t", 2)
    runs.setdefault(label, []).append((float(load), json.loads(js)))


def median(rs, key):
    """The median run by key (the lower one of an even count); runs
    without key (a base binary that predates it) count as 0."""
    rs = sorted(rs, key=lambda r: r[1].get(key, 0))
    return rs[(len(rs) - 1) // 2][1]


loads = [l for rs in runs.values() for l, _ in rs]
gemm = [l for l in runs if l.startswith("gemm") and l.endswith("golora")]
if gemm:
    g0 = runs[gemm[0]][0][1]
    print()
    print(f"GEMM: threads {g0['threads']}, golora kernels {g0['kernels']}, {len(runs[gemm[0]])} interleaved round(s), "
          f"medians. Theoretical peak = threads × golora's measured clock (median of its runs) × "
          f"{g0['flops_per_cycle']} FLOP/cycle; clock: {g0['clock_method']}")
# gflops: over wall time; cpu_gflops: over the process's CPU time / threads
# (the same as gflops on an idle machine; on a shared one it leaves out the
# time the threads waited for a core).
for key, what in (("gflops", "wall time"), ("cpu_gflops", "CPU time / threads")):
    if not gemm or key not in runs[gemm[0]][0][1]:
        continue
    print()
    print(f"| GEMM, GFLOP/s over {what} | golora | golora-base | torch | golora/torch | base/torch | clock GHz | theoretical | golora fraction | base fraction | torch fraction |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label in gemm:
        base = label[: -len("golora")]
        g = median(runs[label], key)
        clock = statistics.median(r["clock_ghz"] for _, r in runs[label])
        peak = g["threads"] * clock * g["flops_per_cycle"]
        frac = lambda x: f"{x / peak:.3f}" if peak > 0 else ""
        gb = median(runs[base + "golora-base"], key).get(key) if base + "golora-base" in runs else None
        for side in ("torch", "torch-sysblas"):
            if base + side not in runs:
                continue
            t = median(runs[base + side], key).get(key)
            name = base.strip() + ("" if side == "torch" else " (system BLAS)")
            print(f"| {name} | {g[key]:.1f} | {'' if gb is None else f'{gb:.1f}'} | {t:.1f} | {g[key] / t:.2f}× | "
                  f"{'' if gb is None else f'{gb / t:.2f}×'} | {clock:.3f} | {peak:.1f} | {frac(g[key])} | "
                  f"{'' if gb is None else frac(gb)} | {frac(t)} |")
train = [l for l in runs if l.startswith("train")]
if train:
    print()
    print(f"| training 4×256, r=8 q,k,v,o ({len(runs[train[0]])} round(s), medians) | tokens/s | step s | peak RSS MiB | loss | "
          "mfu_theoretical | vs torch tokens/s | vs torch RSS | step vs golora lora |")
    print("|---|---|---|---|---|---|---|---|---|")
for label in train:
    r = median(runs[label], "tokens_per_sec")
    method = label.split()[1]
    # qlora (and qlora-keep, qlora without checkpointing) against the f32-base LoRA
    peer = "lora" if method.startswith("qlora") else method
    t = median(runs[f"train {peer} torch"], "tokens_per_sec") if f"train {peer} torch" in runs else None
    vs = ("%.2f×" % (r["tokens_per_sec"] / t["tokens_per_sec"]), "%.2f×" % (r["peak_rss_bytes"] / t["peak_rss_bytes"])) \
        if t is not None and not label.endswith("torch") else ("", "")
    mfu = f"{r['mfu_theoretical']:.3f}" if "mfu_theoretical" in r else ""
    lora = runs.get("train lora golora")
    step = "%.2f×" % (r["step_seconds"] / median(lora, "tokens_per_sec")["step_seconds"]) \
        if lora and method.startswith("qlora") and label.endswith("golora") else ""
    print(f"| {label} | {r['tokens_per_sec']:.1f} | {r['step_seconds']:.2f} | {r['peak_rss_bytes'] / 2**20:.0f} | "
          f"{r['final_loss']:.4f} | {mfu} | {vs[0]} | {vs[1]} | {step} |")
all_runs = [r for rs in runs.values() for _, r in rs]
torch_blas = next((r["blas"] for r in all_runs if "blas" in r and "openblas" in r["blas"]), None) \
    or next((r["blas"] for r in all_runs if "blas" in r), "")
torch_blas = ", ".join(p.rsplit("/", 1)[-1] for p in torch_blas.split(",") if "lapack" not in p)
coretype = f", OPENBLAS_CORETYPE={sys.argv[2]}" if sys.argv[2] else ""
print(f"\ntorch {next(r['torch_version'] for r in all_runs if 'torch_version' in r)}, BLAS {torch_blas}{coretype}; "
      f"qlora is compared with torch's f32-base LoRA (qlora-keep: --grad-checkpoint=false); 1-minute load average before the runs: "
      f"{min(loads)} to {max(loads)}")
