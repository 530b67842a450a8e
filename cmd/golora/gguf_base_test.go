package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainMergeGGUFBase: golora train on a q8_0 GGUF, whose matrices are
// held in their blocks, checkpoints gradients by default (as on a 4-bit
// base) and writes an adapter that loads on the GGUF; merge folds it into
// a float32 Hugging Face directory whose logits are the GGUF's with the
// adapter.
func TestTrainMergeGGUFBase(t *testing.T) {
	dir := t.TempDir()
	g := filepath.Join(dir, "m.gguf")
	if _, errs, code := golora(t, "export", "gguf", "--model", tinyModelSized(t, 64, 96), "--out", g, "--outtype", "q8_0", "--pre", "gpt-2"); code != 0 {
		t.Fatal(errs)
	}
	data := filepath.Join(dir, "d.jsonl")
	os.WriteFile(data, []byte(`{"input_ids": [1, 2, 3, 4, 5, 6]}`+"\n"+`{"input_ids": [7, 8, 9, 10, 11]}`+"\n"), 0o644)
	run := filepath.Join(dir, "run")
	if _, errs, code := golora(t, "train", "--model", g, "--data", data, "--out", run, "--steps", "2", "--rank", "4", "--lr", "0.05", "--batch-size", "2"); code != 0 {
		t.Fatalf("train on a GGUF: %s", errs)
	}
	info := string(must(os.ReadFile(filepath.Join(run, "run.json"))))
	if !strings.Contains(info, `"grad-checkpoint": true`) {
		t.Errorf("a quantized GGUF base should checkpoint gradients by default: %s", info)
	}
	ids := "3,1,4,1,5,9"
	withAdapter, errs, code := golora(t, "logits", "--model", g, "--adapter", run, "--ids", ids)
	if code != 0 {
		t.Fatal(errs)
	}
	merged := filepath.Join(dir, "merged")
	out, errs, code := golora(t, "merge", "--model", g, "--adapter", run, "--out", merged)
	if code != 0 || !strings.Contains(out, "stored as F32") {
		t.Fatalf("merge into a GGUF base: exit %d, %s%s", code, out, errs)
	}
	got, errs, code := golora(t, "logits", "--model", merged, "--ids", ids)
	if code != 0 {
		t.Fatal(errs)
	}
	if e := maxRelErr(t, parseLogits(t, got), parseLogits(t, withAdapter)); e > 1e-4 {
		t.Errorf("merged logits differ from the GGUF base + adapter by %.3g", e)
	}
}
