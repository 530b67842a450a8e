package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPack measures packing throughput (elements of the source block
// per second) for each layout the Gemm driver packs.
func BenchmarkPack(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const rows, cols = 1536, 1536
	for _, dt := range allDTypes {
		x := testMat(rng, dt, rows, cols, 0)
		for _, trans := range []bool{false, true} {
			for _, which := range []string{"A", "B"} {
				b.Run(fmt.Sprintf("%s/trans=%v/%v", which, trans, dt), func(b *testing.B) {
					const kc, mn = 256, 144
					dst := make([]float32, 256*256)
					scratch := make([]float32, 16*kc)
					for b.Loop() {
						for blk := 0; blk < 8; blk++ {
							if which == "A" {
								packA(dst, x, trans, blk*mn, mn, blk*kc/2, kc, 6)
							} else {
								packB(dst, x, trans, blk*kc/2, kc, blk*mn, mn, 16, activeKernel().packT, scratch)
							}
						}
					}
					b.ReportMetric(float64(8*kc*mn)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
				})
			}
		}
	}
}
