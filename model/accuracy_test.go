package model

import (
	"slices"
	"testing"
)

// TestLossCountsArgmax: Correct after Loss equals a count by hand over the
// logits of a forward pass, on an inference state, a loss state (two
// chunks of logits) and a training state (whose Loss overwrites the logits
// with their gradient), with labels chosen to hit, miss and be masked.
func TestLossCountsArgmax(t *testing.T) {
	m := NewRandom(testConfig(t, "llama", nil), 0.3, 8)
	const B, T = 2, 150
	V := m.Cfg.VocabSize
	ids := make([]int, B*T)
	for i := range ids {
		ids[i] = (7*i + 3) % V
	}
	ref := m.NewState(B, T, false)
	if err := m.Forward(ref, ids); err != nil {
		t.Fatal(err)
	}
	logits := slices.Clone(ref.Logits)
	// Position n predicts labels[n+1]: make every third target the argmax,
	// every fifth masked, the rest the argmax's neighbour.
	labels := make([]int, B*T)
	want, targets := 0, 0
	for n := 0; n < B*T; n++ {
		if n%T == T-1 {
			labels[(n+1)%(B*T)] = ids[(n+1)%(B*T)] // never a target
			continue
		}
		row := logits[n*V : (n+1)*V]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		switch {
		case n%5 == 0:
			labels[n+1] = IgnoreIndex
		case n%3 == 0:
			labels[n+1] = best
			want++
			targets++
		default:
			labels[n+1] = (best + 1) % V
			targets++
		}
	}
	if want == 0 || want == targets {
		t.Fatalf("degenerate labels: %d of %d", want, targets)
	}
	for _, tc := range []struct {
		name string
		s    *State
		norm float32
	}{
		{"inference", m.NewState(B, T, false), 0},
		{"loss state", m.NewLossState(B, T), 0},
		{"training", m.NewState(B, T, true), float32(targets)},
	} {
		if err := m.Forward(tc.s, ids); err != nil {
			t.Fatal(err)
		}
		_, count, err := m.Loss(tc.s, labels, tc.norm)
		if err != nil {
			t.Fatal(err)
		}
		if count != targets || tc.s.Correct() != want {
			t.Errorf("%s: %d of %d targets correct, want %d of %d", tc.name, tc.s.Correct(), count, want, targets)
		}
	}
}

// TestCrossEntropyArgmaxTies: on a tie the first largest logit is the
// prediction, as torch.argmax returns it.
func TestCrossEntropyArgmaxTies(t *testing.T) {
	const T, V = 2, 3
	for _, tc := range []struct {
		label, want int
	}{{0, 0}, {1, 1}, {2, 0}} {
		logits := []float32{1, 3, 3, 0, 0, 0}
		_, _, got := crossEntropy(logits, 0, []int{0, tc.label}, 0, T, T, V, 0)
		if got != tc.want {
			t.Errorf("logits [1 3 3], label %d: %d correct, want %d", tc.label, got, tc.want)
		}
	}
}
