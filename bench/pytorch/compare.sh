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
#                    $OPENBLAS_DIR, nothing installed), openblas-pthread (its
#                    pthreads build, libopenblas0-pthread: torch's OpenMP
#                    threads and OpenBLAS's own then oversubscribe the cores
#                    and training runs 2.4-4x slower; for reproducing figures
#                    taken on such an install) or system (whatever
#                    libblas.so.3 resolves to; on this machine the netlib
#                    reference BLAS, single-threaded and ~3.5 GFLOP/s)
#   SYSTEM_GEMM=1    also time torch.matmul on the system BLAS (info rows)
#   CONFIG=bench/pytorch/smollm135m.json  model shape (HF config.json)
#   FULL=1           also compare full fine-tuning (needs ~3 GB per side)
#   TRAIN=1          0: the GEMM rows only
#   REPEAT=1         rounds of the GEMM rows, interleaved (golora, base, torch,
#                    next shape, ...), then as many rounds of the training
#                    rows (golora lora, torch lora, golora qlora, ...); the
#                    tables show each side's median
#   KERNELS=         golora's kernel set (--kernels avx512|avx2|go; default
#                    the best the CPU runs). OpenBLAS is held to the same
#                    instruction set unless OPENBLAS_CORETYPE is set: Haswell
#                    (AVX2) for avx2, as on an AVX2-only CPU, SkylakeX
#                    (AVX-512) for avx512 (OpenBLAS 0.3.21 does not know
#                    Sapphire Rapids and would fall back to older kernels)
#   GOLORA_BASE_BIN= a second golora binary (e.g. built from an earlier
#                    commit) timed in the same rounds, as "golora-base"
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
TRAIN=${TRAIN:-1}
REPEAT=${REPEAT:-1}
KERNELS=${KERNELS:-}
BASE_BIN=${GOLORA_BASE_BIN:-}
BIN=${GOLORA_BIN:-/tmp/golora}
RESULTS=$(mktemp /tmp/golora-compare.XXXXXX)

echo "# building $BIN" >&2
go build -o "$BIN" ./cmd/golora

torch_env=(env)
if [[ $TORCH_BLAS == openblas || $TORCH_BLAS == openblas-pthread ]]; then
  flavour=openmp
  [[ $TORCH_BLAS == openblas-pthread ]] && flavour=pthread
  libdir=$OPENBLAS_DIR/usr/lib/x86_64-linux-gnu/openblas-$flavour
  if [[ ! -e $libdir/libblas.so.3 ]]; then
    echo "# unpacking libopenblas0-$flavour into $OPENBLAS_DIR (apt-get download + dpkg -x; nothing installed)" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download "libopenblas0-$flavour" >/dev/null 2>&1) || true
    if compgen -G "$tmp/libopenblas0-${flavour}_*.deb" >/dev/null; then
      dpkg -x "$tmp"/libopenblas0-"$flavour"_*.deb "$OPENBLAS_DIR"
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

golora_flags=()
if [[ -n $KERNELS ]]; then
  golora_flags=(--kernels "$KERNELS")
  if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
    case $KERNELS in
      avx2) export OPENBLAS_CORETYPE=Haswell ;;
      avx512) export OPENBLAS_CORETYPE=SkylakeX ;;
    esac
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

for ((round = 1; round <= REPEAT; round++)); do
  for shape in "1024 1536 576 nn" "1024 576 1536 nt" "576 1536 1024 tn"; do
    read -r m n k t <<<"$shape"
    gemm=(bench gemm --m "$m" --n "$n" --k "$k" --trans "$t" --threads "$THREADS" "${golora_flags[@]}")
    run "gemm $m×$n×$k $t golora" "$BIN" "${gemm[@]}"
    if [[ -n $BASE_BIN ]]; then
      run "gemm $m×$n×$k $t golora-base" "$BASE_BIN" "${gemm[@]}"
    fi
    run "gemm $m×$n×$k $t torch" "${torch_env[@]}" "$PYTHON" bench/pytorch/matmul.py --m "$m" --n "$n" --k "$k" --trans "$t" --threads "$THREADS"
    if [[ $SYSTEM_GEMM == 1 && $TORCH_BLAS != system ]]; then
      run "gemm $m×$n×$k $t torch-sysblas" "$PYTHON" bench/pytorch/matmul.py --m "$m" --n "$n" --k "$k" --trans "$t" --threads "$THREADS"
    fi
  done
done

common=(--model-config "$CONFIG" --batch-size 4 --seq-len 256 --steps "$STEPS" --rank 8
  --targets q_proj,k_proj,v_proj,o_proj --threads "$THREADS")
for ((round = 1; round <= REPEAT && TRAIN == 1; round++)); do
  run "train lora golora" "$BIN" bench train "${common[@]}" "${golora_flags[@]}" --method lora
  run "train lora torch" "${torch_env[@]}" "$PYTHON" bench/pytorch/lora_train.py "${common[@]}" --method lora
  # qlora checkpoints by default (golora train's rule for quantized bases);
  # the second row is the same activation policy as lora's, so the ratio of
  # the two qlora rows to lora's separates the 4-bit cost from the recompute.
  run "train qlora golora" "$BIN" bench train "${common[@]}" "${golora_flags[@]}" --method qlora
  run "train qlora-keep golora" "$BIN" bench train "${common[@]}" "${golora_flags[@]}" --method qlora --grad-checkpoint=false
  if [[ $FULL == 1 ]]; then
    run "train full golora" "$BIN" bench train "${common[@]}" "${golora_flags[@]}" --method full
    run "train full torch" "${torch_env[@]}" "$PYTHON" bench/pytorch/lora_train.py "${common[@]}" --method full
  fi
done

"$PYTHON" bench/pytorch/compare_summary.py "$RESULTS" "${OPENBLAS_CORETYPE:-}"
rm -f "$RESULTS"
