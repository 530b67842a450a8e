package lora

import (
	"slices"
	"testing"

	"github.com/golora/golora/model"
)

// A config that names no target adapts the family's default modules, as
// PEFT does for target_modules=None, and records them; one that names
// targets keeps them.
func TestFamilyDefaultTargets(t *testing.T) {
	for _, tc := range []struct {
		js   string
		want []string // module kinds adapted
	}{
		{`{"architectures":["LlamaForCausalLM"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2}`, []string{"q_proj", "v_proj"}},
		{`{"architectures":["Qwen3ForCausalLM"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":4}`, []string{"q_proj", "v_proj"}},
		{`{"architectures":["GPT2LMHeadModel"],"vocab_size":19,"n_embd":16,"n_layer":2,"n_head":4,"n_positions":8}`, []string{"c_attn"}},
		{`{"architectures":["Gemma3ForCausalLM"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":4}`, []string{"q_proj", "v_proj"}},
	} {
		c, err := model.ParseConfig([]byte(tc.js), "test")
		if err != nil {
			t.Fatal(err)
		}
		cfg := &Config{R: 2, Alpha: 4}
		specs, err := ConfigTargets(c, cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.ModelType, err)
		}
		if !slices.Equal(cfg.Targets, tc.want) {
			t.Errorf("%s: config records targets %v, want %v", c.ModelType, cfg.Targets, tc.want)
		}
		var kinds []string
		for _, s := range specs {
			if !slices.Contains(kinds, s.Kind()) {
				kinds = append(kinds, s.Kind())
			}
		}
		if slices.Sort(kinds); !slices.Equal(kinds, tc.want) || len(specs) != len(tc.want)*c.NumLayers {
			t.Errorf("%s: adapts %d modules of kinds %v, want %v in each of %d layers", c.ModelType, len(specs), kinds, tc.want, c.NumLayers)
		}
		m := model.NewRandom(c, 0.02, 1)
		a, err := New(m, "default", &Config{R: 2, Alpha: 4}, 1)
		if err != nil {
			t.Fatalf("%s: %v", c.ModelType, err)
		}
		if len(a.Modules) != len(specs) || !slices.Equal(a.Config.Targets, tc.want) {
			t.Errorf("%s: New adapted %d modules with targets %v, want %d and %v", c.ModelType, len(a.Modules), a.Config.Targets, len(specs), tc.want)
		}
		named := &Config{R: 2, Alpha: 4, Targets: []string{"all-linear"}}
		if _, err := ConfigTargets(c, named); err != nil || !slices.Equal(named.Targets, []string{"all-linear"}) {
			t.Errorf("%s: named targets became %v (%v)", c.ModelType, named.Targets, err)
		}
	}
}

// TargetsSpec writes targets back as ParseTargets reads them.
func TestTargetsSpecRoundTrip(t *testing.T) {
	for _, s := range []string{"q_proj,v_proj", "all-linear", `re:.*\.(q|v)_proj`, ""} {
		var c Config
		c.ParseTargets(s)
		if got := c.TargetsSpec(); got != s {
			t.Errorf("ParseTargets(%q).TargetsSpec() = %q", s, got)
		}
	}
}
