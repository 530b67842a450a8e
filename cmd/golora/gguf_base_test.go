package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestTrainMergeGGUFBase: golora mem on a q8_0 GGUF counts its blocks;
// golora train on it, whose matrices are held in their blocks, checkpoints gradients by default (as on a 4-bit
// base) and writes an adapter that loads on the GGUF; merge folds it into
// a float32 Hugging Face directory whose logits are the GGUF's with the
// adapter and which tokenizes and generates as the GGUF does, and quantize writes a float32 directory with nf4 linears.
func TestTrainMergeGGUFBase(t *testing.T) {
	dir, hf := t.TempDir(), tinyModelSized(t, 64, 96)
	g := filepath.Join(dir, "m.gguf")
	if _, errs, code := golora(t, "export", "gguf", "--model", hf, "--out", g, "--outtype", "q8_0", "--pre", "gpt-2"); code != 0 {
		t.Fatal(errs)
	}
	// mem reads the GGUF: its q8_0 matrices take about half the bytes of
	// the bf16 checkpoint's, and it predicts checkpointed activations.
	var fromGGUF, fromHF, hfCkpt struct {
		Weights     int64 `json:"weights_bytes"`
		Activations int64 `json:"activations_bytes"`
	}
	for _, c := range []struct {
		v    any
		args []string
	}{{&fromGGUF, []string{"--model", g}}, {&fromHF, []string{"--model", hf, "--dtype", "bfloat16"}}, {&hfCkpt, []string{"--model", hf, "--grad-checkpoint"}}} {
		out, errs, code := golora(t, append([]string{"mem", "--json", "--rank", "4"}, c.args...)...)
		if code != 0 {
			t.Fatalf("mem %v: %s", c.args, errs)
		}
		if err := json.Unmarshal([]byte(out), c.v); err != nil {
			t.Fatal(err)
		}
	}
	if r := float64(fromGGUF.Weights) / float64(fromHF.Weights); r < 0.45 || r > 0.65 || fromGGUF.Activations != hfCkpt.Activations {
		t.Errorf("mem of the q8_0 GGUF: weights %d bytes (%.2f of bf16's %d), activations %d (want checkpointed %d)",
			fromGGUF.Weights, r, fromHF.Weights, fromGGUF.Activations, hfCkpt.Activations)
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
	// export gguf from the GGUF base: the adapter merged into a new GGUF
	// (logits of the base with the adapter), and the adapter alone.
	m2 := filepath.Join(dir, "merged.gguf")
	if _, errs, code := golora(t, "export", "gguf", "--model", g, "--merge", run, "--out", m2); code != 0 {
		t.Fatalf("export gguf --merge from a GGUF base: %s", errs)
	}
	got2, errs, code := golora(t, "logits", "--model", m2, "--ids", ids)
	if code != 0 {
		t.Fatal(errs)
	}
	if e := maxRelErr(t, parseLogits(t, got2), parseLogits(t, withAdapter)); e > 1e-4 {
		t.Errorf("logits of the GGUF exported with the adapter merged differ from the GGUF base + adapter by %.3g", e)
	}
	if _, errs, code := golora(t, "export", "gguf", "--model", g, "--adapter", run, "--out", filepath.Join(dir, "a.gguf")); code != 0 {
		t.Errorf("export gguf --adapter on a GGUF base: %s", errs)
	}
	// The merged directory has the GGUF's tokenizer: tokenize and generate
	// from it as from the GGUF with the adapter.
	text := "the quick brown fox<|endoftext|> jumps"
	for _, c := range []struct{ merged, gguf []string }{
		{[]string{"tokenize", "--text", text, "--tokenizer", merged}, []string{"tokenize", "--text", text, "--tokenizer", g}},
		{[]string{"generate", "--prompt", "the lazy dog", "--max-tokens", "6", "--temperature", "0", "--json", "--model", merged},
			[]string{"generate", "--prompt", "the lazy dog", "--max-tokens", "6", "--temperature", "0", "--json", "--model", g, "--adapter", run}},
	} {
		got, errs, code := golora(t, c.merged...)
		if code != 0 {
			t.Fatalf("%s from the merged directory: %s", c.merged[0], errs)
		}
		want, errs, code := golora(t, c.gguf...)
		if code != 0 {
			t.Fatalf("%s from the GGUF: %s", c.gguf[0], errs)
		}
		var gotV, wantV map[string]any // but the speed
		if json.Unmarshal([]byte(got), &gotV) != nil || json.Unmarshal([]byte(want), &wantV) != nil || gotV["ids"] == nil {
			t.Fatalf("%s: output %q, %q", c.merged[0], got, want)
		}
		delete(gotV, "tokens_per_sec")
		delete(wantV, "tokens_per_sec")
		if !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("%s from the merged directory: %s\nfrom the GGUF: %s", c.merged[0], got, want)
		}
	}
	// quantize to nf4 from the GGUF: the rest of the weights stored float32.
	q := filepath.Join(dir, "nf4")
	if _, errs, code := golora(t, "quantize", "--model", g, "--out", q, "--type", "nf4"); code != 0 {
		t.Fatalf("quantize a GGUF: %s", errs)
	}
	for _, d := range []string{merged, q} {
		if cfg := string(must(os.ReadFile(filepath.Join(d, "config.json")))); !strings.Contains(cfg, `"torch_dtype": "float32"`) {
			t.Errorf("%s/config.json: want torch_dtype float32:\n%s", d, cfg)
		}
	}
	if _, errs, code := golora(t, "logits", "--model", q, "--ids", ids); code != 0 {
		t.Errorf("logits of the nf4 model: %s", errs)
	}
}
