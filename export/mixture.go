package export

import (
	"strconv"
	"strings"

	"github.com/golora/golora/gguf"
)

// mixture chooses each tensor's type in a whole model written as one of
// llama-quantize's file types (no importance matrix, no overrides): what
// llama_tensor_get_type in llama.cpp's src/llama-quant.cpp gives for the
// families golora exports (no experts, not Falcon). base is the file
// type's default type: Q4_0 for LLAMA_FTYPE_MOSTLY_Q4_0, Q4_K for
// LLAMA_FTYPE_MOSTLY_Q4_K_M.
type mixture struct {
	base   gguf.Type
	tied   bool // no output.weight: token_embd.weight is also the output
	layers int  // block_count
	attnV  int  // attn_v and attn_qkv tensors (llama.cpp's n_attention_wv)
	big    bool // a 70B (80 layers, llama with GQA or qwen2): attn_v gets more bits
}

// newMixture is the mixture of base for a model of the given architecture,
// block count and attention heads, with the tensors named names.
func newMixture(base gguf.Type, arch string, layers, heads, kvHeads int, names []string) mixture {
	mx := mixture{base: base, tied: true, layers: layers,
		big: layers == 80 && (arch == "llama" && heads != kvHeads || arch == "qwen2")}
	for _, n := range names {
		switch {
		case n == "output.weight":
			mx.tied = false
		case strings.HasSuffix(n, "attn_v.weight") || strings.HasSuffix(n, "attn_qkv.weight"):
			mx.attnV++
		}
	}
	return mx
}

// typeOf is the type llama-quantize gives the tensor name of shape
// [rows, cols] (cols = ne[0], the row length). It keeps some tensors as
// they are, F32 in golora's files: tensors of fewer than two dimensions,
// names not ending in "weight", norms and position_embd.weight. The others
// get, from base:
//
//	output.weight (token_embd.weight when tied)  Q8_0 when cols is not a
//	    multiple of base's block size, else Q6_K
//	attn_v, attn_qkv of layer i  Q6_K when Q4_K_M and useMoreBits(i, n),
//	    n the count of those tensors; Q5_K for a 70B's others
//	ffn_down of layer i  Q6_K when Q4_K_M and useMoreBits(i, block_count)
//
// and then the fallback of a type whose blocks do not tile a row: Q4_K →
// Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, and F16 when that does not tile either.
func (mx mixture) typeOf(name string, shape []int) gguf.Type {
	if len(shape) < 2 || !strings.HasSuffix(name, "weight") || strings.Contains(name, "_norm.weight") || name == "position_embd.weight" {
		return gguf.F32
	}
	cols := shape[len(shape)-1]
	layer := -1
	if rest, ok := strings.CutPrefix(name, "blk."); ok {
		n, _, _ := strings.Cut(rest, ".")
		layer, _ = strconv.Atoi(n)
	}
	t := mx.base
	k := mx.base == gguf.Q4_K
	switch {
	case name == "output.weight" || mx.tied && name == "token_embd.weight":
		if cols%t.BlockSize() != 0 {
			t = gguf.Q8_0
		} else {
			t = gguf.Q6_K
		}
	case strings.HasSuffix(name, "attn_v.weight") || strings.HasSuffix(name, "attn_qkv.weight"):
		if k && useMoreBits(layer, mx.attnV) {
			t = gguf.Q6_K
		}
		if mx.big && t == gguf.Q4_K {
			t = gguf.Q5_K
		}
	case strings.HasSuffix(name, "ffn_down.weight"):
		if k && useMoreBits(layer, mx.layers) {
			t = gguf.Q6_K
		}
	}
	if cols%t.BlockSize() != 0 {
		switch t {
		case gguf.Q4_K:
			t = gguf.Q5_0
		case gguf.Q5_K:
			t = gguf.Q5_1
		case gguf.Q6_K:
			t = gguf.Q8_0
		}
		if cols%t.BlockSize() != 0 {
			t = gguf.F16
		}
	}
	return t
}

// useMoreBits is llama.cpp's choice of the layers i of n that Q4_K_M
// stores with more bits: the first and last eighth and every third layer
// between them.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}
