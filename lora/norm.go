package lora

import (
	"fmt"
	"math"

	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

// UpdateNorm is ‖s·B·A‖_F of one LoRA module, B: [out, r], A: [r, in],
// computed through the r×r Gram matrices, ‖BA‖²_F = Σ_ij (BᵀB)_ij (AAᵀ)_ij,
// in O(r²·(in+out)) without forming the out×in product.
func UpdateNorm(l *model.LoRA) float64 {
	return float64(l.Scale) * ProductNorm(l.B.W, l.A.W)
}

// ProductNorm is ‖B·A‖_F for B: [out, r] and A: [r, in] (any dtype),
// accumulated in float64.
func ProductNorm(B, A tensor.Mat) float64 {
	r := B.Cols
	if A.Rows != r {
		panic(fmt.Sprintf("lora.ProductNorm: B is %d×%d, A is %d×%d", B.Rows, B.Cols, A.Rows, A.Cols))
	}
	gb := make([]float64, r*r) // BᵀB
	row := make([]float32, max(B.Cols, A.Cols))
	for i := 0; i < B.Rows; i++ {
		b := B.Row(i, row)
		for p := 0; p < r; p++ {
			for q := 0; q < r; q++ {
				gb[p*r+q] += float64(b[p]) * float64(b[q])
			}
		}
	}
	arows := make([][]float32, r)
	for p := range arows {
		arows[p] = append([]float32(nil), A.Row(p, row)...)
	}
	var sum float64
	for p := 0; p < r; p++ {
		for q := 0; q < r; q++ {
			if gb[p*r+q] == 0 {
				continue
			}
			var d float64 // (AAᵀ)_pq
			for j, x := range arows[p] {
				d += float64(x) * float64(arows[q][j])
			}
			sum += gb[p*r+q] * d
		}
	}
	return math.Sqrt(max(sum, 0))
}
