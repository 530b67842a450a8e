package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golora/golora/tensor"
)

// TestTokenLossGrad checks TokenLoss's per-target losses against Loss on
// each sequence alone, and its backward pass, L = Σ_n coef[n]·nll[n] with
// positive, negative and zero coefficients that change within sequences,
// against central differences, with head chunks that end inside
// sequences, on several threads.
func TestTokenLossGrad(t *testing.T) {
	t.Cleanup(func() { tensor.SetThreads(0) })
	tensor.SetThreads(3)
	t.Run("llama", func(t *testing.T) {
		testTokenLossGrad(t, NewRandom(testConfig(t, "llama", map[string]any{"tie_word_embeddings": true}), 0.3, 4))
	})
	t.Run("gemma2 final soft-cap", func(t *testing.T) { // the loss through the cap
		testTokenLossGrad(t, NewRandom(testConfig(t, "gemma2", map[string]any{"final_logit_softcapping": 1.5}), 0.3, 4))
	})
}

func testTokenLossGrad(t *testing.T, m *Model) {
	r := rand.New(rand.NewPCG(61, 62))
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
	coef := make([]float32, B*T)
	for n := range coef {
		coef[n] = float32(r.NormFloat64())
	}
	coef[7], coef[11] = 0, 0
	nll := make([]float64, B*T)
	loss := func() float64 {
		if err := m.Forward(s, ids); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.TokenLoss(s, labels, nil, nll); err != nil {
			t.Fatal(err)
		}
		var l float64
		for n, c := range coef {
			l += float64(c) * nll[n]
		}
		return l
	}
	loss()
	one := m.NewState(1, T, false)
	for b := 0; b < B; b++ {
		if err := m.Forward(one, ids[b*T:(b+1)*T]); err != nil {
			t.Fatal(err)
		}
		want, _, _ := m.Loss(one, labels[b*T:(b+1)*T], 0)
		var got float64
		for n := b * T; n < (b+1)*T; n++ {
			if (n%T == T-1 || labels[n+1] == IgnoreIndex) != (nll[n] == 0) {
				t.Errorf("position %d: loss %v", n, nll[n])
			}
			got += nll[n]
		}
		if math.Abs(got-want) > 1e-5*math.Abs(want) {
			t.Errorf("sequence %d: TokenLoss sums to %v, Loss alone %v", b, got, want)
		}
	}
	sum, count, err := m.TokenLoss(s, labels, coef, nll)
	if err != nil {
		t.Fatal(err)
	}
	if count != B*(T-1)-2 || s.Correct() > count || sum <= 0 {
		t.Errorf("sum %v over %d targets, %d correct", sum, count, s.Correct())
	}
	m.Backward(s)
	for _, p := range m.Params() {
		checkGrad(t, p.Name, p.W.F32, slices.Clone(p.Grad), loss, 12)
	}
	if _, _, err := m.TokenLoss(s, labels, coef[:2], nll); err == nil {
		t.Error("TokenLoss took 2 coefficients for 15 positions")
	}
}
