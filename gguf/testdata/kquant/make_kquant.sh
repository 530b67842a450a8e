#!/bin/sh
# Builds make_kquant.c against llama.cpp's ggml (headers and
# libggml-base.so of a built llama.cpp tree) and writes kquant.bin.gz.
#
#   sh make_kquant.sh [LLAMA_CPP_DIR]    (default /work/llama.cpp)
#
# The Go tests read kquant.bin.gz; they need neither llama.cpp nor a C
# compiler.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
llama=${1:-/work/llama.cpp}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/make_kquant" "$here/make_kquant.c" -I"$llama/ggml/include" \
	-L"$llama/build/bin" -lggml-base -Wl,-rpath,"$llama/build/bin" -lm
"$tmp/make_kquant" "$tmp/kquant.bin"
gzip -9n -c "$tmp/kquant.bin" >"$here/kquant.bin.gz"
git -C "$llama" log -1 --format='llama.cpp %H' 2>/dev/null || true
