package model

import "testing"

// The Gemma fixtures were written by testdata/ref/make_gemma.py, an
// independent float64 PyTorch implementation of transformers' Gemma 2 and
// Gemma 3 (text): soft-capped attention scores and logits (gemma2_*,
// gemma3_bf16), sliding windows shorter than the sequences, Gemma 3's head
// norms and local RoPE base for its sliding layers, and √hidden rounded to
// bfloat16 in the *_bf16 models.

func TestReferenceLogitsGemma(t *testing.T) {
	for _, name := range []string{"gemma2_f32", "gemma2_bf16", "gemma3_f32", "gemma3_bf16"} {
		t.Run(name, func(t *testing.T) { testReferenceLogits(t, name) })
	}
}

// TestReferenceGradsGemma compares full fine-tuning gradients with the
// reference's: the scaled embedding, the four (1 + w) norms of a layer,
// Gemma 3's head norms, and linears through the soft-caps.
func TestReferenceGradsGemma(t *testing.T) {
	for _, name := range []string{"gemma2_f32", "gemma3_f32"} {
		t.Run(name, func(t *testing.T) { testReferenceGrads(t, name) })
	}
}
