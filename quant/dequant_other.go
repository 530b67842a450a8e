//go:build !amd64 || purego

package quant

// dequant64 does nothing here; DequantizeSpan's Go loop does the work.
func dequant64(dst []float32, packed []byte, absmax []float32, code *[16]float32) int { return 0 }
