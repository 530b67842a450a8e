package generate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golora/golora/model"
)

func TestPick(t *testing.T) {
	logits := []float32{0.1, 2.5, -1, 2.4, 0}
	probs, order := make([]float64, 5), make([]int, 5)
	rng := rand.New(rand.NewPCG(1, 1))
	if got := Pick(logits, Options{}, rng, probs, order); got != 1 {
		t.Errorf("greedy picked %d, want 1", got)
	}
	if got := Pick(logits, Options{Temperature: 1, TopK: 1}, rng, probs, order); got != 1 {
		t.Errorf("top-k 1 picked %d, want 1", got)
	}
	if got := Pick(logits, Options{Temperature: 1, TopP: 0.01}, rng, probs, order); got != 1 {
		t.Errorf("top-p 0.01 picked %d, want 1", got)
	}
	// Min-p 0.5 keeps the tokens at least half as likely as the best:
	// p_3/p_1 = e^−0.1, the others are below e^−2.
	for i := 0; i < 1000; i++ {
		if got := Pick(logits, Options{Temperature: 1, MinP: 0.5}, rng, probs, order); got != 1 && got != 3 {
			t.Fatalf("min-p 0.5 picked %d", got)
		}
	}
	// Top-k 2 only ever yields the two largest; their frequencies follow
	// the softmax renormalised over them.
	counts := map[int]int{}
	const n = 20000
	for i := 0; i < n; i++ {
		counts[Pick(logits, Options{Temperature: 1, TopK: 2}, rng, probs, order)]++
	}
	if len(counts) != 2 || counts[1]+counts[3] != n {
		t.Fatalf("top-k 2 drew %v", counts)
	}
	want := 1 / (1 + math.Exp(2.4-2.5))
	if got := float64(counts[1]) / n; math.Abs(got-want) > 0.02 {
		t.Errorf("P(1) = %.3f, want %.3f", got, want)
	}
}

// TestGreedyEqualsFullRecomputation: greedy decoding through the KV cache
// picks, at every step, the argmax of a full forward pass over the
// sequence so far (Qwen2; Qwen3 with its head norms; GPT-2 with learned
// positions).
func TestGreedyEqualsFullRecomputation(t *testing.T) {
	for _, tc := range []struct{ name, config string }{
		{"qwen2", `{"architectures":["Qwen2ForCausalLM"],"vocab_size":23,"hidden_size":16,
		"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2}`},
		{"qwen3", `{"architectures":["Qwen3ForCausalLM"],"vocab_size":23,"hidden_size":16,"head_dim":8,
		"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2}`},
		{"gpt2", `{"architectures":["GPT2LMHeadModel"],"vocab_size":23,"n_embd":16,"n_layer":2,"n_head":4,"n_positions":64}`},
	} {
		t.Run(tc.name, func(t *testing.T) { testGreedyEqualsFullRecomputation(t, tc.config) })
	}
}

func testGreedyEqualsFullRecomputation(t *testing.T, config string) {
	cfg, err := model.ParseConfig([]byte(config), "test")
	if err != nil {
		t.Fatal(err)
	}
	m := model.NewRandom(cfg, 0.5, 3)
	prompt := []int{1, 2, 3}
	got, err := Generate(m, prompt, 64, Options{MaxTokens: 12}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 {
		t.Fatalf("%d tokens, want 12", len(got))
	}
	seq := append([]int(nil), prompt...)
	for i, id := range got {
		s := m.NewState(1, len(seq), false)
		if err := m.Forward(s, seq); err != nil {
			t.Fatal(err)
		}
		want := Pick(s.Logits[(len(seq)-1)*cfg.VocabSize:], Options{}, nil, nil, nil)
		if id != want {
			t.Fatalf("step %d: cached greedy chose %d, full recomputation %d", i, id, want)
		}
		seq = append(seq, id)
	}
	// A stop token ends generation without being emitted.
	first := slices.Index(got, got[2])
	stopped, _ := Generate(m, prompt, 64, Options{MaxTokens: 12, Stop: []int{got[2]}}, nil)
	if len(stopped) != first {
		t.Errorf("stop token %d: %d tokens, want %d", got[2], len(stopped), first)
	}
}

// BenchmarkGenerate measures greedy decoding with the KV cache on a
// SmolLM-like layer shape (fewer layers, so it runs in seconds).
func BenchmarkGenerate(b *testing.B) {
	cfg, err := model.ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":49152,"hidden_size":576,
		"intermediate_size":1536,"num_hidden_layers":6,"num_attention_heads":9,"num_key_value_heads":3,"tie_word_embeddings":true}`), "bench")
	if err != nil {
		b.Fatal(err)
	}
	m := model.NewRandom(cfg, 0.02, 1)
	prompt := []int{1, 2, 3, 4, 5, 6, 7, 8}
	const n = 32
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Generate(m, prompt, 64, Options{MaxTokens: n}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tokens/s")
}

// TestMinPDistribution: the probabilities Pick samples from under min-p,
// against values computed by hand (softmax of l/T over the tokens with
// exp((l − max)/T) ≥ min-p, renormalised).
func TestMinPDistribution(t *testing.T) {
	logits := []float32{2, 1, 0, -1}
	for _, tc := range []struct {
		temp, minP float64
		want       []float64
	}{
		// e^-1 = 0.368 ≥ 0.3 > e^-2: tokens 0 and 1.
		{1, 0.3, []float64{0.7310585786300049, 0.2689414213699951, 0, 0}},
		// At T = 2 e^-1 = 0.368 ≥ 0.3 > e^-1.5: tokens 0, 1 and 2.
		{2, 0.3, []float64{0.506480391055654, 0.3071958857184984, 0.1863237232258476, 0}},
	} {
		probs, order := make([]float64, 4), make([]int, 4)
		n, z := weights(logits, Options{Temperature: tc.temp, MinP: tc.minP}, probs, order)
		got := make([]float64, 4)
		for _, id := range order[:n] {
			got[id] = probs[id] / z
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("T %v min-p %v: p = %v, want %v", tc.temp, tc.minP, got, tc.want)
				break
			}
		}
	}
}

// TestRepetitionPenalty: Penalize as transformers' processor (positive
// logits divided, negative multiplied, each listed token once), and
// Generate applies it to the prompt's and the output's tokens: greedy
// with a penalty picks, at every step, the argmax of the full forward
// pass's logits so penalised.
func TestRepetitionPenalty(t *testing.T) {
	logits := []float32{2, -1, 0.5, -3, 1}
	Penalize(logits, []int{0, 1, 3}, 2)
	if want := []float32{1, -2, 0.5, -6, 1}; !slices.Equal(logits, want) {
		t.Errorf("penalised %v, want %v", logits, want)
	}
	cfg, err := model.ParseConfig([]byte(`{"architectures":["Qwen2ForCausalLM"],"vocab_size":23,"hidden_size":16,
		"intermediate_size":24,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	m := model.NewRandom(cfg, 0.5, 3)
	prompt := []int{1, 2, 3, 2}
	const theta = 3
	got, err := Generate(m, prompt, 64, Options{MaxTokens: 10, RepetitionPenalty: theta}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := Generate(m, prompt, 64, Options{MaxTokens: 10}, nil)
	if slices.Equal(got, plain) {
		t.Fatalf("the penalty changed nothing: %v", got)
	}
	seq := slices.Clone(prompt)
	for i, id := range got {
		s := m.NewState(1, len(seq), false)
		if err := m.Forward(s, seq); err != nil {
			t.Fatal(err)
		}
		row := s.Logits[(len(seq)-1)*cfg.VocabSize:]
		seen := map[int]bool{}
		for _, tok := range seq {
			if !seen[tok] {
				seen[tok] = true
				if row[tok] > 0 {
					row[tok] /= theta
				} else {
					row[tok] *= theta
				}
			}
		}
		if want := Pick(row, Options{}, nil, nil, nil); id != want {
			t.Fatalf("step %d: %d, want %d", i, id, want)
		}
		seq = append(seq, id)
	}
}
