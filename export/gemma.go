package export

import (
	"fmt"
	"math"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/model"
)

// gemmaMeta is the metadata of a Gemma 2 or Gemma 3 model (a is
// "<arch>."), as convert_hf_to_gguf.py's Gemma2Model and Gemma3Model write
// it and llama.cpp reads it: attn_logit_softcapping (gemma2),
// final_logit_softcapping, attention.sliding_window,
// attention.sliding_window_pattern (one bool per layer: whether it
// slides) and rope.freq_base_swa (Gemma 3's rope_local_base_freq).
// llama.cpp has no key for query_pre_attn_scalar, nor a gemma2 without
// soft-capping, a gemma3 with attention soft-capping or an untied gemma2:
// such models are refused.
func gemmaMeta(cfg *model.Config, arch gguf.Arch, a string) ([]gguf.KV, error) {
	refuse := func(what string) error {
		return fmt.Errorf("export: model type %s: %s, which llama.cpp's %s cannot run", cfg.ModelType, what, arch.Name)
	}
	s := arch.QueryPreAttnScalar(cfg.NumLayers, cfg.HiddenSize, cfg.NumHeads, cfg.HeadDim)
	if math.Abs(cfg.AttnScale*math.Sqrt(float64(s))-1) > 1e-12 {
		return nil, refuse(fmt.Sprintf("query_pre_attn_scalar %.6g (llama.cpp scales the scores by 1/√%d)", 1/(cfg.AttnScale*cfg.AttnScale), s))
	}
	var meta []gguf.KV
	if arch.Name == "gemma2" {
		if cfg.AttnSoftcap <= 0 || cfg.FinalSoftcap <= 0 {
			return nil, refuse("attention or final soft-capping is off")
		}
		if !cfg.TieEmbeddings {
			return nil, refuse("lm_head is not tied to the embeddings")
		}
		meta = append(meta, gguf.KV{Key: a + "attn_logit_softcapping", Value: float32(cfg.AttnSoftcap)})
	} else if cfg.AttnSoftcap > 0 {
		return nil, refuse("attention soft-capping is on")
	}
	if cfg.FinalSoftcap > 0 {
		meta = append(meta, gguf.KV{Key: a + "final_logit_softcapping", Value: float32(cfg.FinalSoftcap)})
	}
	if cfg.SlidingWindow > 0 {
		meta = append(meta, gguf.KV{Key: a + "attention.sliding_window", Value: uint32(cfg.SlidingWindow)})
	}
	pattern := make([]bool, cfg.NumLayers)
	for i := range pattern {
		pattern[i] = cfg.SlidingWindow > 0 && cfg.SlidingLayers[i]
	}
	meta = append(meta, gguf.KV{Key: a + "attention.sliding_window_pattern", Value: pattern})
	if cfg.RopeLocalTheta > 0 {
		meta = append(meta, gguf.KV{Key: a + "rope.freq_base_swa", Value: float32(cfg.RopeLocalTheta)})
	}
	return meta, nil
}

// gemmaVocab drops the padding rows of a Gemma 3 token embedding, as
// convert_hf_to_gguf.py's Gemma3Model does, and returns the vocabulary
// size to write the tokenizer metadata for: when the tokenizer has n ids
// (tokenizer.Tokenizer.VocabSize) and the embedding more rows, the rows at
// n and past, which no token encodes to, are cut from token_embd.weight
// (and an untied output.weight) in tensors, Model's, and n is returned (a
// GGUF reader takes vocab_size from token_embd.weight); else
// cfg.VocabSize. The converter counts the ids of tokenizer.model
// (262144 for Gemma 3, whose image soft token 262144 lies past them);
// golora those of tokenizer.json (262145: the image soft token kept).
func gemmaVocab(cfg *model.Config, tensors []gguf.Tensor, n int) int {
	if arch, err := archOf(cfg); err != nil || arch.Name != "gemma3" || n >= cfg.VocabSize {
		return cfg.VocabSize
	}
	for i, t := range tensors {
		if t.Name == "token_embd.weight" || t.Name == "output.weight" {
			rowBytes := len(t.Data) / t.Shape[0] // whole blocks: Model stores a row in whole blocks
			tensors[i].Shape = []int{n, t.Shape[1]}
			tensors[i].Data = t.Data[:n*rowBytes]
		}
	}
	return n
}
