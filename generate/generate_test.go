package generate

import (
	"math"
	"math/rand/v2"
	"testing"
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
