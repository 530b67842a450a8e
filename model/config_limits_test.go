package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// limitsBase is a valid config that each case of TestConfigLimits spoils.
const limitsBase = `{"architectures": ["LlamaForCausalLM"], "vocab_size": 64, "hidden_size": 32,
	"intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
	"rms_norm_eps": 1e-5, "rope_theta": 10000, "bos_token_id": 1, "eos_token_id": [2, 3]`

func TestConfigLimits(t *testing.T) {
	if _, err := ParseConfig([]byte(limitsBase+"}"), "config.json"); err != nil {
		t.Fatalf("base config: %v", err)
	}
	for _, tc := range []struct {
		extra string // appended to limitsBase; a later key wins
		want  string // in the error, after "config.json: "
	}{
		{`"vocab_size": 0`, `"vocab_size" must be a positive integer`},
		{`"vocab_size": 1152921504606846976`, `"vocab_size": 1152921504606846976 is too large`},
		{`"vocab_size": 16777217`, `"vocab_size" is 16777217, more than any model has`},
		{`"hidden_size": -32`, `"hidden_size" must be a positive integer`},
		{`"hidden_size": 262144, "head_dim": 8`, `"hidden_size" is 262144`},
		{`"intermediate_size": 0`, `"intermediate_size" must be a positive integer`},
		{`"intermediate_size": 2097152`, `"intermediate_size" is 2097152`},
		{`"num_hidden_layers": 1000000000000`, `"num_hidden_layers" is 1000000000000`},
		{`"num_hidden_layers": 1e13`, `"num_hidden_layers": 10000000000000 is too large`},
		{`"num_hidden_layers": 2.5`, `"num_hidden_layers": want an integer`},
		{`"num_attention_heads": 0`, `"num_attention_heads" must be a positive integer`},
		{`"num_attention_heads": 8192, "num_key_value_heads": 1, "head_dim": 2`, `"num_attention_heads" is 8192`},
		{`"num_key_value_heads": 0`, `"num_key_value_heads" must be a positive integer`},
		{`"num_key_value_heads": 3`, `num_attention_heads (4) is not a multiple of num_key_value_heads (3)`},
		{`"num_attention_heads": 6, "num_key_value_heads": 6`, `hidden_size (32) is not a multiple of num_attention_heads (6)`},
		{`"head_dim": 0`, `"head_dim" must be a positive integer`},
		{`"head_dim": 7`, `head_dim 7 must be even`},
		{`"head_dim": 8192`, `"head_dim" is 8192`},
		{`"num_attention_heads": 4096, "num_key_value_heads": 1, "head_dim": 4096`, `num_attention_heads × head_dim is 4096 × 4096 = 16777216`},
		{`"max_position_embeddings": 0`, `"max_position_embeddings" must be a positive integer`},
		{`"max_position_embeddings": 1099511627776`, `"max_position_embeddings" is 1099511627776`},
		{`"rms_norm_eps": 0`, `"rms_norm_eps" must be in (0, 1)`},
		{`"rms_norm_eps": 2`, `"rms_norm_eps" must be in (0, 1)`},
		{`"rope_theta": 0`, `"rope_theta" must be a finite number ≥ 1`},
		{`"rope_theta": -10000`, `"rope_theta" must be a finite number ≥ 1`},
		{`"rope_theta": 1e-300`, `"rope_theta" must be a finite number ≥ 1`},
		{`"rope_scaling": {"type": "linear", "factor": 1e-9}`, `"rope_scaling": factor must be in [0.001, 1e6]`},
		{`"rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": -2, "high_freq_factor": 4}`, `"rope_scaling": low_freq_factor must be in [0, 1e6]`},
		{`"rope_scaling": {"rope_type": "llama3", "factor": 8, "original_max_position_embeddings": 1e12}`, `"rope_scaling": original_max_position_embeddings must be in [0, 16777216]`},
		{`"architectures": ["MistralForCausalLM"], "sliding_window": -1`, `"sliding_window" must be in [0, 16777216]`},
		{`"bos_token_id": -1`, `"bos_token_id": token id -1 is outside the vocabulary [0, 64)`},
		{`"eos_token_id": [2, 64]`, `"eos_token_id": token id 64 is outside the vocabulary [0, 64)`},
	} {
		_, err := ParseConfig([]byte(limitsBase+", "+tc.extra+"}"), "config.json")
		if err == nil || !strings.HasPrefix(err.Error(), "config.json: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.extra, err, tc.want)
		}
	}
}

// FuzzParseConfig: any config.json bytes give a Config or an error naming
// the file, never a panic; an accepted Config has sizes within the limits,
// and what is computed from them (parameter count, rotary frequencies,
// the layer's linear modules) is finite and consistent. Seeds: the
// reference models' config.json files (testdata/ref) and
// testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "ref", "*", "config.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no reference configs: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(limitsBase + `, "rope_parameters": {"rope_theta": 1e6, "rope_type": "llama3", "factor": 32, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 8192}}`))
	f.Add([]byte(`{"model_type": "qwen2", "vocab_size": 2, "hidden_size": 4, "intermediate_size": 1, "num_hidden_layers": 1, "num_attention_heads": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "f.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.json: ") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if err := c.validateSizes("again", keysOf(c.ModelType)); err != nil {
			t.Fatalf("accepted config fails its own checks: %v", err)
		}
		if n := c.NumParams(); n <= 0 {
			t.Fatalf("NumParams() = %d", n)
		}
		if len(c.LayerLinears()) == 0 {
			t.Fatal("no linear modules in a layer")
		}
		for i, v := range c.InvFreq() {
			if !(v >= 0) || math.IsInf(v, 0) {
				t.Fatalf("inv_freq[%d] = %g", i, v)
			}
		}
		// Raw is what a merged model's config.json is written from: it
		// must survive a round trip through JSON and parse the same.
		js, err := json.Marshal(c.Raw)
		if err != nil {
			t.Fatalf("Raw does not marshal: %v", err)
		}
		c2, err := ParseConfig(js, "again")
		if err != nil {
			t.Fatalf("re-encoded config: %v", err)
		}
		if c2.NumParams() != c.NumParams() || c2.HeadDim != c.HeadDim || c2.RopeTheta != c.RopeTheta {
			t.Fatalf("re-encoded config differs: %+v vs %+v", c2, c)
		}
	})
}
