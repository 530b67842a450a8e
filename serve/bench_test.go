package serve

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golora/golora/generate"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tokenizer"
)

// BenchmarkServe measures aggregate greedy decoding speed of the
// scheduler (no HTTP) on a SmolLM-like layer shape (fewer layers) with
// 1, 4 and 8 concurrent streams, each on a different adapter set (base,
// and rank-8 adapters on every linear module).
func BenchmarkServe(b *testing.B) {
	cfg, err := model.ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":49152,"hidden_size":576,
		"intermediate_size":1536,"num_hidden_layers":6,"num_attention_heads":9,"num_key_value_heads":3,"tie_word_embeddings":true}`), "bench")
	if err != nil {
		b.Fatal(err)
	}
	m := model.NewRandom(cfg, 0.02, 1)
	tok, err := tokenizer.TrainByteLevel([]byte(strings.Repeat("the quick brown fox. ", 10)), 270, []string{"<|endoftext|>"})
	if err != nil {
		b.Fatal(err)
	}
	sels := []model.Selection{nil}
	for i := range 3 {
		lc := &lora.Config{R: 8, Alpha: 16, Targets: []string{"all-linear"}}
		if err := lc.Validate(); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprint("a", i)
		if _, err := lora.New(m, name, lc, uint64(i)); err != nil {
			b.Fatal(err)
		}
		sels = append(sels, model.Selection{name: 1})
	}
	s, err := New(Config{Model: m, Tokenizer: tok, Name: "bench", MaxBatch: 8, MaxQueue: 8, Ctx: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const tokens = 32
	prompt := []int{1, 2, 3, 4, 5, 6, 7, 8}
	for _, streams := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			for range b.N {
				var wg sync.WaitGroup
				for i := range streams {
					q := &seq{ctx: context.Background(), prompt: prompt, sel: sels[i%len(sels)], opt: generate.Options{},
						maxTokens: tokens, arrived: time.Now(), events: make(chan event, tokens+1)}
					if !s.sched.submit(q) {
						b.Fatal("queue full")
					}
					wg.Go(func() {
						for range q.events {
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.N*streams*tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
