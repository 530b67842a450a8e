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

// ceRows is crossEntropy over rows [r0, r1) (logits from row r0 on), with
// tl target by target (tokenLoss.crossEntropy), in parallel.
func (s *State) ceRows(logits []float32, r0, r1 int, labels []int, V int, norm float32, tl *tokenLoss) (sum float64, count int) {
	if tl == nil {
		return s.crossEntropy(logits, r0, r1, labels, V, norm)
	}
	j := s.job(jobTokenLoss)
	j.a, j.r0, j.labels, j.width, j.tl = logits, r0, labels, V, tl
	return s.runLoss(j, r1-r0)
}

// crossEntropy is the package's crossEntropy over rows [lo, hi) one row
// at a time, row n with the norm 1/coef[n] (an infinite norm for a zero
// coefficient: a zero gradient; 0, no gradient, without coefficients),
// its loss left in nll[n]; with a final soft-cap cap > 0,
// crossEntropyCapped with its scratch f.
func (tl *tokenLoss) crossEntropy(logits []float32, row0 int, labels []int, lo, hi, T, V int, cap float32, f []float32) (sum float64, count, correct int) {
	for n := lo; n < hi; n++ {
		norm := float32(0)
		if tl.coef != nil {
			norm = float32(math.Inf(1))
			if c := tl.coef[n]; c != 0 {
				norm = 1 / c
			}
		}
		var cs float64
		var cc, ok int
		if cap > 0 {
			cs, cc, ok = crossEntropyCapped(logits, row0, labels, n, n+1, T, V, norm, cap, f)
		} else {
			cs, cc, ok = crossEntropy(logits, row0, labels, n, n+1, T, V, norm)
		}
		tl.nll[n] = cs
		sum += cs
		count += cc
		correct += ok
	}
	return sum, count, correct
}
