// Package export converts golora's models and adapters into the files other
// runtimes load: a PEFT LoRA adapter into the LoRA GGUF of llama.cpp (which
// ollama's Modelfile ADAPTER also reads), a model into the hyperparameters
// and tensors of a llama.cpp GGUF.
package export

import (
	"fmt"
	"maps"
	"math"
	"slices"
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

// archOf is llama.cpp's architecture for cfg, or an error listing the
// model types golora exports.
func archOf(cfg *model.Config) (gguf.Arch, error) {
	arch, ok := gguf.Archs[cfg.ModelType]
	if !ok {
		names := slices.Sorted(maps.Keys(gguf.Archs))
		return arch, fmt.Errorf("export: model type %q has no GGUF export (supported: %s)", cfg.ModelType, strings.Join(names, ", "))
	}
	return arch, nil
}

// OutTypes lists the tensor types LoRA writes, by their --outtype names
// (convert_lora_to_gguf.py's and convert_hf_to_gguf.py's).
var OutTypes = map[string]gguf.Type{"f32": gguf.F32, "f16": gguf.F16, "bf16": gguf.BF16, "q8_0": gguf.Q8_0}

// ModelOutTypes lists what Model writes, by --outtype name: OutTypes and
// llama-quantize's mixtures q4_0 and q4_k_m, which Model takes as their
// base types Q4_0 and Q4_K.
var ModelOutTypes = func() map[string]gguf.Type {
	m := maps.Clone(OutTypes)
	m["q4_0"], m["q4_k_m"] = gguf.Q4_0, gguf.Q4_K
	return m
}()

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
//	general.architecture  llama (llama, mistral), qwen2, qwen3, gpt2, gemma2,
//	                      gemma3 (gemma3_text) or phi3
//	general.type          adapter
//	adapter.type          lora
//	adapter.lora.alpha    LlamaCppAlpha (FLOAT32)
//	<weight>.lora_a       A, shape [r, in]
//	<weight>.lora_b       B, shape [out, r]
//
// with <weight> llama.cpp's name of the adapted weight (blk.N.attn_q.weight,
// …), modules in the adapter's order. For llama and mistral the rows of the
// q and k projections' B are permuted as llama.cpp permutes the base
// weights (see gguf.PermuteRoPE), so that B·A adapts the weight llama.cpp holds.
// PEFT's A and B of a Conv1D module (fan_in_fan_out) are [r, in] and
// [out, r] too, and B·A adapts the [out, in] weight llama.cpp holds, so
// they are written as they are.
// Tensors are stored as typ (F32, F16, BF16 or Q8_0); a Q8_0 tensor whose
// rows are not whole 32-element blocks (B when r is not a multiple of 32)
// falls back to F16, as the converter's does.
func LoRA(cfg *model.Config, ad *lora.File, typ gguf.Type) ([]gguf.KV, []gguf.Tensor, error) {
	arch, err := archOf(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := ad.RefuseDoRA("export", "llama.cpp's LoRA GGUF has no DoRA magnitudes"); err != nil {
		return nil, nil, err
	}
	if !slices.Contains(slices.Collect(maps.Values(OutTypes)), typ) {
		return nil, nil, fmt.Errorf("export: cannot write a LoRA adapter as %s (F32, F16, BF16 or Q8_0)", typ)
	}
	meta := []gguf.KV{
		{Key: keyArch, Value: arch.Name},
		{Key: keyType, Value: "adapter"},
		{Key: keyAdapter, Value: "lora"},
		{Key: keyLoRAAlpha, Value: LlamaCppAlpha(ad.Config)},
		{Key: keyQuantVer, Value: uint32(quantVersion)},
	}
	var tensors []gguf.Tensor
	for _, m := range ad.Modules {
		name, ok := arch.TensorName(m.Path + ".weight")
		if !ok || !isLinear(cfg, m.Path) {
			return nil, nil, fmt.Errorf("export: %s: module %q has no llama.cpp tensor name (adaptable: the layers' linears, lm_head)", ad.Dir, m.Path)
		}
		if m.Path == "lm_head" && cfg.TieEmbeddings {
			return nil, nil, fmt.Errorf("export: %s: module lm_head is tied to the embeddings, which llama.cpp cannot adapt", ad.Dir)
		}
		b := m.B.F32[:m.B.Rows*m.B.Cols]
		if heads := gguf.QKHeads(m.Path+".weight", cfg.NumHeads, cfg.NumKVHeads); arch.PermuteQK && heads > 0 {
			var err error
			if b, err = gguf.PermuteRoPE(b, m.B.Rows, m.B.Cols, heads, false); err != nil {
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

// isLinear reports whether path is lm_head or a decoder layer's linear
// module of cfg (model.Config.LayerLinears).
func isLinear(cfg *model.Config, path string) bool {
	if path == "lm_head" {
		return true
	}
	for i := 0; i < cfg.NumLayers; i++ {
		if rest, ok := strings.CutPrefix(path, cfg.LayerPrefix(i)); ok {
			return slices.ContainsFunc(cfg.LayerLinears(), func(l model.LinearSpec) bool { return l.Name == rest })
		}
	}
	return false
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
