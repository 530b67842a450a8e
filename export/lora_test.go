package export

import (
	"bytes"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// TestLoRAMatchesConverter exports testdata/adapter for the llama and qwen2
// bases and compares with what llama.cpp's convert_lora_to_gguf.py wrote
// from the same adapter (testdata/make_fixtures.py): the same metadata
// (general.name, which the converter guesses from the directory name,
// aside) and the same tensors in the same order, byte for byte.
func TestLoRAMatchesConverter(t *testing.T) {
	for _, c := range []struct{ base, outtype string }{
		{"llama", "f32"}, {"llama", "f16"}, {"llama", "bf16"}, {"llama", "q8_0"}, {"qwen2", "f32"},
	} {
		t.Run(c.base+"_"+c.outtype, func(t *testing.T) {
			cfg, err := model.LoadConfig(filepath.Join("testdata", c.base, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "a.gguf")
			if err := WriteLoRA(out, cfg, "testdata/adapter", OutTypes[c.outtype]); err != nil {
				t.Fatal(err)
			}
			got, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			want, err := gguf.Open(filepath.Join("testdata", c.base+"_"+c.outtype+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			var wantMeta []gguf.KV
			for _, kv := range want.Metadata() {
				if kv.Key != "general.name" {
					wantMeta = append(wantMeta, kv)
				}
			}
			if !reflect.DeepEqual(got.Metadata(), wantMeta) {
				t.Errorf("metadata\n got %v\nwant %v", got.Metadata(), wantMeta)
			}
			gt, wt := got.Tensors(), want.Tensors()
			if len(gt) != len(wt) {
				t.Fatalf("%d tensors, the converter wrote %d", len(gt), len(wt))
			}
			for i := range wt {
				g, w := gt[i], wt[i]
				if g.Name != w.Name || g.Type != w.Type || !reflect.DeepEqual(g.Shape, w.Shape) {
					t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, g.Name, g.Type, g.Shape, w.Name, w.Type, w.Shape)
				} else if !bytes.Equal(g.Data, w.Data) {
					t.Errorf("tensor %s: data differs from the converter's", g.Name)
				}
			}
		})
	}
}

// TestLoRARSLoRAAlpha: llama.cpp scales by alpha/r, so an rsLoRA adapter
// (s = alpha/√r) is written with alpha·√r; a plain one with alpha.
func TestLoRARSLoRAAlpha(t *testing.T) {
	ad, err := lora.ReadDir("testdata/adapter")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.LoadConfig("testdata/llama/config.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range []bool{false, true} {
		c := *ad.Config
		c.RSLoRA = rs
		a := *ad
		a.Config = &c
		meta, _, err := LoRA(cfg, &a, gguf.F32)
		if err != nil {
			t.Fatal(err)
		}
		var alpha float32
		for _, kv := range meta {
			if kv.Key == "adapter.lora.alpha" {
				alpha = kv.Value.(float32)
			}
		}
		llamaScale := float64(alpha) / float64(c.R)
		if math.Abs(llamaScale-float64(c.Scale())) > 1e-6 {
			t.Errorf("rslora=%v: alpha %v gives llama.cpp scale %v, PEFT's is %v", rs, alpha, llamaScale, c.Scale())
		}
	}
}

func TestLoRAErrors(t *testing.T) {
	ad, err := lora.ReadDir("testdata/adapter")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := model.LoadConfig("testdata/llama/config.json")
	if err != nil {
		t.Fatal(err)
	}
	other := *cfg
	other.ModelType = "bert"
	if _, _, err := LoRA(&other, ad, gguf.F32); err == nil || !strings.Contains(err.Error(), "gpt2, llama, mistral, phi3, qwen2") {
		t.Errorf("unknown model type: %v", err)
	}
	if _, _, err := LoRA(cfg, ad, gguf.Q4_0); err == nil || !strings.Contains(err.Error(), "Q4_0") {
		t.Errorf("Q4_0: %v", err)
	}
	bad := *ad
	bad.Modules = append([]lora.Module{{Path: "model.embed_tokens", A: ad.Modules[0].A, B: ad.Modules[0].B}}, ad.Modules...)
	if _, _, err := LoRA(cfg, &bad, gguf.F32); err == nil || !strings.Contains(err.Error(), `"model.embed_tokens"`) {
		t.Errorf("embed_tokens: %v", err)
	}
}
