package model

import (
	"fmt"
	"math"
)

// tokenLoss carries TokenLoss's per-position coefficients and results
// through loss.
type tokenLoss struct {
	coef []float32 // (N) or nil: no backward
	nll  []float64 // (N)
}

func (q *tokenLoss) backward() bool { return q != nil && q.coef != nil }

// TokenLoss is Loss target by target: after Forward it sets nll[n] =
// −log softmax(logits_n)[labels[n+1]] for every position n (= b·T + t)
// that has a target, 0 for the others, and returns their sum and count.
// With coef (N) non-nil, on a training state, it also runs the output
// head's backward pass for Σ_n coef[n]·nll[n], ready for Backward: the
// logits of position n get dlogits = coef[n]·(softmax − onehot). This is
// how a loss over sums of log-probabilities (a completion's in DPO and
// ORPO) backpropagates: coef[n] = −dL/d(the log-probability sum holding
// position n's target). A coefficient may be negative or zero.
func (m *Model) TokenLoss(s *State, labels []int, coef []float32, nll []float64) (sum float64, count int, err error) {
	if len(nll) != s.N || (coef != nil && len(coef) != s.N) {
		return 0, 0, fmt.Errorf("loss: %d losses and %d coefficients for %d positions", len(nll), len(coef), s.N)
	}
	clear(nll)
	return m.loss(s, labels, 0, &tokenLoss{coef: coef, nll: nll})
}

// ceRows is crossEntropy over rows [r0, r1) (logits from row r0 on); with
// tl, one row at a time, each with the norm 1/coef[n] (an infinite norm
// for a zero coefficient: a zero gradient), its loss left in tl.nll.
func (s *State) ceRows(logits []float32, r0, r1 int, labels []int, V int, norm float32, tl *tokenLoss) (sum float64, count int) {
	if tl == nil {
		return s.crossEntropy(logits, r0, r1, labels, V, norm)
	}
	for n := r0; n < r1; n++ {
		nn := float32(0)
		if tl.coef != nil {
			nn = float32(math.Inf(1))
			if c := tl.coef[n]; c != 0 {
				nn = 1 / c
			}
		}
		cs, cc := s.crossEntropy(logits[(n-r0)*V:], n, n+1, labels, V, nn)
		tl.nll[n] = cs
		sum += cs
		count += cc
	}
	return sum, count
}
