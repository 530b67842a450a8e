package gguf

import (
	"fmt"
	"maps"
	"strings"
)

// Arch is how llama.cpp names and lays out one Hugging Face model type.
type Arch struct {
	Name string // general.architecture: llama, qwen2, qwen3, gpt2, gemma2, gemma3, phi3
	// PermuteQK: llama.cpp stores the rows of the q and k projections of
	// each head in interleaved RoPE order (see PermuteRoPE).
	PermuteQK bool
	// HFArchitecture is the config.json architecture a GGUF of this Name
	// loads as.
	HFArchitecture string
	// layerPrefix starts the Hugging Face names of a decoder layer's
	// parameters (before the layer number); names maps the rest of such a
	// name (after the number and a dot), and the names outside the
	// layers, to llama.cpp's.
	layerPrefix string
	names       map[string]string
	// wideScaleLayers: llama.cpp's gemma2 and gemma3 scale the attention
	// scores of a model of this many layers (the 27B) by 1/√(C/H), of any
	// other by 1/√head_dim (see QueryPreAttnScalar); 0 for the other
	// architectures.
	wideScaleLayers int
}

// Archs maps config.json's model_type to llama.cpp's architecture, as
// convert_hf_to_gguf.py converts them.
var Archs = map[string]Arch{
	"llama":   {"llama", true, "LlamaForCausalLM", llamaPrefix, llamaNames, 0},
	"mistral": {"llama", true, "LlamaForCausalLM", llamaPrefix, llamaNames, 0},
	"qwen2":   {"qwen2", false, "Qwen2ForCausalLM", llamaPrefix, llamaNames, 0},
	"qwen3":   {"qwen3", false, "Qwen3ForCausalLM", llamaPrefix, llamaNames, 0},
	"gpt2":    {"gpt2", false, "GPT2LMHeadModel", "transformer.h.", gpt2Names, 0},
	// Gemma's RMSNorm weights w are offsets (x/rms(x)·(1+w)); llama.cpp
	// stores 1+w.
	"gemma2":      {"gemma2", false, "Gemma2ForCausalLM", llamaPrefix, gemmaNames, 46},
	"gemma3_text": {"gemma3", false, "Gemma3ForCausalLM", llamaPrefix, gemmaNames, 62},
	"phi3":        {"phi3", false, "Phi3ForCausalLM", llamaPrefix, phi3Names, 0},
}

// QueryPreAttnScalar is the query_pre_attn_scalar s of a Gemma model
// whose attention llama.cpp computes (scores scaled by 1/√s): C/H for a
// model of the architecture's 27B layer count, else headDim.
func (a Arch) QueryPreAttnScalar(layers, hidden, heads, headDim int) int {
	if layers == a.wideScaleLayers && heads > 0 {
		return hidden / heads
	}
	return headDim
}

const llamaPrefix = "model.layers."

// llamaNames are the Llama family's tensor names (Arch.names).
var llamaNames = map[string]string{
	"input_layernorm.weight":          "attn_norm.weight",
	"post_attention_layernorm.weight": "ffn_norm.weight",
	"self_attn.q_proj.weight":         "attn_q.weight",
	"self_attn.k_proj.weight":         "attn_k.weight",
	"self_attn.v_proj.weight":         "attn_v.weight",
	"self_attn.o_proj.weight":         "attn_output.weight",
	"self_attn.q_proj.bias":           "attn_q.bias",
	"self_attn.k_proj.bias":           "attn_k.bias",
	"self_attn.v_proj.bias":           "attn_v.bias",
	"self_attn.o_proj.bias":           "attn_output.bias",
	"self_attn.q_norm.weight":         "attn_q_norm.weight",
	"self_attn.k_norm.weight":         "attn_k_norm.weight",
	"mlp.gate_proj.weight":            "ffn_gate.weight",
	"mlp.up_proj.weight":              "ffn_up.weight",
	"mlp.down_proj.weight":            "ffn_down.weight",
	"model.embed_tokens.weight":       "token_embd.weight",
	"model.norm.weight":               "output_norm.weight",
	"lm_head.weight":                  "output.weight",
}

// gemmaNames are Gemma 2's and Gemma 3's tensor names (Arch.names): the
// Llama family's but for the norms around the attention and the MLP.
var gemmaNames = func() map[string]string {
	m := maps.Clone(llamaNames)
	m["post_attention_layernorm.weight"] = "post_attention_norm.weight"
	m["pre_feedforward_layernorm.weight"] = "ffn_norm.weight"
	m["post_feedforward_layernorm.weight"] = "post_ffw_norm.weight"
	return m
}()

// phi3Names are Phi-3's tensor names (Arch.names): the Llama family's and
// its fused projections, whose rows llama.cpp takes in Hugging Face's
// order ([q | k | v], [gate | up]).
var phi3Names = func() map[string]string {
	m := maps.Clone(llamaNames)
	m["self_attn.qkv_proj.weight"] = "attn_qkv.weight"
	m["mlp.gate_up_proj.weight"] = "ffn_up.weight"
	return m
}()

// gpt2Names are GPT-2's tensor names (Arch.names). llama.cpp holds the
// Conv1D weights, stored [in, out], transposed: [out, in].
var gpt2Names = map[string]string{
	"ln_1.weight":             "attn_norm.weight",
	"ln_1.bias":               "attn_norm.bias",
	"attn.c_attn.weight":      "attn_qkv.weight",
	"attn.c_attn.bias":        "attn_qkv.bias",
	"attn.c_proj.weight":      "attn_output.weight",
	"attn.c_proj.bias":        "attn_output.bias",
	"ln_2.weight":             "ffn_norm.weight",
	"ln_2.bias":               "ffn_norm.bias",
	"mlp.c_fc.weight":         "ffn_up.weight",
	"mlp.c_fc.bias":           "ffn_up.bias",
	"mlp.c_proj.weight":       "ffn_down.weight",
	"mlp.c_proj.bias":         "ffn_down.bias",
	"transformer.wte.weight":  "token_embd.weight",
	"transformer.wpe.weight":  "position_embd.weight",
	"transformer.ln_f.weight": "output_norm.weight",
	"transformer.ln_f.bias":   "output_norm.bias",
	"lm_head.weight":          "output.weight",
}

// TensorName is llama.cpp's name of a Hugging Face parameter of a model
// of this architecture: model.layers.N.self_attn.q_proj.weight →
// blk.N.attn_q.weight, model.embed_tokens.weight → token_embd.weight,
// transformer.h.N.attn.c_attn.weight → blk.N.attn_qkv.weight, ….
func (a Arch) TensorName(hf string) (string, bool) {
	if rest, ok := strings.CutPrefix(hf, a.layerPrefix); ok {
		n, tail, _ := strings.Cut(rest, ".")
		name, ok := a.names[tail]
		return "blk." + n + "." + name, ok && n != ""
	}
	name, ok := a.names[hf]
	return name, ok
}

// QKHeads is the number of heads whose rows PermuteRoPE reorders in the
// Hugging Face parameter hf (a q_proj or k_proj weight or bias): heads for
// q, kvHeads for k, 0 for any other parameter.
func QKHeads(hf string, heads, kvHeads int) int {
	switch {
	case strings.HasSuffix(hf, ".q_proj.weight") || strings.HasSuffix(hf, ".q_proj.bias"):
		return heads
	case strings.HasSuffix(hf, ".k_proj.weight") || strings.HasSuffix(hf, ".k_proj.bias"):
		return kvHeads
	}
	return 0
}

// PermuteRoPE reorders the rows of a q or k projection (rows×cols, heads
// heads of D = rows/heads rows each) from Hugging Face's rotate-half RoPE
// layout to llama.cpp's interleaved one, as convert_hf_to_gguf.py's
// LlamaModel.permute does: within each head, new row 2j+i is old row
// i·D/2+j (i ∈ {0, 1}, j < D/2). With inverse set it undoes that. It
// returns a new slice; rows not split into heads of an even size are an
// error.
func PermuteRoPE(w []float32, rows, cols, heads int, inverse bool) ([]float32, error) {
	if heads <= 0 || rows%(2*heads) != 0 || len(w) != rows*cols {
		return nil, fmt.Errorf("%d rows do not split into %d heads of an even size", rows, heads)
	}
	d := rows / heads
	out := make([]float32, rows*cols)
	for h := 0; h < heads; h++ {
		for i := 0; i < 2; i++ {
			for j := 0; j < d/2; j++ {
				hf, cpp := h*d+i*d/2+j, h*d+2*j+i
				src, dst := hf, cpp
				if inverse {
					src, dst = cpp, hf
				}
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out, nil
}
