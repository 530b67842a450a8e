#!/usr/bin/env bash
# bench/pairs.sh for a crowded machine: two variants of `golora bench train`
# in interleaved pairs, compared by the CPU time of their timed steps (the
# total samples of a --cpuprofile) beside the wall-clock step time,
# since other processes stretch wall time far more than CPU time.
#
#   bench/cpupairs.sh PAIRS "A FLAGS" "B FLAGS" [FLAGS FOR BOTH...]
#
# Prints each pair and the medians of the B/A ratios. Needs Go and awk.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=$1 a=$2 b=$3
shift 3
dir=$(mktemp -d)
bin=$dir/golora
go build -o "$bin" ./cmd/golora
field() { grep -o "\"$1\":[0-9.e+-]*" | cut -d: -f2; }
# run FLAGS...: step seconds, peak RSS bytes and the CPU seconds of the
# timed steps
run() {
	local r cpu
	r=$("$bin" bench train --cpuprofile "$dir/cpu.prof" "$@" 2>/dev/null | tail -1)
	cpu=$(go tool pprof -top "$bin" "$dir/cpu.prof" 2>/dev/null | grep -o 'Total samples = [0-9.]*m*s' | awk '{ v = $4; if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else sub(/s$/, "", v); print v }')
	echo "$(echo "$r" | field step_seconds) $(echo "$r" | field peak_rss_bytes) $cpu"
}
for i in $(seq "$pairs"); do
	# shellcheck disable=SC2086 # A and B are lists of flags
	ra=$(run $a "$@")
	# shellcheck disable=SC2086
	rb=$(run $b "$@")
	echo "$ra $rb"
done | awk -v a="$a" -v b="$b" '
	{ t[NR] = $4 / $1; m[NR] = $5 / $2; c[NR] = $6 / $3
	  printf "pair %d: step %.3f s, %.3f s (%.2fx); CPU %.2f s, %.2f s (%.2fx); peak RSS %.0f MB, %.0f MB (%.2fx)\n", NR, $1, $4, t[NR], $3, $6, c[NR], $2/1e6, $5/1e6, m[NR] }
	function median(v, n,   i, j, x) {
		for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j > 0 && v[j] > x; j--) v[j+1] = v[j]; v[j+1] = x }
		return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }
	END { printf "A: %s\nB: %s\nmedian B/A: step %.2fx, CPU %.2fx, peak RSS %.2fx\n", a, b, median(t, NR), median(c, NR), median(m, NR) }'
