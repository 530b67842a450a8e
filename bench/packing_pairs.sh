#!/usr/bin/env bash
# Packing against one example per row, the figure the README quotes: real
# (non-pad) tokens/s of `golora bench train --example-len 40 --packing` over
# the same without --packing, on short examples (mean 40 tokens, a long tail)
# with --seq-len 512 (bench/pairs.sh runs them in interleaved pairs and
# prints the medians: the tokens/s ratio is the figure).
#
#   bench/packing_pairs.sh [PAIRS] [CONFIG]      (defaults: 5, the SmolLM-135M shape)
#
# Target: tokens/s >= 3x. Unpacked rows are padded to the longest example.
set -euo pipefail
cd "$(dirname "$0")/.."
# Batch 4 rows, r 8 on q, k, v, o.
exec bench/pairs.sh "${1:-5}" "" "--packing" --model-config "${2:-bench/pytorch/smollm135m.json}" \
	--steps 3 --batch-size 4 --seq-len 512 --example-len 40 --rank 8 --targets q_proj,k_proj,v_proj,o_proj
