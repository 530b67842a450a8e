package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkTune(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	type sh struct {
		name           string
		transA, transB bool
		m, n, k        int
	}
	for _, s := range []sh{{"nt", false, true, 1024, 576, 1536}, {"nn", false, false, 1024, 1536, 576}} {
		ar, ac := s.m, s.k
		br, bc := s.k, s.n
		if s.transB {
			br, bc = bc, br
		}
		a := testMat(rng, F32, ar, ac, 0)
		bm := testMat(rng, F32, br, bc, 0)
		c := make([]float32, s.m*s.n)
		for _, mc := range []int{72, 144, 288} {
			for _, kc := range []int{192, 256, 384} {
				blk := &blocking{mc: mc, kc: kc, nc: 4080}
				b.Run(fmt.Sprintf("%s/mc=%d/kc=%d", s.name, mc, kc), func(b *testing.B) {
					old := blockingOverride
					blockingOverride = blk
					defer func() { blockingOverride = old }()
					SetThreads(1)
					defer SetThreads(0)
					for b.Loop() {
						Gemm(s.transA, s.transB, 1, a, bm, 0, c, s.n)
					}
					b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
