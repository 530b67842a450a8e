package train

import (
	"math"

	"github.com/golora/golora/data"
	"github.com/golora/golora/model"
)

// Packing (Config.Packing) lays several examples into each row of T
// tokens (Run.PackLen). The rule: each epoch's examples, in the order
// that epoch draws them (shuffled or not, as without packing), fill rows
// greedily: an example joins the current row when it fits in what is
// left of it, else it starts the next row; no example is split or
// reordered. A row's tail after its last example is padding. Rows follow
// each other across epochs, and a step takes BatchSize·GradAccum rows, so
// every micro-batch is full rows while the number of examples per step
// varies; the loss stays the mean over the step's targets (Hugging Face
// TRL's packing). Config.Epochs counts rows: E epochs are the rows of
// the first ⌊E⌋ epochs and that fraction of the next one's, rounded up
// (TotalSteps = ⌈rows / (BatchSize·GradAccum)⌉). Each example's tokens
// get their positions within it (model.State.Positions), so it is
// trained exactly as it is alone in a row. Without packing a row is one
// example.

// packRows cuts n examples, taken in order (the i-th of length(i)
// tokens), into rows of at most T tokens by the greedy rule above: row r
// holds examples [cuts[r], cuts[r+1]).
func packRows(n, T int, length func(i int) int) (cuts []int) {
	cuts = append(cuts, 0)
	used := 0
	for i := range n {
		l := length(i)
		if used > 0 && used+l > T {
			cuts, used = append(cuts, i), 0
		}
		used += l
	}
	if n > 0 {
		cuts = append(cuts, n)
	}
	return cuts
}

// epochRows returns the rows of epoch e (packRows over the examples in
// the order it draws them), keeping the last epoch's.
func (r *Run) epochRows(e int) []int {
	if r.cutsEpoch != e || r.cuts == nil {
		n := len(r.Train)
		r.cuts = packRows(n, r.T, func(i int) int { return len(r.Train[r.exampleAt(e*n+i)].IDs) })
		r.cutsEpoch = e
	}
	return r.cuts
}

// rowAt returns the epoch of the run's g-th row and the row's index in it.
func (r *Run) rowAt(g int) (epoch, row int) {
	for e := 0; ; e++ {
		if e+1 == len(r.rowStart) {
			r.rowStart = append(r.rowStart, r.rowStart[e]+len(r.epochRows(e))-1)
		}
		if g < r.rowStart[e+1] {
			return e, g - r.rowStart[e]
		}
	}
}

// rowDraws returns the draws (the indices exampleAt takes) of the run's
// g-th row: [g, g+1) without packing.
func (r *Run) rowDraws(g int) (lo, hi int) {
	if !r.Config.Packing {
		return g, g + 1
	}
	e, i := r.rowAt(g)
	cuts, n := r.epochRows(e), len(r.Train)
	return e*n + cuts[i], e*n + cuts[i+1]
}

// rowsIn is how many rows the first epochs (a fraction of the last one
// counting by its rows, rounded up) hold.
func (r *Run) rowsIn(epochs float64) int {
	if !r.Config.Packing {
		return int(math.Ceil(epochs * float64(r.size())))
	}
	whole := int(epochs)
	for len(r.rowStart) <= whole+1 { // pack one more epoch
		r.rowAt(r.rowStart[len(r.rowStart)-1])
	}
	return r.rowStart[whole] + int(math.Ceil((epochs-float64(whole))*float64(r.rowStart[whole+1]-r.rowStart[whole])))
}

// epochAt is how many epochs the run's first g rows make.
func (r *Run) epochAt(g int) float64 {
	if !r.Config.Packing {
		return float64(g) / float64(r.size())
	}
	e, i := r.rowAt(g)
	return float64(e) + float64(i)/float64(r.rowStart[e+1]-r.rowStart[e])
}

// fill lays examples out in ids/labels (rows of T, row-major), padded
// with pad (labels masked): row b holds exs[ends[b-1]:ends[b]] (from 0),
// and rows beyond len(ends) are padding. With pos (packing), each token
// also gets its position within its example, each example's first label
// is masked (the previous example's last token would predict it; an
// example's own first label never counts) and a row's padded tail is an
// example of its own, never trained. It returns the number of real
// tokens.
func fill(ids, labels, pos []int, exs []data.Example, ends []int, T, pad int) int {
	tokens, first := 0, 0
	for b := 0; b < len(ids)/T; b++ {
		row, lab := ids[b*T:(b+1)*T], labels[b*T:(b+1)*T]
		t := 0
		if b < len(ends) {
			for _, e := range exs[first:ends[b]] {
				copy(row[t:], e.IDs)
				copy(lab[t:], e.Labels)
				if pos != nil {
					lab[t] = model.IgnoreIndex
					for j := range e.IDs {
						pos[b*T+t+j] = j
					}
				}
				t += len(e.IDs)
			}
			first = ends[b]
		}
		tokens += t
		for j := t; j < T; j++ {
			row[j], lab[j] = pad, model.IgnoreIndex
			if pos != nil {
				pos[b*T+j] = j - t
			}
		}
	}
	return tokens
}
