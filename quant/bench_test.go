package quant

import (
	"fmt"
	"testing"
)

// BenchmarkDequantizeRow measures the row dequantization used by GEMM
// packing, in output elements per second (and output GB/s of float32).
func BenchmarkDequantizeRow(b *testing.B) {
	for _, shape := range []struct{ rows, cols int }{{256, 4096}, {256, 11008}, {64, 4097}} {
		for _, dq := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%d/double=%v", shape.rows, shape.cols, dq), func(b *testing.B) {
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
			})
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
