package model

import (
	"slices"
	"strings"
	"testing"
)

// TestLayerLinearsBuildTheModel checks that the model is built from
// Config.LayerLinears: each layer's modules in that order, with its names,
// shapes and biases, wired to the fields the forward pass reads; that
// Params keeps checkpoint order; and that Config.NumParams counts them.
func TestLayerLinearsBuildTheModel(t *testing.T) {
	for _, tc := range []struct {
		name, modelType string
		extra           map[string]any
		layer0          []string // Params' names of layer 0, without the prefix
	}{
		{"llama gqa", "llama", nil, []string{"input_layernorm.weight",
			"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
			"post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"}},
		{"llama attention_bias, tied", "llama", map[string]any{"attention_bias": true, "tie_word_embeddings": true}, []string{"input_layernorm.weight",
			"self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.k_proj.bias",
			"self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.o_proj.weight", "self_attn.o_proj.bias",
			"post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"}},
		{"qwen2", "qwen2", nil, []string{"input_layernorm.weight",
			"self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.k_proj.bias",
			"self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.o_proj.weight",
			"post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"}},
		{"qwen3 head norms, tied", "qwen3", map[string]any{"tie_word_embeddings": true}, []string{"input_layernorm.weight",
			"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
			"self_attn.q_norm.weight", "self_attn.k_norm.weight",
			"post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"}},
		{"gpt2 Conv1D, LayerNorm biases", "gpt2", nil, []string{"ln_1.weight", "ln_1.bias",
			"attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
			"ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"}},
		{"phi3 fused qkv_proj and gate_up_proj", "phi3", nil, []string{"input_layernorm.weight",
			"self_attn.qkv_proj.weight", "self_attn.o_proj.weight",
			"post_attention_layernorm.weight", "mlp.gate_up_proj.weight", "mlp.down_proj.weight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t, tc.modelType, tc.extra)
			m := NewRandom(c, 0.02, 1)
			if got, want := c.NumParams(), m.NumParams(); got != want {
				t.Errorf("Config.NumParams %d, the model has %d", got, want)
			}
			specs := c.LayerLinears()
			for i, l := range m.Layers {
				fields := map[string]*Linear{"self_attn.q_proj": l.Q, "self_attn.k_proj": l.K, "self_attn.v_proj": l.V,
					"self_attn.o_proj": l.O, "mlp.gate_proj": l.Gate, "mlp.up_proj": l.Up, "mlp.down_proj": l.Down,
					"attn.c_attn": l.QKV, "attn.c_proj": l.O, "mlp.c_fc": l.Up, "mlp.c_proj": l.Down,
					"self_attn.qkv_proj": l.QKV, "mlp.gate_up_proj": l.GateUp}
				if len(l.Linears()) != len(specs) {
					t.Fatalf("layer %d: %d linears, LayerLinears lists %d", i, len(l.Linears()), len(specs))
				}
				for j, lin := range l.Linears() {
					s := specs[j]
					if lin.Name != c.LayerPrefix(i)+s.Name || lin.In != s.In || lin.Out != s.Out ||
						lin.W.W.Rows != s.Out || lin.W.W.Cols != s.In || (lin.Bias != nil) != s.Bias || lin.W.Transposed != s.Conv1D {
						t.Errorf("layer %d module %d: %s %d→%d bias %v, LayerLinears says %s %d→%d bias %v",
							i, j, lin.Name, lin.In, lin.Out, lin.Bias != nil, s.Name, s.In, s.Out, s.Bias)
					}
					if fields[s.Name] != lin {
						t.Errorf("layer %d: %s is not the layer's %s field", i, lin.Name, s.Name)
					}
				}
			}
			var names []string
			for _, p := range m.Params() {
				if rest, ok := strings.CutPrefix(p.Name, c.LayerPrefix(0)); ok {
					names = append(names, rest)
				}
			}
			if !slices.Equal(names, tc.layer0) {
				t.Errorf("layer 0 parameters in order %v, want %v", names, tc.layer0)
			}
			ps := m.Params()
			embed, _, norm, normBias := c.topNames()
			if normBias != "" {
				norm = normBias
			}
			if first, last := ps[0].Name, ps[len(ps)-1].Name; first != embed ||
				last != map[bool]string{true: norm, false: "lm_head.weight"}[c.TieEmbeddings] {
				t.Errorf("parameters run from %s to %s", first, last)
			}
		})
	}
	if got := LinearKinds(); !slices.Equal(got, []string{"c_attn", "c_proj", "c_fc",
		"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "qkv_proj", "gate_up_proj"}) {
		t.Errorf("LinearKinds %v", got)
	}
}
