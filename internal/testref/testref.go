// Package testref loads testdata/ref/lora_train (and its Qwen3, GPT-2 and
// Phi-3 twins) for tests: six AdamW steps of a PEFT adapter computed by
// PyTorch (float64), with and without gradient accumulation, on a tiny
// Llama (Qwen3, GPT-2, Phi-3).
package testref

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/golora/golora/data"
)

// Dir is testdata/ref/lora_train: the model (config.json,
// model.safetensors), adapter_init/ and expected.json.
func Dir() string { return DirOf("lora_train") }

// Fixtures are the training fixtures, each a directory of testdata/ref
// laid out as Dir is: lora_train (Llama), qwen3_lora_train (Qwen3),
// gpt2_lora_train (GPT-2), gemma2_lora_train (Gemma 2, soft-capped),
// phi3_lora_train (Phi-3: adapters on the fused qkv_proj and gate_up_proj)
// and dora_train (Llama with a DoRA adapter, testdata/ref/make_dora.py).
var Fixtures = []string{"lora_train", "qwen3_lora_train", "gpt2_lora_train", "gemma2_lora_train", "phi3_lora_train", "dora_train"}

// DirOf is the directory of the training fixture name (one of Fixtures).
func DirOf(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "ref", name)
}

// Step is one optimizer step PyTorch made (Step is 0-based).
type Step struct {
	Step     int     `json:"step"`
	LR       float64 `json:"lr"`
	Loss     float64 `json:"loss"`
	GradNorm float64 `json:"grad_norm"`
}

// Train is expected.json: the sequences, the steps of each run ("accum1":
// batch 2; "accum2": batch 1, two micro-batches) and the adapter after
// accum1's last step, by PEFT tensor name.
type Train struct {
	IDs    [][]int `json:"ids"`
	Labels [][]int `json:"labels"`
	Train  map[string]struct {
		Steps []Step `json:"steps"`
	} `json:"train"`
	Final map[string]json.RawMessage `json:"final"`
}

// Load reads lora_train's expected.json.
func Load(t testing.TB) Train {
	t.Helper()
	return LoadDir(t, Dir())
}

// LoadDir reads the expected.json of the training fixture in dir.
func LoadDir(t testing.TB, dir string) Train {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Train
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Examples are the fixture's sequences with their masked labels.
func (r Train) Examples() []data.Example {
	exs := make([]data.Example, len(r.IDs))
	for i := range r.IDs {
		exs[i] = data.Example{IDs: r.IDs[i], Labels: r.Labels[i]}
	}
	return exs
}

// WriteIDs writes the fixture's sequences as pre-tokenized jsonl into a
// temporary directory and returns its path.
func (r Train) WriteIDs(t testing.TB) string {
	t.Helper()
	var b bytes.Buffer
	for i := range r.IDs {
		line, _ := json.Marshal(map[string]any{"input_ids": r.IDs[i], "labels": r.Labels[i]})
		b.Write(append(line, '\n'))
	}
	path := filepath.Join(t.TempDir(), "train.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Flat flattens a JSON number or nested array of numbers.
func Flat(v any) []float64 {
	switch v := v.(type) {
	case float64:
		return []float64{v}
	case []any:
		var out []float64
		for _, e := range v {
			out = append(out, Flat(e)...)
		}
		return out
	}
	return nil
}
