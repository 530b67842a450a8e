#!/usr/bin/env bash
# golora vs PyTorch 1.13 on the CPU, back to back in one session so the
# ratios are meaningful. Run from anywhere; see README.md beside this file.
#
# Environment:
#   STEPS=3          timed training steps (after one warm-up step)
#   THREADS=2        threads for both sides
#   PYTHON=/usr/bin/python3   the python that has torch 1.13
#   TORCH_BLAS=openblas  BLAS under torch: openblas (OpenBLAS 0.3.21, OpenMP
#                    build, unpacked from Debian's libopenblas0-openmp into
#                    $OPENBLAS_DIR, nothing installed) or system (whatever
#                    libblas.so.3 resolves to; on this machine the netlib
#                    reference BLAS, single-threaded and ~3.5 GFLOP/s)
#   SYSTEM_GEMM=1    also time torch.matmul on the system BLAS (info rows)
#   CONFIG=bench/pytorch/smollm135m.json  model shape (HF config.json)
#   FULL=1           also compare full fine-tuning (needs ~3 GB per side)
#   MAX_LOAD=1.5 WAIT_MAX=600   wait (at most WAIT_MAX s) for the 1-minute
#                    load average to drop below MAX_LOAD before each run
set -euo pipefail

cd "$(dirname "$0")/../.."
STEPS=${STEPS:-3}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_BLAS=${TORCH_BLAS:-openblas}
SYSTEM_GEMM=${SYSTEM_GEMM:-1}
FULL=${FULL:-1}
MAX_LOAD=${MAX_LOAD:-1.5}
WAIT_MAX=${WAIT_MAX:-600}
OPENBLAS_DIR=${OPENBLAS_DIR:-/tmp/golora-bench-openblas}
CONFIG=${CONFIG:-bench/pytorch/smollm135m.json}
BIN=${GOLORA_BIN:-/tmp/golora}
RESULTS=$(mktemp /tmp/golora-compare.XXXXXX)

echo "# building $BIN" >&2
go build -o "$BIN" ./cmd/golora

torch_env=()
if [[ $TORCH_BLAS == openblas ]]; then
  libdir=$OPENBLAS_DIR/usr/lib/x86_64-linux-gnu/openblas-openmp
  if [[ ! -e $libdir/libblas.so.3 ]]; then
    echo "# unpacking libopenblas0-openmp into $OPENBLAS_DIR (apt-get download + dpkg -x; nothing installed)" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download libopenblas0-openmp >/dev/null 2>&1) || true
    if compgen -G "$tmp/libopenblas0-openmp_*.deb" >/dev/null; then
      dpkg -x "$tmp"/libopenblas0-openmp_*.deb "$OPENBLAS_DIR"
    fi
    rm -rf "$tmp"
  fi
  if [[ -e $libdir/libblas.so.3 ]]; then
    torch_env=(env "LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  else
    echo "# WARNING: no OpenBLAS (apt-get download failed); torch uses the system BLAS" >&2
    TORCH_BLAS=system
  fi
fi

wait_quiet() {
  local waited=0 load
  while :; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" -v m="$MAX_LOAD" 'BEGIN{exit !(l < m)}'; then break; fi
    if (( waited >= WAIT_MAX )); then
      echo "# load $load still >= $MAX_LOAD after ${waited}s: measuring anyway" >&2
      break
    fi
    sleep 15; waited=$((waited + 15))
  done
  cut -d' ' -f1 /proc/loadavg
}

# run LABEL COMMAND...: prints and records the command's JSON line.
run() {
  local label=$1; shift
  local load; load=$(wait_quiet)
  echo "# [$label] load $load: $*" >&2
  local out; out=$("$@" | tail -n 1)
  echo "$out"
  printf '%s\t%s\t%s\n' "$label" "$load" "$out" >>"$RESULTS"
}

for shape in "1024 1536 576 nn" "1024 576 1536 nt" "576 1536 1024 tn"; do
  read -r m n k t <<<"$shape"
  run "gemm $m×$n×$k $t golora" "$BIN" bench gemm --m "$m" --n "$n" --k "$k" --trans "$t" --threads "$THREADS"
  run "gemm $m×$n×$k $t torch" "${torch_env[@]}" "$PYTHON" bench/pytorch/matmul.py --m "$m" --n "$n" --k "$k" --trans "$t" --threads "$THREADS"
  if [[ $SYSTEM_GEMM == 1 && $TORCH_BLAS != system ]]; then
    run "gemm $m×$n×$k $t torch-sysblas" "$PYTHON" bench/pytorch/matmul.py --m "$m" --n "$n" --k "$k" --trans "$t" --threads "$THREADS"
  fi
done

common=(--model-config "$CONFIG" --batch-size 4 --seq-len 256 --steps "$STEPS" --rank 8
  --targets q_proj,k_proj,v_proj,o_proj --threads "$THREADS")
run "train lora golora" "$BIN" bench train "${common[@]}" --method lora
run "train lora torch" "${torch_env[@]}" "$PYTHON" bench/pytorch/lora_train.py "${common[@]}" --method lora
run "train qlora golora" "$BIN" bench train "${common[@]}" --method qlora
if [[ $FULL == 1 ]]; then
  run "train full golora" "$BIN" bench train "${common[@]}" --method full
  run "train full torch" "${torch_env[@]}" "$PYTHON" bench/pytorch/lora_train.py "${common[@]}" --method full
fi

"$PYTHON" - "$RESULTS" <<'EOF'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    label, load, js = line.rstrip("\n").split("\t", 2)
    rows[label] = (float(load), json.loads(js))
print()
print("| GEMM (threads %s) | golora GFLOP/s | torch GFLOP/s | golora/torch |" % next(iter(rows.values()))[1].get("threads"))
print("|---|---|---|---|")
for label, (load, g) in rows.items():
    if label.startswith("gemm") and label.endswith("golora"):
        base = label[: -len("golora")]
        for side in ("torch", "torch-sysblas"):
            if base + side in rows:
                t = rows[base + side][1]
                name = base.strip() + ("" if side == "torch" else " (system BLAS)")
                print(f"| {name} | {g['gflops']:.1f} | {t['gflops']:.1f} | {g['gflops'] / t['gflops']:.2f}× |")
print()
print("| training 4×256, r=8 q,k,v,o | tokens/s | step s | peak RSS MiB | loss | vs torch tokens/s | vs torch RSS |")
print("|---|---|---|---|---|---|---|")
for label, (load, r) in rows.items():
    if not label.startswith("train"):
        continue
    method = label.split()[1]
    t = rows.get(f"train {method} torch", (0, None))[1]
    if t is None and method == "qlora":
        t = rows.get("train lora torch", (0, None))[1]
    vs = ("%.2f×" % (r["tokens_per_sec"] / t["tokens_per_sec"]), "%.2f×" % (r["peak_rss_bytes"] / t["peak_rss_bytes"])) \
        if t is not None and not label.endswith("torch") else ("", "")
    print(f"| {label} | {r['tokens_per_sec']:.1f} | {r['step_seconds']:.2f} | {r['peak_rss_bytes'] / 2**20:.0f} | "
          f"{r['final_loss']:.4f} | {vs[0]} | {vs[1]} |")
torch_blas = next((r["blas"] for _, r in rows.values() if "blas" in r and "openblas" in r["blas"]), None) \
    or next((r["blas"] for _, r in rows.values() if "blas" in r), "")
torch_blas = ", ".join(p.rsplit("/", 1)[-1] for p in torch_blas.split(",") if "lapack" not in p)
print(f"\ntorch {next(r['torch_version'] for _, r in rows.values() if 'torch_version' in r)}, BLAS {torch_blas}; "
      f"qlora is compared with torch's f32-base LoRA; 1-minute load average before the runs: "
      f"{min(l for l, _ in rows.values())} to {max(l for l, _ in rows.values())}")
EOF
rm -f "$RESULTS"
