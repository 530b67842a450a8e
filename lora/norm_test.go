package lora

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

func TestProductNormMatchesExplicitProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][3]int{{1, 1, 1}, {5, 3, 7}, {16, 8, 12}, {3, 4, 2}} {
		out, r, in := sh[0], sh[1], sh[2]
		B, A := make([]float32, out*r), make([]float32, r*in)
		for i := range B {
			B[i] = float32(rng.NormFloat64())
		}
		for i := range A {
			A[i] = float32(rng.NormFloat64())
		}
		var want float64
		for i := 0; i < out; i++ {
			for j := 0; j < in; j++ {
				var d float64
				for k := 0; k < r; k++ {
					d += float64(B[i*r+k]) * float64(A[k*in+j])
				}
				want += d * d
			}
		}
		want = math.Sqrt(want)
		got := ProductNorm(tensor.FromF32(B, out, r), tensor.FromF32(A, r, in))
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("%v: ‖BA‖ = %.12g, explicit product %.12g", sh, got, want)
		}
		l := &model.LoRA{A: model.NewParam("a", []int{r, in}, A), B: model.NewParam("b", []int{out, r}, B), Scale: 0.5}
		if u := UpdateNorm(l); math.Abs(u-want/2) > 1e-9*want {
			t.Errorf("%v: UpdateNorm %.12g, want %.12g", sh, u, want/2)
		}
	}
}
