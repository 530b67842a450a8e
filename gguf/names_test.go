package gguf

import (
	"reflect"
	"testing"
)

// TestPermuteRoPE checks the row order on heads of 4 rows: HF's
// [x0 x1 | y0 y1] (rotate-half pairs (x0,y0), (x1,y1)) becomes llama.cpp's
// interleaved [x0 y0 x1 y1], and the inverse restores it.
func TestPermuteRoPE(t *testing.T) {
	hf := []float32{0, 1, 2, 3, 10, 11, 12, 13}
	got, err := PermuteRoPE(hf, 8, 1, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 2, 1, 3, 10, 12, 11, 13}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	back, err := PermuteRoPE(got, 4, 2, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 2, 10, 12, 1, 3, 11, 13}; !reflect.DeepEqual(back, want) {
		t.Errorf("inverse over 2 columns: got %v, want %v", back, want)
	}
	if _, err := PermuteRoPE(make([]float32, 6), 6, 1, 2, false); err == nil {
		t.Error("odd head size: no error")
	}
}

func TestTensorName(t *testing.T) {
	for _, c := range []struct{ arch, hf, want string }{
		{"llama", "model.layers.12.self_attn.k_proj.bias", "blk.12.attn_k.bias"},
		{"llama", "model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight"},
		{"llama", "lm_head.weight", "output.weight"},
		{"llama", "model.embed_tokens.weight", "token_embd.weight"},
		{"gpt2", "transformer.h.1.attn.c_attn.weight", "blk.1.attn_qkv.weight"},
		{"gpt2", "transformer.h.0.ln_2.bias", "blk.0.ffn_norm.bias"},
		{"gpt2", "transformer.wpe.weight", "position_embd.weight"},
	} {
		if got, ok := Archs[c.arch].TensorName(c.hf); !ok || got != c.want {
			t.Errorf("%s %s: %q %v, want %q", c.arch, c.hf, got, ok, c.want)
		}
	}
	for _, c := range []struct{ arch, hf string }{
		{"llama", "model.layers.0.self_attn.rotary_emb.inv_freq"},
		{"llama", "model.layers..mlp.up_proj.weight"},
		{"llama", "x"},
		{"llama", "transformer.h.0.attn.c_attn.weight"},
		{"gpt2", "model.layers.0.mlp.down_proj.weight"},
	} {
		if got, ok := Archs[c.arch].TensorName(c.hf); ok {
			t.Errorf("%s %s: %q, want no name", c.arch, c.hf, got)
		}
	}
}
