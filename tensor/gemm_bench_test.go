package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkGemm measures GFLOP/s (2·m·n·k per call) for the training shapes
// of a 576-wide model with 1536-wide MLP over 1024 tokens, the LoRA
// products of rank 8 and a tiny product, per kernel and thread count:
//
//	go test ./tensor -run '^$' -bench 'Gemm/avx2-6x16' -benchmem
func BenchmarkGemm(b *testing.B) {
	type bcase struct {
		name           string
		transA, transB bool
		tb             DType
		m, n, k        int
	}
	cases := []bcase{
		{"nn_f32_1024x1536x576", false, false, F32, 1024, 1536, 576},   // dX = dY·W
		{"nt_f32_1024x576x1536", false, true, F32, 1024, 576, 1536},    // y = x·Wᵀ
		{"nt_bf16_1024x576x1536", false, true, BF16, 1024, 576, 1536},  // y = x·Wᵀ, bf16 W
		{"tn_f32_576x1536x1024", true, false, F32, 576, 1536, 1024},    // dW = dYᵀ·X
		{"lora_nt_1024x8x576", false, true, F32, 1024, 8, 576},         // x·Aᵀ
		{"lora_nt_1024x576x8", false, true, F32, 1024, 576, 8},         // (x·Aᵀ)·Bᵀ
		{"lora_tn_8x576x1024", true, false, F32, 8, 576, 1024},         // dA = dHᵀ·x
		{"decode_nt_bf16_1x1536x576", false, true, BF16, 1, 1536, 576}, // one token, bf16 W
		{"tiny_3x5x7", false, false, F32, 3, 5, 7},
	}
	for _, kern := range testKernels() {
		for _, threads := range []int{1, 2} {
			for _, bc := range cases {
				b.Run(fmt.Sprintf("%s/threads=%d/%s", kern.name, threads, bc.name), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 2))
					ar, ac := bc.m, bc.k
					if bc.transA {
						ar, ac = ac, ar
					}
					br, bcols := bc.k, bc.n
					if bc.transB {
						br, bcols = bcols, br
					}
					a := testMat(rng, F32, ar, ac, 0)
					bm := testMat(rng, bc.tb, br, bcols, 0)
					c := make([]float32, bc.m*bc.n)
					old := int(threadSetting.Load())
					SetThreads(threads)
					defer SetThreads(old)
					withKernel(kern, func() {
						Gemm(bc.transA, bc.transB, 1, a, bm, 0, c, bc.n) // warm the pool and buffers
						b.ReportAllocs()
						b.ResetTimer()
						for b.Loop() {
							Gemm(bc.transA, bc.transB, 1, a, bm, 0, c, bc.n)
						}
						flops := 2 * float64(bc.m) * float64(bc.n) * float64(bc.k) * float64(b.N)
						b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				})
			}
		}
	}
}

// BenchmarkGemmKernel measures a micro-kernel alone on L1-resident packed
// panels (kc = 256): the ceiling that blocking and packing work towards.
func BenchmarkGemmKernel(b *testing.B) {
	for _, kern := range testKernels() {
		b.Run(kern.name, func(b *testing.B) {
			const kc = 256
			mr, nr := kern.mr, kern.nr
			a := make([]float32, mr*kc)
			bp := make([]float32, nr*kc)
			c := make([]float32, mr*nr)
			for i := range a {
				a[i] = 1e-3
			}
			for i := range bp {
				bp[i] = 1e-3
			}
			for b.Loop() {
				kern.full(kc, a, kc, 1, bp, nr, c, nr, 1, 1)
			}
			b.ReportMetric(2*float64(mr*nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
