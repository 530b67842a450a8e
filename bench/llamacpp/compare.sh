#!/usr/bin/env bash
# golora against llama.cpp itself: for the tiny reference models of
# testdata/ref, the logits llama.cpp computes from `golora export gguf`'s f32
# GGUF against `golora logits` on the Hugging Face directory, and the logits
# llama.cpp computes with an exported LoRA GGUF applied (as --lora does)
# against `golora logits --adapter` with the PEFT adapter; and `golora logits`
# reading that GGUF (llama3_rope's rope_freqs.weight included) against llama.cpp.
# A Gemma 3 GGUF holds only the tokenizer's 16 tokens of the 64 embedding rows
# (export cuts the padding rows, as llama.cpp's converter does): its logits
# are compared over those.
#
#   bench/llamacpp/compare.sh [LLAMA_CPP]     (default $GOLORA_LLAMA_CPP)
#
# LLAMA_CPP is a llama.cpp source tree built with cmake into build/ (the
# llama target; libllama and ggml shared libraries under build/bin). The
# models get bench/llamacpp/tokenizer.json, a tiny SentencePiece-style
# tokenizer, since export writes one and llama.cpp needs one. logits.cpp is
# compiled against the tree. Prints, per case, max |Δlogit| / max |logit|
# over every position and token; exits non-zero when one exceeds 1e-4, or
# 5e-3 for the GELU models (gpt2, gemma): ggml's CPU GELU rounds its input
# to f16 and looks the result up in an f16 table (GGML_GELU_FP16 in
# ggml-cpu/vec.h), an error of up to 2^-11 relative per activation, which
# Gemma's soft-capping and norms after each block amplify. For
# each adapter it also prints how far the logits without it are, the size of
# what the check would miss if llama.cpp ignored the adapter.
#
# Then golora's llama-quantize mixtures, on random Llama and Qwen2 models
# (randmodel.py) of SmolLM-135M's widths (576, 1536: rows that are not whole
# 256-blocks) and of k-quant-friendly ones (512, 256): `export gguf --outtype
# q4_0` and `q4_k_m` against build/bin/llama-quantize (cmake --build build
# --target llama-quantize) run on golora's f32 export, every tensor's type
# and bytes and every metadata value (quantcmp.py); and the logits llama.cpp
# computes from golora's q4_k_m and q4_0 files against golora's own from the
# same files, within 5e-2: llama.cpp multiplies quantized weights by
# activations it rounds to 8 bits (Q8_K for the k-quants, Q8_0 for the
# others), golora by float32 activations. For scale it prints how far the
# quantized model's logits are from the f32 model's.
set -euo pipefail
cd "$(dirname "$0")/../.."
llama=${1:-${GOLORA_LLAMA_CPP:?give the llama.cpp tree as the argument or GOLORA_LLAMA_CPP}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/golora" ./cmd/golora
lib=$(dirname "$(find "$llama/build" -name 'libllama.so' | head -1)")
g++ -O2 -std=c++17 -I"$llama/include" -I"$llama/ggml/include" bench/llamacpp/logits.cpp \
	-L"$lib" -lllama -lggml -lggml-base -Wl,-rpath,"$lib" -o "$tmp/logits"
ids=(1 5 9 12 3 7 15 4 10 2 11 6 13 8 14 0)
csv=$(IFS=,; echo "${ids[*]}")
tol() { # case: the tolerance of its relative difference
	case $1 in
	gpt2* | gemma*) echo 5e-3 ;;
	*) echo 1e-4 ;;
	esac
}
compare() { # name golora.json llama.json tolerance|effect: with effect, only prints
	python3 - "$@" <<'PY'
import json, sys
name, a, b = sys.argv[1:4]
x = json.load(open(a))["logits"]
y = json.load(open(b))["logits"]
if name.startswith("model gemma3") and len(y[0]) < len(x[0]):  # export cut the padding rows past the tokenizer's ids
    x = [r[:len(y[0])] for r in x]
assert len(x) == len(y) and all(len(r) == len(s) for r, s in zip(x, y)), "shapes differ"
diff = max(abs(p - q) for r, s in zip(x, y) for p, q in zip(r, s))
scale = max(abs(p) for r in x for p in r)
rel = diff / scale
print(f"{name:50s} {len(x)} positions x {len(x[0])} tokens: max |dlogit| {diff:.3g}, max |logit| {scale:.3g}, relative {rel:.3g}")
sys.exit(0 if sys.argv[4] == "effect" or rel <= float(sys.argv[4]) else 1)
PY
}
status=0
model() { # case: copies testdata/ref/CASE with the tokenizer, exports it, sets $d and $gg
	d=$tmp/$1
	cp -r "testdata/ref/$1" "$d"
	cp bench/llamacpp/tokenizer.json "$d/"
	case $1 in
	gemma*) # llama.cpp scales Gemma's scores by 1/sqrt(head_dim), and its gemma2 ties lm_head:
		# the variant of the model it can run (the untied lm_head.weight is then unused)
		python3 - "$d/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["query_pre_attn_scalar"] = c["head_dim"]
c["tie_word_embeddings"] = True
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
		;;
	phi3*) # llama.cpp disables phi3's sliding window: the variant without one
		python3 - "$d/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["sliding_window"] = None
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
		;;
	esac
	gg=$tmp/$1.gguf
	"$tmp/golora" export gguf --model "$d" --out "$gg" --outtype f32 >/dev/null
}
for c in llama_f32 llama_bf16_tied mistral_f16_headdim llama3_rope qwen2_f32_bias qwen3_f32 gpt2_f32 gemma2_f32 gemma3_f32 phi3_f32 phi3_bf16_longrope; do
	model "$c"
	"$tmp/golora" logits --model "$d" --ids "$csv" >"$tmp/$c.golora.json"
	"$tmp/logits" "$gg" "${ids[@]}" >"$tmp/$c.llama.json"
	compare "model $c" "$tmp/$c.golora.json" "$tmp/$c.llama.json" "$(tol "$c")" || status=1
	"$tmp/golora" logits --model "$gg" --ids "$csv" >"$tmp/$c.golora-gguf.json"
	compare "model $c, golora reading the GGUF" "$tmp/$c.golora-gguf.json" "$tmp/$c.llama.json" "$(tol "$c")" || status=1
done
for base in lora_train qwen3_lora_train gpt2_lora_train gemma2_lora_train phi3_lora_train; do
	model "$base"
	"$tmp/golora" logits --model "$d" --ids "$csv" >"$tmp/base.golora.json"
	for a in adapter_init adapter_rslora_bf16; do
		n=$base.$a
		"$tmp/golora" export gguf --model "$d" --adapter "$d/$a" --out "$tmp/$n.gguf" --outtype f32 >/dev/null
		"$tmp/golora" logits --model "$d" --adapter "$d/$a" --ids "$csv" >"$tmp/$n.golora.json"
		"$tmp/logits" "$gg" --lora "$tmp/$n.gguf" "${ids[@]}" >"$tmp/$n.llama.json"
		compare "$base + $a" "$tmp/$n.golora.json" "$tmp/$n.llama.json" "$(tol "$base")" || status=1
		compare "(the adapter's own effect: without it)" "$tmp/base.golora.json" "$tmp/$n.llama.json" effect
	done
done
ggpy=$llama/gguf-py
for spec in "smollm llama 576 1536 4 9 3 64 1" "llama512 llama 512 1408 8 8 2 256 0" "qwen2_256 qwen2 256 768 4 4 2 64 1"; do
	set -- $spec
	c=$1
	d=$tmp/$c
	/usr/bin/python3 bench/llamacpp/randmodel.py "$d" "${@:2}" 1
	cp bench/llamacpp/tokenizer.json "$d/"
	"$tmp/golora" export gguf --model "$d" --out "$tmp/$c.f32.gguf" --outtype f32 >/dev/null
	"$tmp/golora" logits --model "$d" --ids "$csv" >"$tmp/$c.golora.json"
	for ft in q4_0 q4_k_m; do
		n=$c.$ft
		"$tmp/golora" export gguf --model "$d" --out "$tmp/$n.gguf" --outtype $ft >/dev/null
		"$llama/build/bin/llama-quantize" "$tmp/$c.f32.gguf" "$tmp/$n.llama-quantize.gguf" "${ft^^}" 1 >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
		PYTHONPATH=$ggpy /usr/bin/python3 bench/llamacpp/quantcmp.py "$n vs llama-quantize" "$tmp/$n.gguf" "$tmp/$n.llama-quantize.gguf" || status=1
		"$tmp/golora" logits --model "$tmp/$n.gguf" --ids "$csv" >"$tmp/$n.golora.json"
		"$tmp/logits" "$tmp/$n.gguf" "${ids[@]}" >"$tmp/$n.llama.json"
		compare "model $n" "$tmp/$n.golora.json" "$tmp/$n.llama.json" 5e-2 || status=1
		compare "(the quantization's own effect: f32 model)" "$tmp/$c.golora.json" "$tmp/$n.llama.json" effect
	done
done
exit $status
