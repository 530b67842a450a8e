package model

import (
	"fmt"
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

// smolConfig is SmolLM-135M's shape (bench/pytorch/smollm135m.json) with
// the given number of layers.
func smolConfig(b *testing.B, layers int) *Config {
	c, err := ParseConfig([]byte(fmt.Sprintf(`{"architectures":["LlamaForCausalLM"],"vocab_size":49152,"hidden_size":576,
		"intermediate_size":1536,"num_hidden_layers":%d,"num_attention_heads":9,"num_key_value_heads":3,"tie_word_embeddings":true}`, layers)), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkDecode times one generated token of one sequence (Decode of
// one token after a 16-token prompt) on SmolLM-135M's shape: both the
// speed of a single stream and that a step allocates nothing.
func BenchmarkDecode(b *testing.B) {
	m := NewRandom(smolConfig(b, 30), 0.02, 1)
	c := m.NewCache(16 + 1<<12)
	prompt := make([]int, 16)
	for i := range prompt {
		prompt[i] = i * 31
	}
	if err := m.Decode(m.NewState(1, len(prompt), false), c, prompt); err != nil {
		b.Fatal(err)
	}
	s := m.NewState(1, 1, false)
	ids := []int{7}
	step := func() {
		if c.Len == c.Max {
			c.Len = len(prompt)
		}
		if err := m.Decode(s, c, ids); err != nil {
			b.Fatal(err)
		}
	}
	timeSteps(b, 1, step)
}

// timeSteps runs step once to warm up, then b.N times, reporting
// allocations and tokens/s for tokens tokens per step.
func timeSteps(b *testing.B, tokens int, step func()) {
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.ReportMetric(float64(b.N*tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkDecodeBatch times one DecodeBatch step of 1 and 16 sequences
// (16-token prompts) on SmolLM-135M's shape, on the base model and all on
// one rank-8 adapter of every linear module.
func BenchmarkDecodeBatch(b *testing.B) {
	m := NewRandom(smolConfig(b, 30), 0.02, 1)
	addRandomLoRA(m, "a", 8, 1)
	for _, tc := range []struct {
		rows int
		sel  Selection
	}{{1, nil}, {16, nil}, {1, Selection{"a": 1}}, {16, Selection{"a": 1}}} {
		n := tc.rows
		b.Run(fmt.Sprintf("rows=%d/lora=%v", n, tc.sel != nil), func(b *testing.B) {
			batch := m.NewBatch(n)
			rows := make([]BatchRow, n)
			for i := range rows {
				rows[i] = BatchRow{Cache: m.NewCache(16 + 1<<10), ID: i, LoRA: tc.sel}
				rows[i].Cache.Len = 16
			}
			step := func() {
				for _, r := range rows {
					if r.Cache.Len == r.Cache.Max {
						r.Cache.Len = 16
					}
				}
				if err := m.DecodeBatch(batch, rows); err != nil {
					b.Fatal(err)
				}
			}
			timeSteps(b, n, step)
		})
	}
}
