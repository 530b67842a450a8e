package model

import (
	"fmt"
	"math"
)

// Upper bounds on config.json's sizes. No released model comes near them
// (the largest Llama-family models have a hidden size of 16384, 126 layers,
// 128 heads of 128 or 256 dimensions, a vocabulary of 262144 and a context
// of about 10⁷ positions); they exist so that a corrupt or hostile file is
// refused with the key's name before anything is sized from it, and so that
// every product of two sizes (vocab·hidden, heads·head_dim·hidden, …) fits
// an int with room to spare (at most 2⁴¹ here).
const (
	maxVocab        = 1 << 24 // vocab_size
	maxHidden       = 1 << 17 // hidden_size
	maxIntermediate = 1 << 20 // intermediate_size
	maxLayers       = 1 << 12 // num_hidden_layers
	maxHeads        = 1 << 12 // num_attention_heads, num_key_value_heads
	maxHeadDim      = 1 << 12 // head_dim
	maxAttnWidth    = 1 << 17 // num_attention_heads × head_dim, q_proj's output width
	maxPositions    = 1 << 24 // max_position_embeddings, sliding_window, original_max_position_embeddings
)

// validateSizes refuses sizes and constants no model has: each size in
// (0, limit]; heads a multiple of key/value heads; hidden_size a multiple of
// heads when head_dim is not given; an even head_dim; a q_proj width
// (heads × head_dim) within maxAttnWidth; a finite rope_theta ≥ 1; RoPE
// scaling factors within [1e-3, 1e6]; 0 < rms_norm_eps < 1; and special
// token ids inside the vocabulary. Learned positions (GPT-2) need as many
// key/value heads as heads and no rotary constraints. Errors name the file
// and the key as the family spells it (k).
func (c *Config) validateSizes(name string, k configKeys) error {
	for _, f := range []struct {
		key      string
		v, limit int
	}{
		{"vocab_size", c.VocabSize, maxVocab},
		{k.hidden, c.HiddenSize, maxHidden},
		{k.intermediate, c.IntermediateSize, maxIntermediate},
		{k.layers, c.NumLayers, maxLayers},
		{k.heads, c.NumHeads, maxHeads},
		{"num_key_value_heads", c.NumKVHeads, maxHeads},
		{"head_dim", c.HeadDim, maxHeadDim},
		{k.positions, c.MaxPositions, maxPositions},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%s: field %q must be a positive integer, got %d", name, f.key, f.v)
		}
		if f.v > f.limit {
			return fmt.Errorf("%s: field %q is %d, more than any model has (at most %d)", name, f.key, f.v, f.limit)
		}
	}
	if c.LearnedPos && c.NumKVHeads != c.NumHeads {
		return fmt.Errorf("%s: num_key_value_heads must equal %s for %s", name, k.heads, c.ModelType)
	}
	if c.NumHeads%c.NumKVHeads != 0 {
		return fmt.Errorf("%s: %s (%d) is not a multiple of num_key_value_heads (%d)", name, k.heads, c.NumHeads, c.NumKVHeads)
	}
	if _, given := c.Raw["head_dim"]; (!given || c.Raw["head_dim"] == nil) && c.HiddenSize%c.NumHeads != 0 {
		return fmt.Errorf("%s: %s (%d) is not a multiple of %s (%d), and head_dim is not given", name, k.hidden, c.HiddenSize, k.heads, c.NumHeads)
	}
	if c.HeadDim%2 != 0 && !c.LearnedPos {
		return fmt.Errorf("%s: head_dim %d must be even for rotary embeddings", name, c.HeadDim)
	}
	if w := c.NumHeads * c.HeadDim; w > maxAttnWidth {
		return fmt.Errorf("%s: %s × head_dim is %d × %d = %d, more than any model has (at most %d)", name, k.heads, c.NumHeads, c.HeadDim, w, maxAttnWidth)
	}
	if c.SlidingWindow < 0 || c.SlidingWindow > maxPositions {
		return fmt.Errorf("%s: field \"sliding_window\" must be in [0, %d], got %d", name, maxPositions, c.SlidingWindow)
	}
	if !(c.RMSNormEps > 0 && c.RMSNormEps < 1) {
		return fmt.Errorf("%s: field %q must be in (0, 1), got %g", name, k.eps, c.RMSNormEps)
	}
	// A base below 1 would make the rotary frequencies rise with the
	// dimension (and 1/theta^x overflow); models use 10⁴ to 10⁸.
	if !(c.RopeTheta >= 1) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("%s: field \"rope_theta\" must be a finite number ≥ 1, got %g", name, c.RopeTheta)
	}
	if rs := c.RopeScaling; rs != nil {
		// Scaling factors are between 1 and a few dozen in practice; the
		// bounds keep inv_freq/factor finite.
		for _, f := range []struct {
			key    string
			v, min float64
		}{{"factor", rs.Factor, 1e-3}, {"low_freq_factor", rs.LowFreqFactor, 0}, {"high_freq_factor", rs.HighFreqFactor, 0}} {
			if !(f.v >= f.min && f.v <= 1e6) {
				return fmt.Errorf("%s: field \"rope_scaling\": %s must be in [%g, 1e6], got %g", name, f.key, f.min, f.v)
			}
		}
		if rs.OrigMaxPos < 0 || rs.OrigMaxPos > maxPositions {
			return fmt.Errorf("%s: field \"rope_scaling\": original_max_position_embeddings must be in [0, %d], got %d", name, maxPositions, rs.OrigMaxPos)
		}
	}
	for _, f := range []struct {
		key string
		ids []int
	}{{"bos_token_id", c.BOS}, {"eos_token_id", c.EOS}} {
		for _, id := range f.ids {
			if id < 0 || id >= c.VocabSize {
				return fmt.Errorf("%s: field %q: token id %d is outside the vocabulary [0, %d)", name, f.key, id, c.VocabSize)
			}
		}
	}
	return nil
}
