package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkDecodeProducts times the one-row products x·Wᵀ of one decoded
// token of SmolLM-135M in float32 (30 layers of q, k, v, o, gate, up and
// down, then the 49152-word head: 540 MB of weights, far more than the
// caches hold), in the order Decode runs them, per kernel and thread
// count. GB/s is the rate the weights stream from memory at:
//
//	go test ./tensor -run '^$' -bench DecodeProducts
func BenchmarkDecodeProducts(b *testing.B) {
	const C, KV, I, V, L = 576, 192, 1536, 49152, 30
	shapes := []struct{ n, k int }{{C, C}, {KV, C}, {KV, C}, {C, C}, {I, C}, {I, C}, {C, I}}
	rng := rand.New(rand.NewPCG(1, 2))
	var ws []Mat
	bytes := 0
	for range L {
		for _, s := range shapes {
			ws = append(ws, testMat(rng, F32, s.n, s.k, 0))
			bytes += 4 * s.n * s.k
		}
	}
	ws = append(ws, testMat(rng, F32, V, C, 0))
	bytes += 4 * V * C
	x := testMat(rng, F32, 1, I, 0)
	y := make([]float32, V)
	for _, kern := range testKernels() {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", kern.name, threads), func(b *testing.B) {
				old := int(threadSetting.Load())
				SetThreads(threads)
				defer SetThreads(old)
				withKernel(kern, func() {
					step := func() {
						for _, w := range ws {
							Gemm(false, true, 1, Mat{DType: F32, F32: x.F32[:w.Cols], Rows: 1, Cols: w.Cols, Stride: w.Cols}, w, 0, y, w.Rows)
						}
					}
					step()
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						step()
					}
					s := b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(float64(bytes)/s/1e9, "GB/s")
					b.ReportMetric(1/s, "tokens/s")
				})
			})
		}
	}
}
