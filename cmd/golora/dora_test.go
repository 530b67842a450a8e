package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/safetensors"
)

// golora train --dora (or use_dora in a config file) trains a DoRA
// adapter, on a 4-bit base too: its adapter_config.json says use_dora, it
// has a lora_magnitude_vector per module, and (on the float32 base, where
// they start at ‖W_j‖ of the stored weights) training moved them.
func TestTrainDoRA(t *testing.T) {
	base := filepath.Join(ref, "dora_train")
	data := filepath.Join(t.TempDir(), "data.jsonl")
	os.WriteFile(data, []byte(`{"input_ids": [1, 2, 3, 4, 5, 6]}`+"\n"+`{"input_ids": [7, 8, 9, 10], "labels": [-100, -100, 9, 10]}`+"\n"), 0o644)
	cfgFile := filepath.Join(t.TempDir(), "train.json")
	os.WriteFile(cfgFile, []byte(`{"use_dora": true, "target_modules": ["q_proj", "down_proj"]}`), 0o644)
	for _, tc := range []struct {
		name    string
		args    []string
		fourBit bool
	}{
		{"flag, nf4, gaussian", []string{"--dora", "--targets", "q_proj,down_proj", "--quantize", "nf4", "--init", "gaussian"}, true},
		{"config file", []string{"--config", cfgFile}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "adapter")
			args := append([]string{"train", "--model", base, "--data", data, "--out", out, "--steps", "3", "--lr", "0.05"}, tc.args...)
			if _, errs, code := golora(t, args...); code != 0 {
				t.Fatalf("train: exit %d: %s", code, errs)
			}
			f, err := lora.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Config.DoRA || len(f.Modules) != 4 {
				t.Fatalf("use_dora %v, %d modules; want a DoRA adapter on 4 modules", f.Config.DoRA, len(f.Modules))
			}
			w, err := safetensors.Open(filepath.Join(base, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for _, mod := range f.Modules {
				if !strings.HasSuffix(mod.MName, ".lora_magnitude_vector") || mod.M.Cols != mod.B.Rows {
					t.Fatalf("%s: magnitude %q of %d values", mod.Path, mod.MName, mod.M.Cols)
				}
				if tc.fourBit {
					continue
				}
				wt, _ := w.Tensor(mod.Path + ".weight")
				W, err := wt.F32()
				if err != nil {
					t.Fatal(err)
				}
				in := len(W) / mod.M.Cols
				moved := false
				for j, m := range mod.M.F32 {
					var ss float64
					for _, v := range W[j*in : (j+1)*in] {
						ss += float64(v) * float64(v)
					}
					if d := float64(m)*float64(m) - ss; d > 1e-3*ss || d < -1e-3*ss {
						moved = true
					}
				}
				if !moved {
					t.Errorf("%s: the magnitudes are still ‖W_j‖ after training", mod.Path)
				}
			}
			if _, errs, code := golora(t, "logits", "--model", base, "--adapter", out, "--ids", "1,2,3"); code != 0 {
				t.Errorf("logits with the trained adapter: %s", errs)
			}
		})
	}
	if _, errs, code := golora(t, "train", "--model", base, "--data", data, "--out", t.TempDir(), "--steps", "1", "--dora", "--full"); code == 0 || !strings.Contains(errs, "--dora") {
		t.Errorf("--dora --full: exit %d, %s", code, errs)
	}
}

// combine and export gguf refuse a DoRA adapter by name; golora mem --dora
// counts one magnitude per output row of every adapted module.
func TestDoRARefusalsAndMem(t *testing.T) {
	base := filepath.Join(ref, "dora_train")
	adapter := filepath.Join(base, "adapter_init")
	for _, args := range [][]string{
		{"combine", "--model", base, "--adapter", adapter, "--method", "cat", "--out", filepath.Join(t.TempDir(), "c")},
		{"export", "gguf", "--model", base, "--adapter", adapter, "--out", filepath.Join(t.TempDir(), "a.gguf")},
	} {
		_, errs, code := golora(t, args...)
		if code == 0 || !strings.Contains(errs, adapter) || !strings.Contains(errs, "DoRA adapter") {
			t.Errorf("%s: exit %d, %s; want a refusal naming %s as a DoRA adapter", args[0], code, errs, adapter)
		}
	}
	var b [2]mem.Breakdown
	for i, dora := range []bool{false, true} {
		args := []string{"mem", "--model", base, "--targets", "q_proj,down_proj", "--seq-len", "16", "--json"}
		if dora {
			args = append(args, "--dora")
		}
		stdout, errs, code := golora(t, args...)
		if code != 0 {
			t.Fatalf("mem: %s", errs)
		}
		if err := json.Unmarshal([]byte(stdout), &b[i]); err != nil {
			t.Fatal(err)
		}
	}
	// q_proj's 32 and down_proj's 32 outputs in each of 2 layers.
	if d := b[1].TrainableParams - b[0].TrainableParams; d != 2*(32+32) {
		t.Errorf("--dora adds %d trainable parameters, want 128", d)
	}
	if b[1].ActivationsBytes <= b[0].ActivationsBytes || b[1].OptimizerBytes != b[0].OptimizerBytes+8*128 {
		t.Errorf("--dora: activations %d (without %d), optimizer %d (without %d)", b[1].ActivationsBytes, b[0].ActivationsBytes, b[1].OptimizerBytes, b[0].OptimizerBytes)
	}
}
