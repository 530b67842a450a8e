#!/usr/bin/env bash
# Packing against one example per row, the figure the README quotes: real
# (non-pad) tokens/s of `golora bench train --example-len 40 --packing` over
# the same without --packing, on short examples (mean 40 tokens, a long tail)
# with --seq-len 512, run in interleaved pairs so that a noisy machine slows
# both sides of a pair alike.
#
#   bench/packing_pairs.sh [PAIRS] [CONFIG]      (defaults: 5, the SmolLM-135M shape)
#
# Prints each pair and the median ratio. Needs only Go and awk.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}
config=${2:-bench/pytorch/smollm135m.json}
bin=$(mktemp -d)/golora
go build -o "$bin" ./cmd/golora
# Batch 4 rows, r 8 on q, k, v, o; unpacked rows are padded to the longest example.
shape=(--model-config "$config" --steps 3 --batch-size 4 --seq-len 512 --example-len 40 --rank 8 --targets q_proj,k_proj,v_proj,o_proj)
field() { grep -o "\"$1\":[0-9.e+-]*" | cut -d: -f2; }
for i in $(seq "$pairs"); do
	u=$("$bin" bench train "${shape[@]}" 2>/dev/null | tail -1)
	p=$("$bin" bench train "${shape[@]}" --packing 2>/dev/null | tail -1)
	echo "$(echo "$u" | field tokens_per_sec) $(echo "$p" | field tokens_per_sec) $(echo "$u" | field row_len) $(echo "$p" | field tokens_per_step)"
done | awk '
	{ r[NR] = $2 / $1
	  printf "pair %d: %.0f real tokens/s unpacked (rows of %d), %.0f packed (%.0f real tokens per 4 rows of 512): %.2fx\n", NR, $1, $3, $2, $4, r[NR] }
	function median(a, n,   i, j, x) {
		for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
	END { printf "median packed/unpacked real tokens/s: %.2fx (target >= 3x)\n", median(r, NR) }'
