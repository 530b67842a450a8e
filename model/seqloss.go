package model

import (
	"fmt"
	"math"
)

// seqLoss carries SeqLoss's per-sequence coefficients and results through
// loss.
type seqLoss struct {
	coef   []float32 // (B) or nil: no backward
	sums   []float64 // (B)
	counts []int     // (B)
}

func (q *seqLoss) backward() bool { return q != nil && q.coef != nil }

// SeqLoss is Loss per sequence: after Forward it sets sums[b] to the
// summed cross-entropy −Σ_t log p(labels[t+1]) over the targets of
// sequence b and counts[b] to their number (sums, counts: B each), and
// returns the totals. With coef (B) non-nil, on a training state, it also
// runs the output head's backward pass for Σ_b coef[b]·sums[b], ready for
// Backward: the logits of sequence b get dlogits = coef[b]·(softmax −
// onehot). A coefficient may be negative or zero; the per-sequence
// log-probability the preference losses use is −sums[b], so a loss L over
// those log-probabilities backpropagates with coef[b] = −dL/dlogp_b.
func (m *Model) SeqLoss(s *State, labels []int, coef []float32, sums []float64, counts []int) (sum float64, count int, err error) {
	if len(sums) != s.B || len(counts) != s.B || (coef != nil && len(coef) != s.B) {
		return 0, 0, fmt.Errorf("loss: per-sequence buffers of %d, %d and %d entries for %d sequences", len(sums), len(counts), len(coef), s.B)
	}
	clear(sums)
	clear(counts)
	return m.loss(s, labels, 0, &seqLoss{coef: coef, sums: sums, counts: counts})
}

// ceRows is crossEntropy over rows [r0, r1) (logits from row r0 on), with
// seq split at sequence boundaries: each sequence's part goes with the
// norm 1/coef[b] (an infinite norm for a zero coefficient: a zero
// gradient) and its sum and count are added to seq's.
func (s *State) ceRows(logits []float32, r0, r1 int, labels []int, V int, norm float32, seq *seqLoss) (sum float64, count int) {
	if seq == nil {
		return s.crossEntropy(logits, r0, r1, labels, V, norm)
	}
	for a := r0; a < r1; {
		b := a / s.T
		e := min(r1, (b+1)*s.T)
		nb := float32(0)
		if seq.coef != nil {
			nb = float32(math.Inf(1))
			if c := seq.coef[b]; c != 0 {
				nb = 1 / c
			}
		}
		cs, cc := s.crossEntropy(logits[(a-r0)*V:], a, e, labels, V, nb)
		seq.sums[b] += cs
		seq.counts[b] += cc
		sum += cs
		count += cc
		a = e
	}
	return sum, count
}
