package model

import (
	"math"
	"strings"
	"testing"
)

// TestDecodeMatchesFullForward: prefill a prompt, then feed tokens one at a
// time through the KV cache; every position's logits must equal those of a
// full forward pass over the whole sequence.
func TestDecodeMatchesFullForward(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		extra       map[string]any
	}{
		{"llama-gqa", "llama", nil},
		{"qwen2-bias", "qwen2", nil},
		{"qwen3-qknorm", "qwen3", map[string]any{"head_dim": 8}},
		{"gpt2-learned-positions", "gpt2", nil},
		{"mistral-window", "mistral", map[string]any{"sliding_window": 3}},
		{"llama3-rope", "llama", map[string]any{"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8, "original_max_position_embeddings": 8}}},
		{"window-blocks", "mistral", map[string]any{"sliding_window": 3}}, // attention 2 query rows at a time
		{"gemma2-softcap-window", "gemma2", gemmaTestExtra},
		{"gemma3-local-rope", "gemma3_text", map[string]any{"sliding_window": 3, "sliding_window_pattern": 2,
			"rope_local_base_freq": 100, "rope_scaling": map[string]any{"rope_type": "linear", "factor": 2},
			"final_logit_softcapping": 1.5}},
		{"phi3-partial-window", "phi3", map[string]any{"head_dim": 8, "partial_rotary_factor": 0.5, "sliding_window": 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "window-blocks" {
				defer func(r int) { attnRows = r }(attnRows)
				attnRows = 2
			}
			m := NewRandom(testConfig(t, tc.model, tc.extra), 0.3, 9)
			ids := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
			V := m.Cfg.VocabSize
			full := m.NewState(1, len(ids), false)
			if err := m.Forward(full, ids); err != nil {
				t.Fatal(err)
			}
			cache := m.NewCache(len(ids))
			const prompt = 4
			pre := m.NewState(1, prompt, false)
			if err := m.Decode(pre, cache, ids[:prompt]); err != nil {
				t.Fatal(err)
			}
			check := func(pos int, got []float32) {
				for j, v := range got {
					if d := math.Abs(float64(v - full.Logits[pos*V+j])); d > 1e-5 {
						t.Fatalf("position %d logit %d: cached %g, full %g", pos, j, v, full.Logits[pos*V+j])
					}
				}
			}
			for p := 0; p < prompt; p++ {
				check(p, pre.Logits[p*V:(p+1)*V])
			}
			step := m.NewState(1, 1, false)
			for p := prompt; p < len(ids); p++ {
				if err := m.Decode(step, cache, ids[p:p+1]); err != nil {
					t.Fatal(err)
				}
				check(p, step.Logits)
			}
			if err := m.Decode(step, cache, []int{1}); err == nil {
				t.Error("decoding past the cache's size must fail")
			}
		})
	}
}

// TestLearnedPositionsBound: a model with learned positions (GPT-2) refuses
// positions past its table, in a forward pass and in decoding.
func TestLearnedPositionsBound(t *testing.T) {
	m := NewRandom(testConfig(t, "gpt2", nil), 0.3, 9) // 12 positions
	if err := m.Forward(m.NewState(1, 13, false), make([]int, 13)); err == nil || !strings.Contains(err.Error(), "12 learned positions") {
		t.Errorf("13 positions: %v", err)
	}
	cache, s := m.NewCache(13), m.NewState(1, 1, false)
	for p := 0; p < 12; p++ {
		if err := m.Decode(s, cache, []int{1}); err != nil {
			t.Fatalf("position %d: %v", p, err)
		}
	}
	if err := m.Decode(s, cache, []int{1}); err == nil {
		t.Error("decoding position 12 must fail")
	}
}
