package model

import (
	"testing"
)

// BenchmarkTrainStep times one forward+backward over a batch, full
// fine-tuning, on the shape of the demo's base model.
func BenchmarkTrainStep(b *testing.B) {
	for _, tc := range []struct {
		name                     string
		hidden, layers, vocab, T int
		batch                    int
	}{
		{"demo", 128, 4, 1024, 128, 16},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := testConfig(b, "llama", map[string]any{
				"hidden_size": tc.hidden, "intermediate_size": 3 * tc.hidden, "num_hidden_layers": tc.layers,
				"num_attention_heads": tc.hidden / 32, "num_key_value_heads": tc.hidden / 64, "vocab_size": tc.vocab,
				"tie_word_embeddings": true})
			m := NewRandom(c, 0.02, 1)
			m.SetTrainable(func(string) bool { return true })
			s := m.NewState(tc.batch, tc.T, true)
			ids := make([]int, tc.batch*tc.T)
			for i := range ids {
				ids[i] = (i * 7919) % tc.vocab
			}
			step := func() {
				m.Forward(s, ids)
				m.Loss(s, ids, float32(len(ids)))
				m.Backward(s)
			}
			step() // warm up: the GEMM's workspaces grow to their size once
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.ReportMetric(float64(b.N*len(ids))/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
