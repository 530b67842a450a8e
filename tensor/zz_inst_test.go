package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func TestInst(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range [][3]int{{1024, 576, 8}, {1024, 8, 576}} {
		m, n, k := s[0], s[1], s[2]
		a := testMat(rng, F32, m, k, 0)
		b := testMat(rng, F32, n, k, 0)
		c := make([]float32, m*n)
		for _, th := range []int{1, 2} {
			SetThreads(th)
			for i := 0; i < 50; i++ {
				Gemm(false, true, 1, a, b, 0, c, n)
			}
			partTimes = [2]time.Duration{}
			const N = 300
			var skew time.Duration
			t0 := time.Now()
			for i := 0; i < N; i++ {
				Gemm(false, true, 1, a, b, 0, c, n)
				if th == 2 {
					skew += partStart[1].Sub(partStart[0])
				}
			}
			el := time.Since(t0)
			fmt.Printf("%v threads=%d: total %v/op, part0 %v/op, part1 %v/op, start skew %v\n", s, th, el/N, partTimes[0]/N, partTimes[1]/N, skew/N)
		}
	}
	SetThreads(0)
}
