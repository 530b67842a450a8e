package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/data"
	"github.com/golora/golora/internal/testref"
)

func TestPackRows(t *testing.T) {
	for _, tc := range []struct {
		lens []int
		T    int
		want []int
	}{
		{[]int{5, 3, 7, 2, 4}, 12, []int{0, 2, 4, 5}},
		{[]int{5, 3, 7, 2, 4}, 7, []int{0, 1, 2, 3, 5}},
		{[]int{6, 6, 12, 1}, 12, []int{0, 2, 3, 4}}, // a row filled exactly
		{[]int{3}, 1, []int{0, 1}},                  // one per row
		{nil, 8, []int{0}},
	} {
		got := packRows(len(tc.lens), tc.T, func(i int) int { return tc.lens[i] })
		if !slices.Equal(got, tc.want) {
			t.Errorf("packRows(%v, %d) = %v, want %v", tc.lens, tc.T, got, tc.want)
		}
	}
}

// packExamples are prefixes of a fixture's two sequences, of various
// lengths, every other one trained on all its tokens (its first label
// too, which must not count), the others on the completion (positions
// ≥ 3).
func packExamples(t *testing.T, dir string) []data.Example {
	base := testref.LoadDir(t, dir).Examples()
	var exs []data.Example
	for i, n := range []int{9, 4, 7, 5, 9, 6, 8, 4, 5} {
		e := base[i%len(base)]
		labels := e.Labels[:n]
		if i%2 == 1 {
			labels = e.IDs[:n]
		}
		exs = append(exs, data.Example{IDs: e.IDs[:n], Labels: labels})
	}
	return exs
}

// TestPackedStepMatchesUnpacked: a packed step (shuffled, rows of 16, two
// micro-batches of two rows) has the loss, token count and LoRA gradients
// of one unpacked step over the same examples, and the same evaluation
// loss, up to float rounding, for RoPE and learned positions.
func TestPackedStepMatchesUnpacked(t *testing.T) {
	for _, name := range testref.Fixtures {
		t.Run(name, func(t *testing.T) {
			dir := testref.DirOf(name)
			c := refConfig(2, 2)
			c.Shuffle, c.Packing, c.MaxGradNorm = true, true, 0
			p := refRunIn(t, dir, c)
			p.Train, p.PackLen = packExamples(t, dir), 16
			if err := p.Prepare(); err != nil {
				t.Fatal(err)
			}
			// The examples the step drew, in order.
			var exs []data.Example
			for g := 4; g < 8; g++ {
				lo, hi := p.rowDraws(g)
				n := 0
				for d := lo; d < hi; d++ {
					exs = append(exs, p.Train[p.exampleAt(d)])
					n += len(exs[len(exs)-1].IDs)
				}
				if n > 16 || hi == lo {
					t.Fatalf("row %d: draws [%d, %d) of %d tokens", g, lo, hi, n)
				}
			}
			if len(exs) <= 4 {
				t.Fatalf("%d examples in 4 rows: nothing packed", len(exs))
			}
			u := refRunIn(t, dir, refConfig(len(exs), 1))
			u.Config.MaxGradNorm, u.Train = 0, exs
			if err := u.Prepare(); err != nil {
				t.Fatal(err)
			}
			// Both evaluate the examples before the steps change the weights.
			pv, err := p.Evaluate(exs)
			if err != nil {
				t.Fatal(err)
			}
			uv, err := u.Evaluate(exs)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(pv-uv) > 1e-6*uv {
				t.Errorf("packed evaluation %v, unpacked %v", pv, uv)
			}
			ps, err := p.Step(1)
			if err != nil {
				t.Fatal(err)
			}
			us, err := u.Step(0)
			if err != nil {
				t.Fatal(err)
			}
			if ps.Tokens != us.Tokens || math.Abs(ps.Loss-us.Loss) > 1e-6*us.Loss || math.Abs(ps.GradNorm-us.GradNorm) > 1e-5*us.GradNorm {
				t.Fatalf("packed step %+v, unpacked %+v", ps, us)
			}
			for i := range u.grads {
				scale, diff := 0.0, 0.0
				for j, w := range u.grads[i] {
					scale = max(scale, math.Abs(float64(w)))
					diff = max(diff, math.Abs(float64(p.grads[i][j]-w)))
				}
				if diff > 1e-5*scale {
					t.Errorf("%s: packed gradient differs by %g (largest %g)", u.params[i].Name, diff, scale)
				}
			}
		})
	}
}

// TestPackedEpochs: each epoch's rows draw that epoch's examples once
// each, in its order, rows following each other across epochs; --epochs
// counts rows, and the metric's epoch is rows done over the epoch's rows.
func TestPackedEpochs(t *testing.T) {
	c := refConfig(2, 1)
	c.Shuffle, c.Packing, c.Steps, c.Epochs = true, true, 0, 2.5
	r := refRunIn(t, testref.Dir(), c)
	r.Train, r.PackLen = packExamples(t, testref.Dir()), 16
	if err := r.Prepare(); err != nil {
		t.Fatal(err)
	}
	n := len(r.Train)
	next := 0 // the draw the next row must start at
	var rows []int
	for g := 0; next < 3*n; g++ {
		lo, hi := r.rowDraws(g)
		if lo != next {
			t.Fatalf("row %d draws [%d, %d), want it to start at %d", g, lo, hi, next)
		}
		if lo/n != (hi-1)/n {
			t.Fatalf("row %d draws [%d, %d) across an epoch", g, lo, hi)
		}
		if hi%n == 0 {
			rows = append(rows, g+1)
		}
		next = hi
	}
	if got := r.rowsIn(1); got != rows[0] {
		t.Errorf("rowsIn(1) = %d, want %d", got, rows[0])
	}
	want := rows[1] + int(math.Ceil(0.5*float64(rows[2]-rows[1])))
	if r.rowsIn(2.5) != want || r.TotalSteps() != (want+1)/2 {
		t.Errorf("2.5 epochs: %d rows, %d steps; want %d rows, %d steps", r.rowsIn(2.5), r.TotalSteps(), want, (want+1)/2)
	}
	if e := r.epochAt(rows[0]); e != 1 {
		t.Errorf("epoch after the first epoch's rows: %v", e)
	}
	if e := r.epochAt(rows[1] + 1); e <= 2 || e >= 3 {
		t.Errorf("epoch one row into the third: %v", e)
	}
}

// TestEvaluateRefusesLongExamples: an example longer than the run's rows
// is an error, not cut short.
func TestEvaluateRefusesLongExamples(t *testing.T) {
	for _, packing := range []bool{false, true} {
		c := refConfig(2, 1)
		c.Packing = packing
		r := refRunIn(t, testref.Dir(), c)
		long := data.Example{IDs: make([]int, r.T+1), Labels: make([]int, r.T+1)}
		if _, err := r.Evaluate(append(r.Train, long)); err == nil || !strings.Contains(err.Error(), "example 2 has") {
			t.Errorf("packing %v: %v", packing, err)
		}
	}
}
