//go:build !amd64 || purego

package gguf

// dequantSIMD does nothing here; dequantBlocks's Go code does the work.
func dequantSIMD(t Type, ts int, src []byte, dst []float32) bool { return false }
