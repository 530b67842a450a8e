package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSeqLossGrad checks SeqLoss's per-sequence sums against Loss on each
// sequence alone and its backward pass, L = Σ_b coef[b]·sums[b] with a
// positive, a negative and a zero coefficient, against central
// differences, with head chunks that end inside sequences.
func TestSeqLossGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	m := NewRandom(testConfig(t, "llama", map[string]any{"tie_word_embeddings": true}), 0.3, 4)
	m.SetTrainable(func(string) bool { return true })
	B, T := 3, 5
	s := m.NewState(B, T, true)
	s.Logits = make([]float32, 4*m.Cfg.VocabSize) // chunks of 4 rows
	ids := make([]int, B*T)
	for i := range ids {
		ids[i] = r.IntN(m.Cfg.VocabSize)
	}
	labels := slices.Clone(ids)
	labels[2], labels[6] = IgnoreIndex, IgnoreIndex
	coef := []float32{0.7, -1.3, 0}
	sums, counts := make([]float64, B), make([]int, B)
	loss := func() float64 {
		if err := m.Forward(s, ids); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.SeqLoss(s, labels, nil, sums, counts); err != nil {
			t.Fatal(err)
		}
		var l float64
		for b, c := range coef {
			l += float64(c) * sums[b]
		}
		return l
	}
	loss()
	one := m.NewState(1, T, false)
	for b := 0; b < B; b++ {
		if err := m.Forward(one, ids[b*T:(b+1)*T]); err != nil {
			t.Fatal(err)
		}
		want, n, _ := m.Loss(one, labels[b*T:(b+1)*T], 0)
		if math.Abs(sums[b]-want) > 1e-5*math.Abs(want) || counts[b] != n {
			t.Errorf("sequence %d: SeqLoss %v over %d targets, Loss alone %v over %d", b, sums[b], counts[b], want, n)
		}
	}
	if _, _, err := m.SeqLoss(s, labels, coef, sums, counts); err != nil {
		t.Fatal(err)
	}
	m.Backward(s)
	for _, p := range m.Params() {
		checkGrad(t, p.Name, p.W.F32, slices.Clone(p.Grad), loss, 12)
	}
	if _, _, err := m.SeqLoss(s, labels, coef[:2], sums, counts); err == nil {
		t.Error("SeqLoss took 2 coefficients for 3 sequences")
	}
}
