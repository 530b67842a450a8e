package gguf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golora/golora/tensor/kernels"
)

// simdTypes are the types with assembly dequantizers; F32, F16 and BF16
// run the Go code on every kernel set.
var simdTypes = []Type{Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}

// withKernels runs f once for every kernel set this machine supports, with
// that set active.
func withKernels(f func(set kernels.Set)) {
	defer func(s kernels.Set) { _ = kernels.Use(s) }(kernels.Active())
	for _, set := range kernels.Supported() {
		if err := kernels.Use(set); err != nil {
			panic(err)
		}
		f(set)
	}
}

// TestDequantizeKernelSets checks that every kernel set decodes blocks of
// uniformly random bytes (F16 scales and mins that are NaN, ±Inf,
// subnormal or zero included) bit for bit as the portable Go code does,
// for 0 to 9 blocks in one call (the assembly loops over blocks).
func TestDequantizeKernelSets(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []Type{Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K} {
		bs, ts := typ.BlockSize(), typ.TypeSize()
		for trial := 0; trial < 50; trial++ {
			n := trial % 10
			src := make([]byte, n*ts)
			for i := range src {
				src[i] = byte(r.Uint32())
			}
			if trial%2 == 0 { // special F16 values where the scales are
				s := randomScales[typ]
				specials := []uint16{0x7e00, 0x7d00, 0xfc00, 0x7c00, 0x0001, 0x83ff, 0x0000, 0x8000, 0x3c00}
				for b := 0; b < n; b++ {
					src[b*ts+s.d], src[b*ts+s.d+1] = byte(specials[(trial+b)%9]), byte(specials[(trial+b)%9]>>8)
					if s.m >= 0 { // the next special: a NaN d with a NaN min of another payload too
						src[b*ts+s.m], src[b*ts+s.m+1] = byte(specials[(trial+b+1)%9]), byte(specials[(trial+b+1)%9]>>8)
					}
				}
			}
			want := make([]float32, n*bs)
			withKernels(func(set kernels.Set) {
				if set == kernels.Go {
					dequantBlocks(typ, ts, src, want)
				}
			})
			withKernels(func(set kernels.Set) {
				got := make([]float32, n*bs+1)
				got[n*bs] = 42 // must stay
				if !dequantBlocks(typ, ts, src, got[:n*bs]) {
					t.Fatalf("%s: not decoded", typ)
				}
				for i, v := range want {
					if math.Float32bits(got[i]) != math.Float32bits(v) {
						t.Fatalf("%s %s, %d blocks: value %d = %v (%#x), want %v (%#x)", typ, set, n, i, got[i], math.Float32bits(got[i]), v, math.Float32bits(v))
					}
				}
				if got[n*bs] != 42 {
					t.Fatalf("%s %s, %d blocks: wrote past the end", typ, set, n)
				}
			})
		}
	}
}

// TestDequantSIMDTypes checks that the types with assembly are those the
// assembly path claims on a machine that runs it.
func TestDequantSIMDTypes(t *testing.T) {
	withKernels(func(set kernels.Set) {
		for _, typ := range []Type{Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, F16} {
			dst := make([]float32, typ.BlockSize())
			src := make([]byte, typ.TypeSize())
			got := dequantSIMD(typ, typ.TypeSize(), src, dst)
			want := set != kernels.Go && hasF16C && contains(simdTypes, typ)
			if got != want {
				t.Errorf("%s %s: assembly %v, want %v", typ, set, got, want)
			}
		}
	})
}

func contains(ts []Type, t Type) bool {
	for _, u := range ts {
		if u == t {
			return true
		}
	}
	return false
}

// BenchmarkDequantize measures the decoding throughput of each block type
// on each kernel set, in values (float32 written) per second, over a
// 256×2304-value matrix (2.4 MB of float32, about what GEMM packs at once).
func BenchmarkDequantize(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 256 * 2304
	for _, typ := range []Type{Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K} {
		src, err := Random(typ, n, 1, r)
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]float32, n)
		withKernels(func(set kernels.Set) {
			b.Run(fmt.Sprintf("%s/%s", typ, set), func(b *testing.B) {
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					dequantBlocks(typ, typ.TypeSize(), src, dst)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
			})
		})
	}
}
