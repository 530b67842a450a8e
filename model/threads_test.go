package model

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golora/golora/tensor"
)

// TestThreadCountInvariant: a LoRA training step (frozen base, adapters
// with dropout on the first linear of layer 0 and the last of layer 1)
// gives the same logits and adapter gradients bit for bit on 1, 2, 3 and 5
// threads, with and without checkpointing (which skips layer 0's MLP
// activation, whose down_proj is frozen), for one sequence and for two:
// the parallel loops split over threads only work whose results do not
// depend on the split (attention heads, rows, element-wise activations and
// dropout cut at vector boundaries — the intermediate size 24 is not a
// multiple of a vector).
func TestThreadCountInvariant(t *testing.T) {
	for _, model := range []string{"llama", "gpt2", "gemma2"} {
		t.Run(model, func(t *testing.T) { testThreadCountInvariant(t, model) })
	}
}

func testThreadCountInvariant(t *testing.T, model string) {
	t.Cleanup(func() { tensor.SetThreads(0) })
	r := rand.New(rand.NewPCG(51, 52))
	m := NewRandom(testConfig(t, model, map[string]any{"max_position_embeddings": 80}), 0.3, 7)
	var adapters []*Param
	last := m.Layers[1].Linears()
	for _, lin := range []*Linear{m.Layers[0].Linears()[0], last[len(last)-1]} {
		a := &LoRA{Adapter: "x", Rank: 2, Scale: 2, Dropout: 0.3,
			A: NewParam("A", []int{2, lin.In}, randSlice(r, 2*lin.In, 0.3)), B: NewParam("B", []int{lin.Out, 2}, randSlice(r, 2*lin.Out, 0.3))}
		a.A.SetTrainable(true)
		a.B.SetTrainable(true)
		lin.LoRA = append(lin.LoRA, a)
		adapters = append(adapters, a.A, a.B)
	}
	for _, B := range []int{1, 2} {
		T := 70 // more than one block of attnRows queries
		ids := make([]int, B*T)
		for i := range ids {
			ids[i] = r.IntN(m.Cfg.VocabSize)
		}
		var want [][]float32 // on one thread without checkpointing
		for _, ckpt := range []bool{false, true} {
			t.Run(fmt.Sprintf("B=%d/checkpointed=%v", B, ckpt), func(t *testing.T) {
				for _, threads := range []int{1, 2, 3, 5} {
					tensor.SetThreads(threads)
					inf := m.NewState(B, T, false)
					if err := m.Forward(inf, ids); err != nil {
						t.Fatal(err)
					}
					s := m.NewState(B, T, true)
					if ckpt {
						s = m.NewCheckpointedState(B, T)
					}
					for _, p := range adapters {
						clear(p.Grad)
					}
					s.Dropout, s.DropoutSeed = true, 9
					if err := m.Forward(s, ids); err != nil {
						t.Fatal(err)
					}
					if _, _, err := m.Loss(s, ids, float32(len(ids))); err != nil {
						t.Fatal(err)
					}
					m.Backward(s)
					got := [][]float32{slices.Clone(inf.Logits)}
					for _, p := range adapters {
						got = append(got, slices.Clone(p.Grad))
					}
					if want == nil {
						want = got
						continue
					}
					for i := range got {
						if !slices.Equal(got[i], want[i]) {
							t.Fatalf("%d threads: result %d (0: logits, then A, B of each adapter) differs from 1 thread's without checkpointing", threads, i)
						}
					}
				}
			})
		}
	}
}
