#!/usr/bin/env bash
# QLoRA against f32 LoRA, the two figures the README quotes: step time and peak
# RSS of `golora bench train --method qlora` over `--method lora`, run in
# interleaved pairs so that a noisy machine slows both sides of a pair alike.
#
#   bench/qlora_pairs.sh [PAIRS] [CONFIG]      (defaults: 8, the SmolLM-135M shape)
#
# Prints each pair and the median ratios. Needs only Go and awk.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-8}
config=${2:-bench/pytorch/smollm135m.json}
bin=$(mktemp -d)/golora
go build -o "$bin" ./cmd/golora
# The shape the README's numbers are for: batch 4 × 256 tokens, r 8 on q, k, v, o.
shape=(--model-config "$config" --steps 3 --batch-size 4 --seq-len 256 --rank 8 --targets q_proj,k_proj,v_proj,o_proj)
field() { grep -o "\"$1\":[0-9.e+-]*" | cut -d: -f2; }
for i in $(seq "$pairs"); do
	l=$("$bin" bench train "${shape[@]}" --method lora 2>/dev/null | tail -1)
	q=$("$bin" bench train "${shape[@]}" --method qlora 2>/dev/null | tail -1)
	echo "$(echo "$l" | field step_seconds) $(echo "$q" | field step_seconds) $(echo "$l" | field peak_rss_bytes) $(echo "$q" | field peak_rss_bytes)"
done | awk '
	{ t[NR] = $2 / $1; m[NR] = $4 / $3
	  printf "pair %d: step %.3f s lora, %.3f s qlora (%.2fx); peak RSS %.0f MB, %.0f MB (%.2fx)\n", NR, $1, $2, t[NR], $3/1e6, $4/1e6, m[NR] }
	function median(a, n,   i, j, x) {
		for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
	END { printf "median qlora/lora: step %.2fx (target <= 1.3x), peak RSS %.2fx (target <= 0.35x)\n", median(t, NR), median(m, NR) }'
