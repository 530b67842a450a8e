package lora

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParseConfig: any adapter_config.json bytes give a Config or an error
// naming the file, never a panic; a Config that parses, written as golora
// writes it (peftJSON, what Save stores), parses to the same Config, and
// writing that again gives the same bytes. Seeds: the reference adapters'
// adapter_config.json (testdata/ref/lora_train) and
// testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "ref", "lora_train", "*", ConfigFile))
	if err != nil || len(files) == 0 {
		f.Fatalf("no reference adapter configs: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"r": 8, "lora_alpha": 16, "target_modules": ".*\\.(q|v)_proj", "layers_to_transform": 3, "init_lora_weights": "gaussian", "extra": [1, {"k": null}]}`,
		`{"peft_type": "LORA", "r": 4, "target_modules": "all-linear", "use_rslora": true, "lora_dropout": 0.1, "base_model_name_or_path": "m"}`,
		`{"r": 2, "target_modules": ["v_proj", "q_proj", "q_proj"], "layers_to_transform": [1, 0], "rank_pattern": {}, "bias": "none"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "f.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.json: ") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		js, err := c.peftJSON()
		if err != nil {
			t.Fatalf("writing a parsed config: %v", err)
		}
		c2, err := ParseConfig(js, "written.json")
		if err != nil {
			t.Fatalf("the written config does not parse: %v\n%s", err, js)
		}
		if !sameConfig(c, c2) {
			t.Fatalf("written config parses to\n%+v\nnot\n%+v", c2, c)
		}
		if js2, err := c2.peftJSON(); err != nil || !bytes.Equal(js, js2) {
			t.Fatalf("writing is not a fixed point (%v):\n%s\n%s", err, js, js2)
		}
	})
}

// sameConfig compares the fields golora uses; target lists are sets (PEFT
// keeps target_modules as a set, and golora writes it sorted).
func sameConfig(a, b *Config) bool {
	ta, tb := slices.Sorted(slices.Values(a.Targets)), slices.Sorted(slices.Values(b.Targets))
	return a.R == b.R && a.Alpha == b.Alpha && a.Dropout == b.Dropout && a.RSLoRA == b.RSLoRA &&
		a.Init == b.Init && slices.Equal(ta, tb) && a.TargetRegex == b.TargetRegex &&
		reflect.DeepEqual(a.Layers, b.Layers) && a.BaseModel == b.BaseModel && a.Bias == b.Bias
}

// TestParseConfigRefusesNonsense: numbers and patterns that used to pass
// into a Config (an r that overflows int, fractional or negative layers, a
// target regex that escapes its anchoring group) are refused by field.
func TestParseConfigRefusesNonsense(t *testing.T) {
	for _, tc := range []struct{ js, want string }{
		{`{"r": 1e20, "target_modules": ["q_proj"]}`, `field "r": want an integer in [1, 65536], got 1e+20`},
		{`{"r": 65537, "target_modules": ["q_proj"]}`, `field "r": want an integer in [1, 65536]`},
		{`{"r": 2, "target_modules": ["q_proj"], "layers_to_transform": 1.5}`, `field "layers_to_transform": want layer numbers in [0, 65536], got 1.5`},
		{`{"r": 2, "target_modules": ["q_proj"], "layers_to_transform": [0, -1]}`, `field "layers_to_transform": want layer numbers in [0, 65536], got -1`},
		{`{"r": 2, "target_modules": ["q_proj"], "layers_to_transform": [1e300]}`, `field "layers_to_transform"`},
		{`{"r": 2, "target_modules": "q_proj)|(.*"}`, `target regex: error parsing regexp: unexpected )`},
		{`{"r": 2, "target_modules": ["q_proj"], "lora_dropout": "0.1"}`, `field "lora_dropout": want a number in [0, 1), got 0.1`},
		{`{"r": 2, "target_modules": ["q_proj"], "lora_dropout": 1.5}`, `field "lora_dropout": want a number in [0, 1), got 1.5`},
		{`{"r": 2, "target_modules": ["q_proj"], "use_rslora": "yes"}`, `field "use_rslora": want true or false, got yes`},
	} {
		_, err := ParseConfig([]byte(tc.js), "a.json")
		if err == nil || !strings.HasPrefix(err.Error(), "a.json: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.js, err, tc.want)
		}
	}
}
