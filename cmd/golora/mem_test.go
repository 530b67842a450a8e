package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

// defaultPrediction is mem's prediction for golora train's defaults.
func defaultPrediction(t *testing.T, c *model.Config, method mem.Method) mem.Breakdown {
	t.Helper()
	d := finetune.Defaults()
	b, err := mem.Predict(c, mem.Options{Method: method, DTypeSize: 4, Rank: d.Rank, Targets: d.Targets,
		Batch: d.BatchSize, Threads: tensor.Threads(), SeqLen: d.MaxSeqLen, DoubleQuant: d.DoubleQuant, GradCheckpoint: d.Checkpointing(method == mem.QLoRA)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Without flags, mem and bench train describe the run golora train would
// make with its defaults.
func TestMemAndBenchDefaultToTrainDefaults(t *testing.T) {
	// lora_train's shape with room for train's default sequence length.
	raw, err := os.ReadFile(filepath.Join(ref, "lora_train", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	json.Unmarshal(raw, &cfg)
	cfg["max_position_embeddings"] = 2 * finetune.Defaults().MaxSeqLen
	raw, _ = json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, raw, 0o644)
	c, err := model.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []mem.Method{mem.LoRA, mem.QLoRA} {
		want := defaultPrediction(t, c, method)
		for _, args := range [][]string{
			{"mem", "--model-config", path, "--method", string(method), "--json"},
			{"mem", "--model", filepath.Dir(path), "--method", string(method), "--json"},
		} {
			stdout, stderr, code := golora(t, args...)
			if code != 0 {
				t.Fatalf("%q: exit %d: %s", args, code, stderr)
			}
			var got mem.Breakdown
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%q predicts\n%+v\nwant train's defaults'\n%+v", args, got, want)
			}
		}
		stdout, stderr, code := golora(t, "bench", "train", "--model-config", path, "--method", string(method), "--steps", "1")
		if code != 0 {
			t.Fatalf("bench train: exit %d: %s", code, stderr)
		}
		var r struct {
			Tokens    int   `json:"tokens_per_step"`
			Trainable int64 `json:"trainable_params"`
			Predicted int64 `json:"predicted_bytes"`
		}
		json.Unmarshal([]byte(stdout), &r)
		d := finetune.Defaults()
		if r.Tokens != d.BatchSize*d.MaxSeqLen || r.Trainable != want.TrainableParams || r.Predicted != want.TotalBytes {
			t.Errorf("bench train %s ran %+v; want %d tokens a step, %d trainable, %d bytes predicted",
				method, r, d.BatchSize*d.MaxSeqLen, want.TrainableParams, want.TotalBytes)
		}
	}
	// --config is the training options file, never the model's config.json.
	if _, stderr, code := golora(t, "mem", "--config", path); code != 2 || !strings.Contains(stderr, "unknown flag --config") {
		t.Errorf("mem --config: exit %d, %q", code, stderr)
	}
	if _, stderr, code := golora(t, "mem"); code != 2 || !strings.Contains(stderr, "--model-config FILE or --model DIR") {
		t.Errorf("mem without a model: exit %d, %q", code, stderr)
	}
}
