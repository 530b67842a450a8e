#!/usr/bin/env bash
# Single-stream generation speed, golora against llama.cpp, on random float32
# weights of one shape: llama-bench's tg (tokens/s decoding N tokens after an
# empty prompt) on a GGUF that llama.cpp's gguf-py writes (tg.py), and the
# base_tokens_per_sec of `golora bench serve --clients 1` (serve's scheduler,
# greedy, one stream), in interleaved pairs on the same thread count.
#
#   bench/llamacpp/tg.sh [PAIRS] [CONFIG] [THREADS] [TOKENS]
#   (defaults: 3, the SmolLM-135M shape, 2, 64; LLAMA_CPP from $GOLORA_LLAMA_CPP)
#
# LLAMA_CPP is a llama.cpp source tree built with cmake into build/ with the
# llama-bench target. Needs a python3 with numpy ($PYTHON, default python3).
# $GOLORA_TG_PREFIX is put before both timed commands: on a machine shared
# with other jobs, GOLORA_TG_PREFIX="chrt -f 10" (as root) gives them the
# CPUs to themselves (llama.cpp's threads wait for each other spinning, and
# collapse when other processes take their CPUs). Each pair prints the
# 1-minute load average before it.
set -euo pipefail
cd "$(dirname "$0")/../.."
pairs=${1:-3} config=${2:-bench/pytorch/smollm135m.json} threads=${3:-2} tokens=${4:-64}
llama=${GOLORA_LLAMA_CPP:?set GOLORA_LLAMA_CPP to a built llama.cpp tree}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/golora" ./cmd/golora
"${PYTHON:-python3}" bench/llamacpp/tg.py "$config" "$tmp/m.gguf" "$llama"
bench=$(find "$llama/build" -name llama-bench -type f | head -1)
prefix=${GOLORA_TG_PREFIX:-}
for i in $(seq "$pairs"); do
	load=$(cut -d' ' -f1 /proc/loadavg)
	l=$($prefix "$bench" -m "$tmp/m.gguf" -p 0 -n "$tokens" -t "$threads" -r 3 -o json | python3 -c \
		'import json,sys; print([r["avg_ts"] for r in json.load(sys.stdin) if r["n_gen"] > 0][0])')
	g=$($prefix "$tmp/golora" bench serve --model-config "$config" --clients 1 --adapters 1 --max-tokens "$tokens" --threads "$threads" |
		grep -o '"base_tokens_per_sec":[0-9.e+-]*' | cut -d: -f2)
	echo "$l $g $load"
done | awk '
	{ r[NR] = $2 / $1; printf "pair %d (load %s): llama-bench tg %.1f tokens/s, golora %.1f tokens/s (%.2fx)\n", NR, $3, $1, $2, r[NR] }
	function median(v, n,   i, j, x) {
		for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j > 0 && v[j] > x; j--) v[j+1] = v[j]; v[j+1] = x }
		return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }
	END { printf "median golora/llama.cpp: %.2fx\n", median(r, NR) }'
