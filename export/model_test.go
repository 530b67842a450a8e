package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"reflect"
	"testing"

	"github.com/golora/golora/model"
)

// convertedModel is one entry of testdata/models.json: what llama.cpp's
// convert_hf_to_gguf.py wrote for a model of testdata/ref, tokenizer aside.
type convertedModel struct {
	OutType string `json:"outtype"`
	Meta    []struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	} `json:"meta"`
	Tensors []struct {
		Name   string `json:"name"`
		Type   string `json:"type"`
		Shape  []int  `json:"shape"`
		SHA256 string `json:"sha256"`
	} `json:"tensors"`
}

// ggufTypeName is the GGUF value type of a KV value, as gguf-py names it.
func ggufTypeName(v any) string {
	switch v.(type) {
	case string:
		return "STRING"
	case uint32:
		return "UINT32"
	case float32:
		return "FLOAT32"
	case bool:
		return "BOOL"
	}
	return fmt.Sprintf("%T", v)
}

// TestModelMatchesConverter exports five reference models (llama, qwen2
// with biases, mistral with an explicit head_dim, tied embeddings, llama3
// RoPE scaling) and compares metadata and tensors with
// convert_hf_to_gguf.py's (testdata/make_fixtures.py).
func TestModelMatchesConverter(t *testing.T) {
	b, err := os.ReadFile("testdata/models.json")
	if err != nil {
		t.Fatal(err)
	}
	var conv map[string]convertedModel
	if err := json.Unmarshal(b, &conv); err != nil {
		t.Fatal(err)
	}
	for name, want := range conv {
		t.Run(name, func(t *testing.T) {
			m, err := model.Load("../testdata/ref/" + name)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			meta, tensors, err := Model(m, OutTypes[want.OutType])
			if err != nil {
				t.Fatal(err)
			}
			if len(meta) != len(want.Meta) {
				t.Errorf("%d metadata entries, the converter wrote %d", len(meta), len(want.Meta))
			}
			for i := range min(len(meta), len(want.Meta)) {
				g, w := meta[i], want.Meta[i]
				gv := g.Value
				switch x := gv.(type) {
				case uint32:
					gv = float64(x)
				case float32:
					gv = float64(x)
				}
				if g.Key != w.Key || ggufTypeName(g.Value) != w.Type || !reflect.DeepEqual(gv, w.Value) {
					t.Errorf("metadata %d: %s %s %v, want %s %s %v", i, g.Key, ggufTypeName(g.Value), g.Value, w.Key, w.Type, w.Value)
				}
			}
			if len(tensors) != len(want.Tensors) {
				t.Errorf("%d tensors, the converter wrote %d", len(tensors), len(want.Tensors))
			}
			for i := range min(len(tensors), len(want.Tensors)) {
				g, w := tensors[i], want.Tensors[i]
				sum := sha256.Sum256(g.Data)
				if g.Name != w.Name || g.Type.String() != w.Type || !reflect.DeepEqual(g.Shape, w.Shape) {
					t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, g.Name, g.Type, g.Shape, w.Name, w.Type, w.Shape)
				} else if hex.EncodeToString(sum[:]) != w.SHA256 {
					t.Errorf("tensor %s: data differs from the converter's", g.Name)
				}
			}
		})
	}
}

// TestLlama3Factors: the rope_freqs.weight of llama3 RoPE scaling equals,
// bit for bit, what convert_hf_to_gguf.py's LlamaModel computes for Llama
// 3.1 8B and Llama 3.2 3B and 1B (testdata/rope_freqs.json, written by
// testdata/make_rope_freqs.py with the converter's own code).
func TestLlama3Factors(t *testing.T) {
	b, err := os.ReadFile("testdata/rope_freqs.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Config map[string]any `json:"config"`
		Bits   []uint32       `json:"bits"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		raw := map[string]any{"architectures": []string{"LlamaForCausalLM"}, "intermediate_size": 64, "num_hidden_layers": 1, "vocab_size": 32}
		maps.Copy(raw, c.Config)
		js, _ := json.Marshal(raw)
		cfg, err := model.ParseConfig(js, fmt.Sprintf("case %d", i))
		if err != nil {
			t.Fatal(err)
		}
		got := llama3Factors(cfg)
		if len(got) != len(c.Bits) {
			t.Fatalf("case %d: %d factors, the converter's %d", i, len(got), len(c.Bits))
		}
		for j, x := range got {
			if math.Float32bits(x) != c.Bits[j] {
				t.Errorf("case %d (head_dim %d, factor %g): factor %d is %.9g, the converter's %.9g", i, cfg.HeadDim, cfg.RopeScaling.Factor, j, x, math.Float32frombits(c.Bits[j]))
			}
		}
	}
}
