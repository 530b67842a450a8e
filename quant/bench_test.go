package quant

import (
	"fmt"
	"testing"

	"github.com/golora/golora/tensor/kernels"
)

// BenchmarkDequantizeRow measures the row dequantization used by GEMM
// packing under every kernel set the CPU supports, in output elements per
// second, output GB/s of float32 and ns per block of 64 values.
func BenchmarkDequantizeRow(b *testing.B) {
	for _, shape := range []struct{ rows, cols int }{{256, 4096}, {256, 11008}, {64, 4097}} {
		for _, dq := range []bool{false, true} {
			for _, set := range kernels.Supported() {
				b.Run(fmt.Sprintf("%dx%d/double=%v/%v", shape.rows, shape.cols, dq, set), func(b *testing.B) {
					err := kernels.With(set, func() {
						q, err := Quantize(gaussian(shape.rows*shape.cols, 1, 0.02), shape.rows, shape.cols, NF4, dq)
						if err != nil {
							b.Fatal(err)
						}
						dst := make([]float32, shape.cols)
						b.ResetTimer()
						r := 0
						for b.Loop() {
							q.DequantizeRow(r, dst)
							if r++; r == shape.rows {
								r = 0
							}
						}
						elems := float64(b.N) * float64(shape.cols)
						b.ReportMetric(elems/b.Elapsed().Seconds()/1e9, "Gelem/s")
						b.ReportMetric(4*elems/b.Elapsed().Seconds()/1e9, "GB/s")
						b.ReportMetric(64*b.Elapsed().Seconds()*1e9/elems, "ns/block")
					})
					if err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

// BenchmarkQuantize measures Quantize (NF4, double quantization).
func BenchmarkQuantize(b *testing.B) {
	w := gaussian(1024*1024, 1, 0.02)
	b.SetBytes(int64(4 * len(w)))
	for b.Loop() {
		if _, err := Quantize(w, 1024, 1024, NF4, true); err != nil {
			b.Fatal(err)
		}
	}
}
