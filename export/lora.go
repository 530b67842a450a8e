// Package export converts golora's models and adapters into the files other
// runtimes load: a PEFT LoRA adapter into the LoRA GGUF of llama.cpp (which
// ollama's Modelfile ADAPTER also reads).
package export

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// LoRA GGUF metadata keys, as llama.cpp's convert_lora_to_gguf.py writes
// them.
const (
	keyArch      = "general.architecture"
	keyType      = "general.type"
	keyQuantVer  = "general.quantization_version"
	keyAdapter   = "adapter.type"
	keyLoRAAlpha = "adapter.lora.alpha"
	// quantVersion is ggml's GGML_QNT_VERSION.
	quantVersion = 2
)

// ggufArchInfo is how llama.cpp names and lays out one architecture.
type ggufArchInfo struct {
	name    string
	permute bool
}

// ggufArch maps a config's model_type to llama.cpp's architecture name and
// says whether llama.cpp stores q and k rows in its interleaved RoPE order
// (see permuteRows).
var ggufArch = map[string]ggufArchInfo{
	"llama":   {"llama", true},
	"mistral": {"llama", true},
	"qwen2":   {"qwen2", false},
}

// archOf is llama.cpp's architecture for cfg, or an error listing the
// model types golora exports.
func archOf(cfg *model.Config) (ggufArchInfo, error) {
	arch, ok := ggufArch[cfg.ModelType]
	if !ok {
		names := slices.Sorted(maps.Keys(ggufArch))
		return arch, fmt.Errorf("export: model type %q has no GGUF export (supported: %s)", cfg.ModelType, strings.Join(names, ", "))
	}
	return arch, nil
}

// linearNames maps the last part of a Hugging Face module path to llama.cpp's
// tensor name.
var linearNames = map[string]string{
	"self_attn.q_proj": "attn_q",
	"self_attn.k_proj": "attn_k",
	"self_attn.v_proj": "attn_v",
	"self_attn.o_proj": "attn_output",
	"mlp.gate_proj":    "ffn_gate",
	"mlp.up_proj":      "ffn_up",
	"mlp.down_proj":    "ffn_down",
}

// OutTypes lists the tensor types LoRA writes, by their --outtype names.
var OutTypes = map[string]gguf.Type{"f32": gguf.F32, "f16": gguf.F16, "bf16": gguf.BF16, "q8_0": gguf.Q8_0}

// ggufName is llama.cpp's name of the weight a module adapts:
// model.layers.N.self_attn.q_proj → blk.N.attn_q.weight, lm_head →
// output.weight.
func ggufName(path string) (string, bool) {
	if path == "lm_head" {
		return "output.weight", true
	}
	rest, ok := strings.CutPrefix(path, "model.layers.")
	if !ok {
		return "", false
	}
	n, mod, ok := strings.Cut(rest, ".")
	if _, err := strconv.Atoi(n); !ok || err != nil {
		return "", false
	}
	name, ok := linearNames[mod]
	if !ok {
		return "", false
	}
	return "blk." + n + "." + name + ".weight", true
}

// LlamaCppAlpha is the adapter.lora.alpha that makes llama.cpp's scale,
// alpha/r, equal the adapter's s: alpha itself, or alpha·√r for rsLoRA
// (s = alpha/√r).
func LlamaCppAlpha(c *lora.Config) float32 {
	if c.RSLoRA {
		return float32(c.Alpha * math.Sqrt(float64(c.R)))
	}
	return float32(c.Alpha)
}

// LoRA converts a PEFT adapter for a base model of configuration cfg into
// the metadata and tensors of a llama.cpp LoRA GGUF, as
// convert_lora_to_gguf.py writes them:
//
//	general.architecture  llama (llama, mistral) or qwen2
//	general.type          adapter
//	adapter.type          lora
//	adapter.lora.alpha    LlamaCppAlpha (FLOAT32)
//	<weight>.lora_a       A, shape [r, in]
//	<weight>.lora_b       B, shape [out, r]
//
// with <weight> llama.cpp's name of the adapted weight (blk.N.attn_q.weight,
// …), modules in the adapter's order. For llama and mistral the rows of the
// q and k projections' B are permuted as llama.cpp permutes the base
// weights (see permuteRows), so that B·A adapts the weight llama.cpp holds.
// Tensors are stored as typ (F32, F16, BF16 or Q8_0); a Q8_0 tensor whose
// rows are not whole 32-element blocks (B when r is not a multiple of 32)
// falls back to F16, as the converter's does.
func LoRA(cfg *model.Config, ad *lora.File, typ gguf.Type) ([]gguf.KV, []gguf.Tensor, error) {
	arch, err := archOf(cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := fileTypes[typ]; !ok {
		return nil, nil, fmt.Errorf("export: cannot write a LoRA adapter as %s (F32, F16, BF16 or Q8_0)", typ)
	}
	meta := []gguf.KV{
		{Key: keyArch, Value: arch.name},
		{Key: keyType, Value: "adapter"},
		{Key: keyAdapter, Value: "lora"},
		{Key: keyLoRAAlpha, Value: LlamaCppAlpha(ad.Config)},
		{Key: keyQuantVer, Value: uint32(quantVersion)},
	}
	var tensors []gguf.Tensor
	for _, m := range ad.Modules {
		name, ok := ggufName(m.Path)
		if !ok {
			return nil, nil, fmt.Errorf("export: %s: module %q has no llama.cpp tensor name (adaptable: the q, k, v, o, gate, up and down projections, lm_head)", ad.Dir, m.Path)
		}
		if m.Path == "lm_head" && cfg.TieEmbeddings {
			return nil, nil, fmt.Errorf("export: %s: module lm_head is tied to the embeddings, which llama.cpp cannot adapt", ad.Dir)
		}
		b := m.B.F32
		if arch.permute && (strings.HasSuffix(m.Path, ".q_proj") || strings.HasSuffix(m.Path, ".k_proj")) {
			heads := cfg.NumHeads
			if strings.HasSuffix(m.Path, ".k_proj") {
				heads = cfg.NumKVHeads
			}
			var err error
			if b, err = permuteRows(b, m.B.Rows, m.B.Cols, heads); err != nil {
				return nil, nil, fmt.Errorf("export: %s: module %s: %w", ad.Dir, m.Path, err)
			}
		}
		for _, t := range []struct {
			suffix     string
			v          []float32
			rows, cols int
		}{{".lora_a", m.A.F32, m.A.Rows, m.A.Cols}, {".lora_b", b, m.B.Rows, m.B.Cols}} {
			tt := typ
			if tt == gguf.Q8_0 && t.cols%gguf.Q8_0.BlockSize() != 0 {
				tt = gguf.F16
			}
			tn, err := gguf.NewTensor(name+t.suffix, tt, []int{t.rows, t.cols}, t.v[:t.rows*t.cols])
			if err != nil {
				return nil, nil, fmt.Errorf("export: %s: %w", ad.Dir, err)
			}
			tensors = append(tensors, tn)
		}
	}
	return meta, tensors, nil
}

// permuteRows reorders the rows of a q or k projection (rows×cols, heads
// heads of D = rows/heads rows each) from Hugging Face's rotate-half RoPE
// layout to llama.cpp's interleaved one, as convert_hf_to_gguf.py's
// LlamaModel.permute does: within each head, new row 2j+i is old row
// i·D/2+j (i ∈ {0, 1}, j < D/2). Permuting the rows of B permutes the rows
// of B·A the same way.
func permuteRows(w []float32, rows, cols, heads int) ([]float32, error) {
	if heads <= 0 || rows%(2*heads) != 0 {
		return nil, fmt.Errorf("%d rows do not split into %d heads of an even size", rows, heads)
	}
	d := rows / heads
	out := make([]float32, rows*cols)
	for h := 0; h < heads; h++ {
		for i := 0; i < 2; i++ {
			for j := 0; j < d/2; j++ {
				src := h*d + i*d/2 + j
				dst := h*d + 2*j + i
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out, nil
}

// WriteLoRA reads the PEFT adapter directory adapterDir, converts it for a
// base model of configuration cfg (see LoRA) and writes the GGUF to out
// atomically.
func WriteLoRA(out string, cfg *model.Config, adapterDir string, typ gguf.Type) error {
	ad, err := lora.ReadDir(adapterDir)
	if err != nil {
		return err
	}
	meta, tensors, err := LoRA(cfg, ad, typ)
	if err != nil {
		return err
	}
	return gguf.Write(out, meta, tensors)
}
