package cfgfile

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecode: any JSON or YAML settings give the struct or an error, never
// a panic; a file that decodes, written back as JSON under the struct's
// keys, decodes to the same struct. Seeds: the settings files of
// TestLoad's kinds and testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"rank": 4, "lr": 0.01, "targets": "q_proj,v_proj", "layers": [0, 1], "grad-checkpoint": true}`,
		`{"r": 16, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"], "max_steps": -1, "seed": 18446744073709551615}`,
		"r: 16\nlora_alpha: 32\ntarget_modules: [q_proj, v_proj]\nlearning_rate: 2e-4\nbatch_size: 2\nmax_seq_length: 512\n",
		"rank: 8\nr: 8\nepochs: 1.5\ngrad_checkpoint: yes\nlayers:\n  - 0\n  - 3\n",
		"&a {rank: *a}",
	} {
		f.Add([]byte(s), s[0] == '{')
	}
	f.Fuzz(func(t *testing.T, raw []byte, asJSON bool) {
		if len(raw) > 1<<12 {
			return // yaml's alias expansion makes long inputs slow, not wrong
		}
		var o options
		if err := decode(raw, asJSON, &o, aliases); err != nil {
			return
		}
		js, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("marshal %+v: %v", o, err)
		}
		var again options
		if err := decode(js, true, &again, aliases); err != nil {
			t.Fatalf("%s does not decode: %v", js, err)
		}
		if !reflect.DeepEqual(o, again) {
			t.Fatalf("round trip: %+v, then %+v", o, again)
		}
	})
}
