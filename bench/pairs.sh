#!/usr/bin/env bash
# Two variants of `golora bench train` against each other, run in interleaved
# pairs so that a noisy machine slows both sides of a pair alike: step time,
# (real) tokens/s, peak RSS, and how close `golora mem`'s prediction (predicted_bytes) came to
# each side's measured peak RSS.
#
#   bench/pairs.sh PAIRS "A FLAGS" "B FLAGS" [FLAGS FOR BOTH...]
#
# e.g. bench/pairs.sh 5 "--dtype float32" "--dtype bfloat16" --model-config m.json
# Prints each pair and the medians of the B/A ratios. Needs only Go and awk.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=$1 a=$2 b=$3
shift 3
bin=$(mktemp -d)/golora
go build -o "$bin" ./cmd/golora
field() { grep -o "\"$1\":[0-9.e+-]*" | cut -d: -f2; }
run() { "$bin" bench train "$@" 2>/dev/null | tail -1; }
for i in $(seq "$pairs"); do
	# shellcheck disable=SC2086 # A and B are lists of flags
	ra=$(run $a "$@")
	# shellcheck disable=SC2086
	rb=$(run $b "$@")
	for r in "$ra" "$rb"; do
		echo -n "$(echo "$r" | field step_seconds) $(echo "$r" | field peak_rss_bytes) $(echo "$r" | field predicted_bytes) $(echo "$r" | field tokens_per_sec) "
	done
	echo
done | awk -v a="$a" -v b="$b" '
	{ t[NR] = $5 / $1; m[NR] = $6 / $2; pa[NR] = $3 / $2; pb[NR] = $7 / $6; k[NR] = $8 / $4
	  printf "pair %d: step %.3f s, %.3f s (%.2fx); tokens/s %.1f, %.1f (%.2fx); peak RSS %.0f MB, %.0f MB (%.2fx); predicted/measured %.3f, %.3f\n", NR, $1, $5, t[NR], $4, $8, k[NR], $2/1e6, $6/1e6, m[NR], pa[NR], pb[NR] }
	function median(v, n,   i, j, x) {
		for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j > 0 && v[j] > x; j--) v[j+1] = v[j]; v[j+1] = x }
		return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }
	END { printf "A: %s\nB: %s\nmedian B/A: step %.2fx, tokens/s %.2fx, peak RSS %.2fx; median predicted/measured: A %.3f, B %.3f\n", a, b, median(t, NR), median(k, NR), median(m, NR), median(pa, NR), median(pb, NR) }'
