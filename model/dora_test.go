package model

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/quant"
	"github.com/golora/golora/tensor"
)

// doraOn attaches a DoRA adapter with random A, B and magnitude (around
// the weight norms) to lin, all trainable.
func doraOn(r *rand.Rand, lin *Linear, rank int, scale, dropout float32) *LoRA {
	a := &LoRA{Adapter: "dora", Rank: rank, Scale: scale, Dropout: dropout,
		A: NewParam("A", []int{rank, lin.In}, randSlice(r, rank*lin.In, 0.3)),
		B: NewParam("B", []int{lin.Out, rank}, randSlice(r, lin.Out*rank, 0.3))}
	m := make([]float32, lin.Out)
	DoraNorm(m, lin, &LoRA{Rank: rank, A: a.A, B: NewParam("B0", []int{lin.Out, rank}, make([]float32, lin.Out*rank))})
	for j := range m {
		m[j] *= float32(1 + 0.3*r.NormFloat64())
	}
	a.Magnitude = NewParam("m", []int{lin.Out}, m)
	for _, p := range a.Params() {
		p.SetTrainable(true)
	}
	lin.LoRA = append(lin.LoRA, a)
	return a
}

// TestLinearDoRAGrad checks the DoRA linear's gradients (input, bias, W,
// A, B, magnitude) against central differences, with and without dropout.
// The weight norm is detached, as in PEFT: for A and B the numeric
// derivative holds f = m/‖W + s·B·A‖ fixed by rescaling m with the norm.
func TestLinearDoRAGrad(t *testing.T) {
	for _, drop := range []float32{0, 0.3} {
		r := rand.New(rand.NewPCG(21, 22))
		m := NewRandom(testConfig(t, "qwen2", nil), 0.2, 2)
		lin := m.Layers[0].Q // has a bias in qwen2
		lin.W.SetTrainable(true)
		lin.Bias.SetTrainable(true)
		copy(lin.Bias.F32(), randSlice(r, lin.Out, 0.5))
		a := doraOn(r, lin, 3, 1.5, drop)
		s := m.NewState(1, 4, true)
		s.Dropout, s.DropoutSeed = drop > 0, 7
		loss, x, dx := linearLoss(r, s, lin)
		checkGrad(t, "dx", x, dx, loss, 40)
		checkGrad(t, "db", lin.Bias.W.F32, lin.Bias.Grad, loss, 40)
		checkGrad(t, "dm", a.Magnitude.W.F32, a.Magnitude.Grad, loss, 40)
		mag := a.Magnitude.W.F32
		m0, n0, n := slices.Clone(mag), make([]float32, lin.Out), make([]float32, lin.Out)
		DoraNorm(n0, lin, a)
		fixed := func() float64 {
			DoraNorm(n, lin, a)
			for j := range mag {
				mag[j] = m0[j] * n[j] / n0[j]
			}
			l := loss()
			copy(mag, m0)
			return l
		}
		checkGrad(t, "dW", lin.W.W.F32, lin.W.Grad, fixed, 40)
		checkGrad(t, "dA", a.A.W.F32, a.A.Grad, fixed, 40)
		checkGrad(t, "dB", a.B.W.F32, a.B.Grad, fixed, 40)
	}
}

// TestDoRAFreshIsBase: a DoRA adapter with B = 0 and m = ‖W‖ leaves the
// output as it is, on a float32 and on a 4-bit base.
func TestDoRAFreshIsBase(t *testing.T) {
	c := testConfig(t, "llama", nil)
	q, err := NewRandomQuantized(c, 0.2, 3, quant.NF4, true)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Model{"f32": NewRandom(c, 0.2, 3), "nf4": q} {
		r := rand.New(rand.NewPCG(5, 6))
		lin := m.Layers[0].Down
		s := m.NewState(1, 5, false)
		x := randSlice(r, s.N*lin.In, 1)
		want := make([]float32, s.N*lin.Out)
		s.linearForward(lin, want, x)
		a := doraOn(r, lin, 2, 2, 0)
		clear(a.B.W.F32)
		DoraNorm(a.Magnitude.W.F32, lin, a)
		s = m.NewState(1, 5, false)
		got := make([]float32, len(want))
		s.linearForward(lin, got, x)
		for i := range got {
			if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("%s: y[%d] = %g with a fresh DoRA adapter, %g without", name, i, got[i], want[i])
			}
		}
		if lin.W.W.DType == tensor.Q4 != (name == "nf4") {
			t.Fatalf("%s: weight dtype %v", name, lin.W.W.DType)
		}
	}
}

// TestDecodeBatchRefusesDoRA: a row that selects a DoRA adapter is refused
// by name; rows without it decode.
func TestDecodeBatchRefusesDoRA(t *testing.T) {
	m := NewRandom(testConfig(t, "llama", nil), 0.2, 4)
	doraOn(rand.New(rand.NewPCG(1, 2)), m.Layers[1].V, 2, 1, 0)
	b := m.NewBatch(2)
	rows := []BatchRow{{Cache: m.NewCache(4), ID: 3}, {Cache: m.NewCache(4), ID: 5, LoRA: Selection{"dora": 1}}}
	if err := m.DecodeBatch(b, rows); err == nil || !strings.Contains(err.Error(), `row 1: adapter "dora" is DoRA`) {
		t.Fatalf("error %v, want a refusal of row 1's DoRA adapter", err)
	}
	if err := m.DecodeBatch(b, rows[:1]); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointedMatchesFullDoRA: with DoRA adapters (and dropout) on a
// recomputed module (q_proj) and on modules that are not recomputed
// (o_proj, down_proj), gradient checkpointing gives the gradients of the
// full training state bit for bit.
func TestCheckpointedMatchesFullDoRA(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	m := NewRandom(testConfig(t, "llama", map[string]any{"num_hidden_layers": 2}), 0.3, 6)
	var params []*Param
	for _, lin := range []*Linear{m.Layers[0].Q, m.Layers[1].O, m.Layers[1].Down} {
		params = append(params, doraOn(r, lin, 2, 2, 0.3).Params()...)
	}
	checkpointedMatchesFull(t, m, params, 5)
}

// TestDoRANormParallel: the state's weight norms, computed in blocks of
// doraRows rows on several threads, equal DoraNorm's one-thread ones, on
// a float32 and on a 4-bit base.
func TestDoRANormParallel(t *testing.T) {
	t.Cleanup(func() { tensor.SetThreads(0) })
	tensor.SetThreads(3)
	c := testConfig(t, "llama", map[string]any{"intermediate_size": 200})
	q, err := NewRandomQuantized(c, 0.2, 3, quant.NF4, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Model{"f32": NewRandom(c, 0.2, 3), "nf4": q} {
		lin := m.Layers[0].Up // 200 rows: four blocks
		a := doraOn(rand.New(rand.NewPCG(7, 8)), lin, 3, 2, 0)
		s := m.NewState(1, 3, false)
		if len(s.dora.w) != 3 {
			t.Fatalf("%d norm buffers for 3 threads", len(s.dora.w))
		}
		y := make([]float32, s.N*lin.Out)
		s.linearForward(lin, y, randSlice(rand.New(rand.NewPCG(1, 1)), s.N*lin.In, 1))
		want := make([]float32, lin.Out)
		DoraNorm(want, lin, a)
		if got := s.lora[a].norm; !slices.Equal(got, want) {
			t.Errorf("%s: the state's weight norms differ from DoraNorm's", name)
		}
	}
}
