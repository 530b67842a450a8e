#!/usr/bin/env bash
# QLoRA against f32 LoRA, the two figures the README quotes: step time and peak
# RSS of `golora bench train --method qlora` over `--method lora`
# (bench/pairs.sh runs them in interleaved pairs and prints the medians).
#
#   bench/qlora_pairs.sh [PAIRS] [CONFIG]      (defaults: 8, the SmolLM-135M shape)
#
# Targets: step <= 1.3x, peak RSS <= 0.35x.
set -euo pipefail
cd "$(dirname "$0")/.."
# The shape the README's numbers are for: batch 4 × 256 tokens, r 8 on q, k, v, o.
exec bench/pairs.sh "${1:-8}" "--method lora" "--method qlora" --model-config "${2:-bench/pytorch/smollm135m.json}" \
	--steps 3 --batch-size 4 --seq-len 256 --rank 8 --targets q_proj,k_proj,v_proj,o_proj
