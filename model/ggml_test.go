package model

import (
	"testing"

	"github.com/golora/golora/gguf"
)

// TestNewRandomGGML: every matrix of the random base is held in ggml
// blocks of the type asked for, or llama.cpp's fallback type where its
// rows are not whole blocks of it; vectors stay float32.
func TestNewRandomGGML(t *testing.T) {
	c, err := ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":40,"hidden_size":256,"intermediate_size":320,
		"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":2}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewRandomGGML(c, 0.02, 1, gguf.Q4_K)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		g, ok := p.W.G.(*gguf.Matrix)
		if len(p.Shape) == 1 {
			if ok || p.W.F32 == nil {
				t.Errorf("%s: a vector held as %v", p.Name, p.W.DType)
			}
			continue
		}
		want := gguf.Q4_K
		if p.Shape[1] == 320 {
			want = gguf.Q5_0
		}
		if !ok || g.Type != want {
			t.Errorf("%s %v: held as %v, want ggml %s", p.Name, p.Shape, p.W.DType, want)
		}
	}
	if !m.Quantized() {
		t.Error("Quantized() is false")
	}
}
