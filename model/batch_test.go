package model

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// addRandomLoRA attaches an adapter named name with random A and B to
// every linear module of m.
func addRandomLoRA(m *Model, name string, rank int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 0.3)
		}
		return x
	}
	for _, lin := range m.Linears() {
		lin.LoRA = append(lin.LoRA, &LoRA{Adapter: name, Rank: rank, Scale: 2 / float32(rank),
			A: NewParam(lin.Name+".A", []int{rank, lin.In}, rnd(rank*lin.In)),
			B: NewParam(lin.Name+".B", []int{lin.Out, rank}, rnd(lin.Out*rank))})
	}
}

// TestDecodeBatchEqualsDecodeAlone: sequences with different adapters
// (none, one, another at a scale, both), prefilled and then decoded
// together, get at every step bit for bit the logits of each decoded alone
// through Prefill/Decode, and sequences join the batch at different times.
// A Phi-3 with longrope crosses original_max_position_embeddings while
// decoding: each sequence's cache is recomputed (2 tokens at a time) with
// its own adapters, in the batch as alone.
func TestDecodeBatchEqualsDecodeAlone(t *testing.T) {
	defer func(n int) { relongChunk = n }(relongChunk)
	relongChunk = 2
	// Every architecture golora runs: DecodeBatch repeats the layer's
	// forward pass, so a family whose layer differs must be handled there.
	// The Gemma keys (ignored by the others) give gemma3_text a global
	// layer 1 next to its local-RoPE sliding layer 0, and both Gemmas
	// soft-caps that bend their numbers.
	archs := slices.Sorted(maps.Keys(Architectures))
	for _, arch := range append(archs, "Phi3ForCausalLM longrope") {
		js := `{"architectures":["` + arch + `"],"vocab_size":37,"hidden_size":32,"intermediate_size":40,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":8,"sliding_window":5,
			"sliding_window_pattern":2,"rope_local_base_freq":100,"attn_logit_softcapping":3,"final_logit_softcapping":2}`
		switch arch {
		case "GPT2LMHeadModel": // GPT-2's own keys; learned positions for the 32-token caches
			js = `{"architectures":["GPT2LMHeadModel"],"vocab_size":37,"n_embd":32,"n_inner":40,"n_layer":2,"n_head":4,"n_positions":32}`
		case "Phi3ForCausalLM longrope":
			js = `{"architectures":["Phi3ForCausalLM"],"vocab_size":37,"hidden_size":32,"intermediate_size":40,
			"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":8,"partial_rotary_factor":0.5,
			"max_position_embeddings":32,"original_max_position_embeddings":6,
			"rope_scaling":{"type":"longrope","short_factor":[1.1,1.3],"long_factor":[2,5]}}`
		}
		cfg, err := ParseConfig([]byte(js), "test")
		if err != nil {
			t.Errorf("%s: %v", arch, err)
			continue
		}
		m := NewRandom(cfg, 0.5, 3)
		addRandomLoRA(m, "a", 4, 1)
		addRandomLoRA(m, "b", 2, 2)
		sels := []Selection{nil, {"a": 1}, {"b": 0.5}, {"a": 1, "b": 2}}
		prompts := [][]int{{1, 2, 3}, {4, 5}, {6, 7, 8, 9}, {10}}
		const steps = 9
		V := cfg.VocabSize
		// Alone: prefill, then one token at a time, feeding back argmax.
		want := make([][][]float32, len(sels))
		for q, sel := range sels {
			c := m.NewCache(32)
			s := m.NewState(1, len(prompts[q]), false)
			if err := m.Prefill(s, c, prompts[q], sel); err != nil {
				t.Fatal(err)
			}
			logits := s.Logits[(len(prompts[q])-1)*V:]
			one := m.NewState(1, 1, false)
			for range steps {
				id := argmax(logits)
				if err := m.Prefill(one, c, []int{id}, sel); err != nil {
					t.Fatal(err)
				}
				want[q] = append(want[q], append([]float32(nil), one.Logits...))
				logits = one.Logits
			}
		}
		// Together: sequence q joins at step q.
		b := m.NewBatch(len(sels))
		caches := make([]*Cache, len(sels))
		last := make([][]float32, len(sels))
		done := make([]int, len(sels))
		for step := 0; step < steps+len(sels); step++ {
			if step < len(sels) {
				q := step
				caches[q] = m.NewCache(32)
				s := m.NewState(1, len(prompts[q]), false)
				if err := m.Prefill(s, caches[q], prompts[q], sels[q]); err != nil {
					t.Fatal(err)
				}
				last[q] = append([]float32(nil), s.Logits[(len(prompts[q])-1)*V:]...)
			}
			var rows []BatchRow
			var who []int
			for q := range sels {
				if caches[q] != nil && done[q] < steps {
					rows = append(rows, BatchRow{Cache: caches[q], ID: argmax(last[q]), LoRA: sels[q]})
					who = append(who, q)
				}
			}
			if len(rows) == 0 {
				continue
			}
			if err := m.DecodeBatch(b, rows); err != nil {
				t.Fatal(err)
			}
			for i, q := range who {
				got := b.Logits[i*V : (i+1)*V]
				for j, v := range got {
					if v != want[q][done[q]][j] {
						t.Fatalf("%s: sequence %d (adapters %v) step %d with %d rows: logit %d is %v, alone %v",
							cfg.Architecture, q, sels[q], done[q], len(rows), j, v, want[q][done[q]][j])
					}
				}
				last[q] = append(last[q][:0], got...)
				done[q]++
			}
		}
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestPrefillState: a NewPrefillState state prefilling a whole prompt
// leaves bit for bit the keys, values and next-token logits of Decode with
// an all-logits state (prompts of 1 and 10 tokens); prefilled in chunks of
// at most 4 tokens, the numbers agree to float rounding (a chunk's
// attention sums over fewer keys than the whole prompt's block).
func TestPrefillState(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		extra       map[string]any
	}{
		{"llama-gqa", "llama", nil},
		{"qwen3-qknorm", "qwen3", map[string]any{"head_dim": 8}},
		{"gpt2-learned-positions", "gpt2", nil},
		{"mistral-window", "mistral", map[string]any{"sliding_window": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewRandom(testConfig(t, tc.model, tc.extra), 0.3, 9)
			addRandomLoRA(m, "a", 2, 5)
			sel := Selection{"a": 1}
			V := m.Cfg.VocabSize
			prefill := func(ids []int, chunk int) (*Cache, []float32) {
				c := m.NewCache(len(ids))
				var s *State
				for i := 0; i < len(ids); i += chunk {
					part := ids[i:min(i+chunk, len(ids))]
					s = m.NewPrefillState(len(part))
					if err := m.Prefill(s, c, part, sel); err != nil {
						t.Fatal(err)
					}
				}
				if len(s.Logits) > 2*V {
					t.Fatalf("a prefill state holds %d logits, more than two positions' %d", len(s.Logits), 2*V)
				}
				return c, s.Logits[len(s.Logits)-V:]
			}
			for _, ids := range [][]int{{7}, {3, 1, 4, 1, 5, 9, 2, 6, 5, 3}} {
				n := len(ids)
				want := m.NewCache(n)
				all := m.NewState(1, n, false)
				if err := m.Prefill(all, want, ids, sel); err != nil {
					t.Fatal(err)
				}
				wantLogits := all.Logits[(n-1)*V:]
				got, logits := prefill(ids, n)
				if !slices.Equal(logits, wantLogits) {
					t.Errorf("%d tokens: the prefill state's logits differ from the all-logits state's", n)
				}
				for l := range m.Layers {
					if !slices.Equal(got.k[l], want.k[l]) || !slices.Equal(got.v[l], want.v[l]) {
						t.Errorf("%d tokens, layer %d: the prefill state's keys or values differ", n, l)
					}
				}
				got, logits = prefill(ids, 4)
				near := func(what string, a, b []float32) {
					for j := range a {
						if d := math.Abs(float64(a[j] - b[j])); d > 1e-5*(1+math.Abs(float64(b[j]))) {
							t.Fatalf("%d tokens in chunks of 4: %s[%d] %g, one pass %g", n, what, j, a[j], b[j])
						}
					}
				}
				near("logits", logits, wantLogits)
				for l := range m.Layers {
					near("keys", got.k[l], want.k[l])
					near("values", got.v[l], want.v[l])
				}
				if _, _, err := m.Loss(m.NewPrefillState(n), make([]int, n), 0); err == nil {
					t.Errorf("Loss on a prefill state: no error")
				}
			}
		})
	}
}
