//go:build !amd64 || purego

package gguf

// hasF16C: there is no assembly to widen F16 scales with here.
const hasF16C = false

// dequantSIMD does nothing here; dequantBlocks's Go code does the work.
func dequantSIMD(t Type, ts int, src []byte, dst []float32) bool { return false }
