//go:build !amd64 || purego

package quant

// hasDequantAsm is false: this build has no assembly.
var hasDequantAsm = false

// dequant64 does nothing here; DequantizeSpan's Go loop does the work.
func dequant64(dst []float32, packed []byte, absmax []float32, code *[16]float32) int { return 0 }
