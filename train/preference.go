package train

import (
	"fmt"
	"math"

	"github.com/golora/golora/data"
	"github.com/golora/golora/model"
	"github.com/golora/golora/runlog"
)

// The values of Config.Method.
const (
	MethodSFT  = "sft"
	MethodDPO  = "dpo"
	MethodORPO = "orpo"
)

// Preference training follows TRL. A micro-batch of B pairs runs as 2B
// sequences, the chosen sides in rows 0…B−1 and the rejected ones in rows
// B…2B−1. With S the summed NLL of a completion's n tokens:
//
// DPO (DPOTrainer, loss_type "sigmoid"): log π = −S under the trained
// model, log π_ref under the reference (the base with the adapter
// switched off, or Run.RefAdapter), computed without gradient;
//
//	z = β·((log π_c − log π_r) − (log π_ref,c − log π_ref,r))
//	loss = −(1−ε)·log σ(z) − ε·log σ(−z), mean over the pairs.
//
// ORPO (ORPOTrainer): log p = −S/n, the mean per-token log-probability;
//
//	log odds = (log p_c − log p_r) − (log(1 − p_c) − log(1 − p_r))  (log(1−p) = log1p(−exp(log p)))
//	loss = NLL_c − λ·mean(log σ(log odds)),
//
// NLL_c being the mean NLL per target over the micro-batch's whole chosen
// sequences, prompt included (TRL scores the chosen input_ids wherever
// the attention mask is set). The loss of a step is the mean of its
// micro-batches' losses, as the Hugging Face Trainer's gradient
// accumulation makes it.

// method is c.Method, "" being MethodSFT.
func (c *Config) method() string {
	if c.Method == "" {
		return MethodSFT
	}
	return c.Method
}

// Preference reports whether c trains on preference pairs (DPO or ORPO).
func (c *Config) Preference() bool { return c.Method == MethodDPO || c.Method == MethodORPO }

func (c *Config) validateMethod() error {
	switch c.Method {
	case "", MethodSFT, MethodORPO:
	case MethodDPO:
		if !(c.Beta > 0) {
			return fmt.Errorf("beta must be positive")
		}
		if !(c.LabelSmoothing >= 0 && c.LabelSmoothing <= 0.5) {
			return fmt.Errorf("label-smoothing must be in [0, 0.5]")
		}
	default:
		return fmt.Errorf("method %q: want sft, dpo or orpo", c.Method)
	}
	switch {
	case c.Method != MethodDPO && c.LabelSmoothing != 0:
		return fmt.Errorf("label-smoothing is DPO's: it needs method dpo")
	case !(c.Lambda >= 0):
		return fmt.Errorf("lambda must not be negative")
	case c.Preference() && c.Packing:
		return fmt.Errorf("packing lays out sft examples: method %s trains on pairs, one per row", c.Method)
	}
	return nil
}

// prefAcc sums a preference loss and its metrics over micro-batches.
type prefAcc struct {
	loss    float64 // Σ of the micro-batches' losses
	micros  int
	pairs   int
	m       runlog.Preference // sums over pairs (NLLLoss etc. unset)
	nll     float64           // ORPO: Σ of the micro-batches' NLL_c
	lor, lo float64           // ORPO: Σ log σ(log odds), Σ log odds over pairs
}

// logSigmoid is log σ(x) = −log(1 + e^−x), without overflow.
func logSigmoid(x float64) float64 {
	if x < 0 {
		return x - math.Log1p(math.Exp(x))
	}
	return -math.Log1p(math.Exp(-x))
}

func sigmoid(x float64) float64 { return math.Exp(logSigmoid(x)) }

// prefLoss adds the loss of one micro-batch of n pairs (of B rows a side)
// to acc from the completions' summed NLLs and target counts (2B each),
// the reference's summed NLLs (ref, DPO) and the chosen sequences' NLL
// sum and target count (ORPO). With dS non-nil it sets dS[b] to scale·d
// loss/d S of every sequence (0 on rows without a pair) and returns
// scale·d loss/d nll of each target of the chosen sequences (ORPO's NLL
// term; 0 for DPO).
func (c *Config) prefLoss(acc *prefAcc, n, B int, sums []float64, counts []int, ref []float64, nllSum float64, nllCount int, dS []float64, scale float64) float64 {
	clear(dS)
	var loss, dToken float64
	switch c.Method {
	case MethodDPO:
		beta, eps := c.Beta, c.LabelSmoothing
		for b := 0; b < n; b++ {
			pc, pr := -sums[b], -sums[B+b]
			rc, rr := -ref[b], -ref[B+b]
			z := beta * ((pc - pr) - (rc - rr))
			loss += (-(1-eps)*logSigmoid(z) - eps*logSigmoid(-z)) / float64(n)
			if dS != nil {
				g := (-(1-eps)*sigmoid(-z) + eps*sigmoid(z)) * beta / float64(n) * scale // d loss/d log π_c
				dS[b], dS[B+b] = -g, g
			}
			acc.add(beta*(pc-rc), beta*(pr-rr), pc, pr)
		}
	case MethodORPO:
		lambda := c.Lambda
		nll := nllSum / float64(nllCount)
		dToken = scale / float64(nllCount)
		for b := 0; b < n; b++ {
			lc, lr := -sums[b]/float64(counts[b]), -sums[B+b]/float64(counts[B+b])
			lo := (lc - lr) - (math.Log1p(-math.Exp(lc)) - math.Log1p(-math.Exp(lr)))
			ls := logSigmoid(lo)
			loss -= lambda * ls / float64(n)
			if dS != nil {
				// d(−λ/n·log σ(lo))/d lo = −λ/n·σ(−lo); d lo/d log p_c =
				// 1/(1−p_c), d lo/d log p_r = −1/(1−p_r); d log p/d S = −1/count.
				g := -lambda / float64(n) * sigmoid(-lo) * scale
				dS[b] = -g / -math.Expm1(lc) / float64(counts[b])
				dS[B+b] = g / -math.Expm1(lr) / float64(counts[B+b])
			}
			acc.add(lambda*lc, lambda*lr, lc, lr)
			acc.lor += ls
			acc.lo += lo
		}
		loss += nll
		acc.nll += nll
	}
	acc.loss += loss
	acc.micros++
	return dToken
}

// add counts one pair's rewards and log-probabilities.
func (acc *prefAcc) add(rc, rr, pc, pr float64) {
	acc.pairs++
	acc.m.RewardsChosen += rc
	acc.m.RewardsRejected += rr
	if rc > rr {
		acc.m.RewardsAccuracy++
	}
	acc.m.RewardsMargin += rc - rr
	acc.m.LogpsChosen += pc
	acc.m.LogpsRejected += pr
}

// result is the mean loss and the metrics (means over pairs, ORPO's NLL
// over micro-batches).
func (acc *prefAcc) result(method string) (float64, *runlog.Preference) {
	p, m := float64(acc.pairs), acc.m
	for _, v := range []*float64{&m.RewardsChosen, &m.RewardsRejected, &m.RewardsAccuracy, &m.RewardsMargin, &m.LogpsChosen, &m.LogpsRejected} {
		*v /= p
	}
	if method == MethodORPO {
		lor, lo, nll := acc.lor/p, acc.lo/p, acc.nll/float64(acc.micros)
		m.LogOddsRatio, m.LogOddsChosen, m.NLLLoss = &lor, &lo, &nll
	}
	return acc.loss / float64(acc.micros), &m
}

// PairsPaddedLen is PaddedLen of preference pairs: the length of their
// longest side, at least 2.
func PairsPaddedLen(sets ...[]data.Pair) int {
	T := 2
	for _, set := range sets {
		for _, p := range set {
			T = max(T, len(p.Chosen.IDs), len(p.Rejected.IDs))
		}
	}
	return T
}

// fillPairs pads pairs (at most B) into r.ids and r.labels (the
// completions' labels) of 2B rows: chosen sides in rows 0…B−1, rejected
// in B…2B−1, rows without a pair all padding. For ORPO, r.nllLabels are
// the labels TokenLoss scores: every token of a chosen side (its NLL term
// covers the prompt too), the completion of a rejected one. It returns the
// number of real tokens.
func (r *Run) fillPairs(pairs []data.Pair) int {
	B := r.state.B / 2
	r.exs = r.exs[:2*B]
	clear(r.exs)
	for b, p := range pairs {
		r.exs[b], r.exs[B+b] = p.Chosen, p.Rejected
	}
	r.ends = r.ends[:0]
	for b := range 2 * B {
		r.ends = append(r.ends, b+1)
	}
	tokens := fill(r.ids, r.labels, nil, r.exs, r.ends, r.T, r.PadID)
	if r.Config.Method == MethodORPO {
		copy(r.nllLabels, r.labels)
		for b, p := range pairs {
			copy(r.nllLabels[b*r.T:], p.Chosen.IDs)
		}
	}
	return tokens
}

// scoreLabels are the labels TokenLoss scores in the run's method.
func (r *Run) scoreLabels() []int {
	if r.Config.Method == MethodORPO {
		return r.nllLabels
	}
	return r.labels
}

// seqSums sums the per-target losses nll of each row of T over the
// targets that labels marks (labels[n+1] ≠ IgnoreIndex) into sums and
// counts, one per row.
func seqSums(nll []float64, labels []int, T int, sums []float64, counts []int) {
	clear(sums)
	clear(counts)
	for n := range nll {
		if n%T != T-1 && labels[n+1] != model.IgnoreIndex {
			sums[n/T] += nll[n]
			counts[n/T]++
		}
	}
}

// chosenNLL is the summed per-target loss and the target count of the
// chosen rows (the first B) under the scored labels.
func (r *Run) chosenNLL(B int) (float64, int) {
	T := r.T
	var sum float64
	count := 0
	lab := r.scoreLabels()
	for n := 0; n < B*T; n++ {
		if n%T != T-1 && lab[n+1] != model.IgnoreIndex {
			sum += r.nll[n]
			count++
		}
	}
	return sum, count
}

// coefficients spreads the sequences' d loss/d S (dS) over their
// completion targets and adds dToken to every scored target of the
// chosen rows (ORPO's NLL term), into r.coef for TokenLoss's backward.
func (r *Run) coefficients(dS []float64, dToken float64) {
	T, B := r.T, r.state.B/2
	lab := r.scoreLabels()
	clear(r.coef)
	for n := range r.coef {
		if n%T == T-1 {
			continue
		}
		c := 0.0
		if r.labels[n+1] != model.IgnoreIndex {
			c += dS[n/T]
		}
		if n/T < B && lab[n+1] != model.IgnoreIndex {
			c += dToken
		}
		r.coef[n] = float32(c)
	}
}

// preparePreference checks what the run's method needs and makes the
// buffers of a preference run: the reference and evaluation state (a
// loss state of 2B sequences) and the per-sequence sums.
func (r *Run) preparePreference() error {
	o := &r.Config
	if !o.Preference() {
		switch {
		case len(r.Pairs) > 0 || len(r.ValidPairs) > 0:
			return fmt.Errorf("train: preference pairs need method dpo or orpo, not %s", MethodSFT)
		case r.RefAdapter != nil:
			return fmt.Errorf("train: a reference adapter is DPO's: it needs method dpo")
		}
		return nil
	}
	switch {
	case len(r.Train) > 0 || len(r.Valid) > 0:
		return fmt.Errorf("train: method %s trains on preference pairs (prompt, chosen, rejected), not examples", o.Method)
	case len(r.Pairs) == 0:
		return fmt.Errorf("train: no preference pairs")
	case r.RefAdapter != nil && o.Method != MethodDPO:
		return fmt.Errorf("train: a reference adapter is DPO's: it needs method dpo")
	case o.Method == MethodDPO && r.Full:
		return fmt.Errorf("train: dpo's reference is the base with the adapter switched off: it needs LoRA, not full fine-tuning")
	}
	if r.RefAdapter != nil {
		r.RefAdapter.SetTrainable(false)
		r.RefAdapter.SetEnabled(false)
	}
	n := 2 * o.BatchSize
	r.ref = r.Model.NewLossState(n, r.T)
	r.sums, r.refSums, r.dS = make([]float64, n), make([]float64, n), make([]float64, n)
	r.counts = make([]int, n)
	r.nll, r.coef = make([]float64, n*r.T), make([]float32, n*r.T)
	r.nllLabels = make([]int, n*r.T)
	r.pairs = make([]data.Pair, o.BatchSize)
	return nil
}

// reference computes the reference's summed NLLs of the sequences in
// r.ids into r.refSums on the loss state: the adapter switched off and the
// reference adapter, if any, on, for this pass only.
func (r *Run) reference() error {
	r.Adapter.SetEnabled(false)
	if r.RefAdapter != nil {
		r.RefAdapter.SetEnabled(true)
	}
	defer func() {
		r.Adapter.SetEnabled(true)
		if r.RefAdapter != nil {
			r.RefAdapter.SetEnabled(false)
		}
	}()
	if err := r.Model.Forward(r.ref, r.ids); err != nil {
		return err
	}
	if _, _, err := r.Model.TokenLoss(r.ref, r.labels, nil, r.nll); err != nil {
		return err
	}
	seqSums(r.nll, r.labels, r.T, r.refSums, r.counts)
	return nil
}

// preferenceStep runs the micro-batches of step k: the reference pass
// (DPO), the forward pass, the loss's per-sequence coefficients from its
// log-probabilities, and the backward pass they seed.
func (r *Run) preferenceStep(k int, st *StepStats) error {
	o := &r.Config
	B := o.BatchSize
	first := k * B * o.GradAccum
	var acc prefAcc
	correct, count := 0, 0
	pairs := r.pairs
	for micro := 0; micro < o.GradAccum; micro++ {
		for b := range pairs {
			pairs[b] = r.Pairs[r.exampleAt(first+micro*B+b)]
		}
		st.Tokens += r.fillPairs(pairs)
		if o.Method == MethodDPO {
			if err := r.reference(); err != nil {
				return err
			}
		}
		r.state.Dropout = true
		r.state.DropoutSeed = o.Seed ^ uint64(k)<<20 ^ uint64(micro)
		if err := r.Model.Forward(r.state, r.ids); err != nil {
			return err
		}
		lab := r.scoreLabels()
		_, c, err := r.Model.TokenLoss(r.state, lab, nil, r.nll)
		if err != nil {
			return err
		}
		correct += r.state.Correct()
		count += c
		seqSums(r.nll, r.labels, r.T, r.sums, r.counts)
		nllSum, nllCount := r.chosenNLL(B)
		dToken := o.prefLoss(&acc, B, B, r.sums, r.counts, r.refSums, nllSum, nllCount, r.dS, 1/float64(o.GradAccum))
		r.coefficients(r.dS, dToken)
		if _, _, err := r.Model.TokenLoss(r.state, lab, r.coef, r.nll); err != nil {
			return err
		}
		r.Model.Backward(r.state)
	}
	st.Loss, st.Preference = acc.result(o.Method)
	st.Accuracy = float64(correct) / float64(max(count, 1))
	return nil
}

// evaluatePairs is the mean preference loss over pairs, in batches of
// Config.BatchSize pairs, without dropout or gradients.
func (r *Run) evaluatePairs(pairs []data.Pair) (float64, error) {
	B := r.Config.BatchSize
	var acc prefAcc
	for i := 0; i < len(pairs); i += B {
		n := min(B, len(pairs)-i)
		r.fillPairs(pairs[i : i+n])
		if r.Config.Method == MethodDPO {
			if err := r.reference(); err != nil {
				return 0, err
			}
		}
		if err := r.Model.Forward(r.ref, r.ids); err != nil {
			return 0, err
		}
		if _, _, err := r.Model.TokenLoss(r.ref, r.scoreLabels(), nil, r.nll); err != nil {
			return 0, err
		}
		seqSums(r.nll, r.labels, r.T, r.sums, r.counts)
		nllSum, nllCount := r.chosenNLL(B)
		r.Config.prefLoss(&acc, n, B, r.sums, r.counts, r.refSums, nllSum, nllCount, nil, 0)
	}
	loss, _ := acc.result(r.Config.Method)
	return loss, nil
}

// size is the number of training items: pairs in a preference run,
// examples otherwise.
func (r *Run) size() int {
	if r.Config.Preference() {
		return len(r.Pairs)
	}
	return len(r.Train)
}
