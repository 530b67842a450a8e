package cfgfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// options is a struct shaped like golora train's options.
type options struct {
	Rank      int      `json:"rank"`
	Alpha     float64  `json:"alpha"`
	Targets   string   `json:"targets"`
	Layers    []int    `json:"layers"`
	LR        float64  `json:"lr"`
	Schedule  string   `json:"lr-schedule"`
	Steps     int      `json:"steps"`
	BatchSize int      `json:"batch-size"`
	MaxSeqLen int      `json:"max-seq-len"`
	Ckpt      *bool    `json:"grad-checkpoint,omitempty"`
	Seed      uint64   `json:"seed"`
	Epochs    float64  `json:"epochs"`
	Extra     []string `json:"-"`
}

var aliases = map[string]Alias{
	"r": {Key: "rank"}, "lora_alpha": {Key: "alpha"}, "target_modules": {Key: "targets"},
	"learning_rate": {Key: "lr"}, "max_steps": {Key: "steps", Unset: -1}, "max_seq_length": {Key: "max-seq-len"},
	"max_length": {Key: "max-seq-len"}, "per_device_train_batch_size": {Key: "batch-size"},
}

func load(t *testing.T, name, text string) (options, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	o := options{Rank: 8, Alpha: 16, Steps: 5, BatchSize: 4}
	return o, Load(path, &o, aliases)
}

func TestLoad(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name, file, text string
		want             options
	}{
		{"json keys", "c.json", `{"rank": 4, "lr": 0.01, "targets": "q_proj,v_proj", "layers": [0, 1], "grad-checkpoint": true}`,
			options{Rank: 4, Alpha: 16, Steps: 5, BatchSize: 4, LR: 0.01, Targets: "q_proj,v_proj", Layers: []int{0, 1}, Ckpt: &yes}},
		{"yaml keys", "c.yaml", "rank: 4\nlr: 2e-4\nlr-schedule: cosine\nlayers: [2]\nseed: 18446744073709551615\n",
			options{Rank: 4, Alpha: 16, Steps: 5, BatchSize: 4, LR: 2e-4, Schedule: "cosine", Layers: []int{2}, Seed: 1<<64 - 1}},
		{"yml", "c.yml", "epochs: 1.5\n", options{Rank: 8, Alpha: 16, Steps: 5, BatchSize: 4, Epochs: 1.5}},
		{"peft names", "peft.yaml", "r: 16\nlora_alpha: 32\ntarget_modules: [q_proj, k_proj, v_proj]\nlearning_rate: 1.0e-4\n" +
			"per_device_train_batch_size: 2\nmax_seq_length: 1024\n",
			options{Rank: 16, Alpha: 32, Targets: "q_proj,k_proj,v_proj", LR: 1e-4, Steps: 5, BatchSize: 2, MaxSeqLen: 1024}},
		{"target_modules as a string", "c.json", `{"target_modules": "all-linear"}`,
			options{Rank: 8, Alpha: 16, Targets: "all-linear", Steps: 5, BatchSize: 4}},
		{"underscores for dashes", "c.json", `{"batch_size": 8, "max_seq_len": 64}`,
			options{Rank: 8, Alpha: 16, Steps: 5, BatchSize: 8, MaxSeqLen: 64}},
		{"same setting twice, same value", "c.yaml", "r: 8\nrank: 8.0\nmax_length: 256\nmax_seq_length: 256\n",
			options{Rank: 8, Alpha: 16, Steps: 5, BatchSize: 4, MaxSeqLen: 256}},
		{"max_steps -1 is unset", "c.json", `{"max_steps": -1}`, options{Rank: 8, Alpha: 16, Steps: 5, BatchSize: 4}},
		{"JSON by content", "config", ` {"rank": 2}`, options{Rank: 2, Alpha: 16, Steps: 5, BatchSize: 4}},
		{"YAML by content", "config", "rank: 2\n", options{Rank: 2, Alpha: 16, Steps: 5, BatchSize: 4}},
		{"empty YAML", "c.yaml", "", options{Rank: 8, Alpha: 16, Steps: 5, BatchSize: 4}},
	} {
		got, err := load(t, tc.file, tc.text)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, text string
		want             []string
	}{
		{"unknown key", "c.yaml", "lerning_rate: 0.1\n", []string{"c.yaml: ", `unknown key "lerning_rate" (did you mean "learning_rate"?)`}},
		{"unknown golora key", "c.json", `{"rnak": 4}`, []string{`unknown key "rnak" (did you mean "rank"?)`}},
		{"unknown, nothing near", "c.json", `{"zzzzzzzz": 4}`, []string{`unknown key "zzzzzzzz"; known keys: alpha, `}},
		{"conflict", "c.yaml", "r: 16\nrank: 8\n", []string{`"r" and "rank" both set rank, to 16 and 8`}},
		{"conflicting lists", "c.yaml", "targets: q_proj\ntarget_modules: [q_proj, v_proj]\n",
			[]string{`"target_modules" and "targets" both set targets, to "q_proj,v_proj" and "q_proj"`}},
		{"type of an alias", "c.yaml", "r: sixteen\n", []string{"c.yaml: r: want an integer, got \"sixteen\""}},
		{"type of a key", "c.json", `{"lr": "fast"}`, []string{`lr: want a number, got "fast"`}},
		{"fraction for an integer", "c.json", `{"rank": 2.5}`, []string{`rank: want an integer, got 2.5`}},
		{"negative seed", "c.yaml", "seed: -1\n", []string{`seed: want an integer`}},
		{"list of words for numbers", "c.yaml", "layers: [a]\n", []string{`layers: want a list of integers, got ["a"]`}},
		{"bad JSON", "c.json", `{"rank": }`, []string{"c.json: not a JSON object of settings"}},
		{"two JSON objects", "c.json", `{"rank": 1} {}`, []string{"data after it"}},
		{"bad YAML", "c.yaml", "rank: [1\n", []string{"c.yaml: not a YAML mapping of settings", "line"}},
		{"YAML list", "c.yaml", "- 1\n", []string{"not a YAML mapping"}},
	} {
		_, err := load(t, tc.file, tc.text)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", tc.name, err, w)
			}
		}
	}
	if err := Load(filepath.Join(t.TempDir(), "missing.yaml"), &options{}, nil); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// The keys of an embedded struct are keys of the outer one, as for
// encoding/json (finetune's options embed the training configuration).
func TestLoadEmbedded(t *testing.T) {
	type outer struct {
		options
		Out string `json:"out"`
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("r: 4\nout: dir\nmax_seq_length: 64\n"), 0o644)
	var o outer
	if err := Load(path, &o, aliases); err != nil || o.Rank != 4 || o.Out != "dir" || o.MaxSeqLen != 64 {
		t.Errorf("%+v, %v", o, err)
	}
	os.WriteFile(path, []byte("rnak: 4\n"), 0o644)
	if err := Load(path, &o, aliases); err == nil || !strings.Contains(err.Error(), `(did you mean "rank"?)`) {
		t.Errorf("unknown key in an embedded struct: %v", err)
	}
	os.WriteFile(path, []byte("r: many\n"), 0o644)
	if err := Load(path, &o, aliases); err == nil || !strings.HasSuffix(err.Error(), `: r: want an integer, got "many"`) {
		t.Errorf("type error in an embedded struct: %v", err)
	}
}
