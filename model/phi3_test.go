package model

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestPhi3LongRopeReference: phi3_bf16_longrope (partial_rotary_factor
// 0.5, longrope with original_max_position_embeddings 8) on its first 8
// tokens uses the short factors (the reference's logits_short); the whole
// 11 tokens use the long ones (TestReferenceLogits). Decoding the sequence
// through a KV cache, prompt 5 tokens then one at a time, crosses the
// bound at position 8: every step's logits equal a full forward pass over
// the prefix so far (whose length picks the factors), and the last step's
// the reference's. The cached 8 tokens are recomputed 3 at a time.
func TestPhi3LongRopeReference(t *testing.T) {
	defer func(n int) { relongChunk = n }(relongChunk)
	relongChunk = 3
	dir := filepath.Join(refDir, "phi3_bf16_longrope")
	var exp struct {
		refExpected
		IDsShort    [][]int       `json:"ids_short"`
		LogitsShort [][][]float64 `json:"logits_short"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rs := m.Cfg.RopeScaling
	if rs == nil || rs.Type != "longrope" || rs.OrigMaxPos != 8 || m.Cfg.RotaryDim != 8 || m.Cfg.HeadDim != 16 {
		t.Fatalf("config read as %+v, rotary dims %d of %d", rs, m.Cfg.RotaryDim, m.Cfg.HeadDim)
	}
	if want := math.Sqrt(1 + math.Log(64.0/8)/math.Log(8)); math.Abs(rs.AttnFactor-want) > 1e-15 {
		t.Errorf("attention factor %v, want √(1 + ln 8 / ln 8) = %v", rs.AttnFactor, want)
	}
	B, T := len(exp.IDsShort), len(exp.IDsShort[0])
	s := m.NewState(B, T, false)
	if err := m.Forward(s, flattenIDs(exp.IDsShort)); err != nil {
		t.Fatal(err)
	}
	if e := relErr(t, s.Logits, flatten3(exp.LogitsShort)); e > 1e-4 {
		t.Errorf("short factors (T = 8): relative error %.3g > 1e-4", e)
	} else {
		t.Logf("short factors (T = 8): relative error %.3g", e)
	}

	V, ids := m.Cfg.VocabSize, exp.IDs[0]
	cache := m.NewCache(len(ids))
	const prompt = 5
	var logits []float32
	for p := 0; p < len(ids); {
		n := 1
		if p == 0 {
			n = prompt
		}
		step := m.NewState(1, n, false)
		if err := m.Decode(step, cache, ids[p:p+n]); err != nil {
			t.Fatal(err)
		}
		p += n
		full := m.NewState(1, p, false)
		if err := m.Forward(full, ids[:p]); err != nil {
			t.Fatal(err)
		}
		logits = step.Logits[(n-1)*V:]
		want := full.Logits[(p-1)*V:]
		for j := range want {
			if d := math.Abs(float64(logits[j] - want[j])); d > 1e-5*(1+math.Abs(float64(want[j]))) {
				t.Fatalf("%d tokens (long factors %v): cached logit %d is %g, full forward %g", p, m.Cfg.ropeLong(p), j, logits[j], want[j])
			}
		}
	}
	if !cache.long || len(cache.ids) != len(ids) {
		t.Error("the cache did not switch to the long factors")
	}
	last := flatten3(exp.Logits)[(len(ids)-1)*V : len(ids)*V]
	if e := relErr(t, logits, last); e > 1e-4 {
		t.Errorf("decoded across the bound: last position's relative error %.3g > 1e-4", e)
	} else {
		t.Logf("decoded across the bound: last position's relative error %.3g", e)
	}
	cache.Reset()
	if cache.long || cache.Len != 0 {
		t.Error("Reset kept the long factors")
	}
}

// TestPhi3Config: longrope's older names in Phi-3 configs, and the errors
// for what golora cannot run.
func TestPhi3Config(t *testing.T) {
	base := map[string]any{"head_dim": 8, "max_position_embeddings": 64, "original_max_position_embeddings": 16}
	with := func(kv map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	factors := map[string]any{"short_factor": []float64{1, 2, 3, 4}, "long_factor": []float64{4, 3, 2, 1}}
	for _, name := range []string{"su", "yarn", "longrope"} {
		rs := map[string]any{"type": name}
		for k, v := range factors {
			rs[k] = v
		}
		c := testConfig(t, "phi3", with(map[string]any{"rope_scaling": rs}))
		if got := c.RopeScaling; got == nil || got.Type != "longrope" || got.OrigMaxPos != 16 || got.Factor != 4 || got.LongFactor[0] != 4 {
			t.Errorf("%s: read as %+v", name, got)
		}
	}
	for _, extra := range []map[string]any{{"partial_rotary_factor": 0.5}, {"rope_parameters": map[string]any{"rope_theta": 10000, "partial_rotary_factor": 0.5}}} {
		c := testConfig(t, "phi3", with(extra))
		if c.RotaryDim != 4 || len(c.InvFreq()) != 2 {
			t.Errorf("%v of head_dim 8: rotary dims %d, %d frequencies", extra, c.RotaryDim, len(c.InvFreq()))
		}
	}
	for _, tc := range []struct {
		model string
		extra map[string]any
		want  string
	}{
		{"phi3", with(map[string]any{"rope_scaling": map[string]any{"type": "longrope", "short_factor": []float64{1, 2}, "long_factor": []float64{1, 2, 3, 4}}}),
			"short_factor has 2 numbers, the rotary dimensions need 4"},
		{"phi3", with(map[string]any{"rope_scaling": map[string]any{"type": "longrope", "short_factor": []float64{1, 2, 3, 4}}}), "long_factor"},
		{"phi3", with(map[string]any{"rope_scaling": map[string]any{"type": "longrope", "short_factor": []float64{1, 2, 3, 0}, "long_factor": []float64{1, 2, 3, 4}}}),
			"short_factor[3] must be a number"},
		{"phi3", with(map[string]any{"rope_scaling": map[string]any{"type": "dynamic", "factor": 2}}), `type "dynamic" is not supported`},
		{"llama", with(map[string]any{"rope_scaling": map[string]any{"type": "su", "factor": 2}}), `type "su" is not supported`},
		{"phi3", with(map[string]any{"partial_rotary_factor": 1.5}), "partial_rotary_factor"},
		{"phi3", with(map[string]any{"partial_rotary_factor": 0.125}), "rotates 1 of head_dim 8"},
		{"phi3", with(map[string]any{"attention_bias": true}), "attention_bias"},
	} {
		js := `{"architectures":["` + map[string]string{"phi3": "Phi3ForCausalLM", "llama": "LlamaForCausalLM"}[tc.model] +
			`"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2`
		for k, v := range tc.extra {
			js += `,"` + k + `":` + jsonValue(v)
		}
		_, err := ParseConfig([]byte(js+"}"), "cfg.json")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "cfg.json") {
			t.Errorf("%s %v: error %v, want one naming cfg.json and %q", tc.model, tc.extra, err, tc.want)
		}
	}
}
