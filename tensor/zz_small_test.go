package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkSmallCut(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range [][3]int{{3, 5, 7}, {8, 8, 8}, {4, 16, 16}, {16, 16, 16}, {1, 64, 64}, {32, 32, 32}} {
		for _, small := range []int{0, 1 << 30} {
			b.Run(fmt.Sprintf("%v/small=%v", s, small > 0), func(b *testing.B) {
				old := smallGemm
				smallGemm = small
				defer func() { smallGemm = old }()
				a := testMat(rng, F32, s[0], s[2], 0)
				bm := testMat(rng, BF16, s[1], s[2], 0)
				c := make([]float32, s[0]*s[1])
				for b.Loop() {
					Gemm(false, true, 1, a, bm, 0, c, s[1])
				}
			})
		}
	}
}
