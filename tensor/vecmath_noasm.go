//go:build !amd64 || purego

package tensor

// This build has no assembly: every element-wise kernel runs in Go.

func expShiftArch(dst, src []float32, c float32) (int, float64) { return 0, 0 }
func maxArch(x []float32) (int, float32)                        { return 1, x[0] }
func swigluArch(out, g, u []float32) int                        { return 0 }
func swigluBackwardArch(dg, du, dout, g, u []float32) int       { return 0 }
func scaleArch(x []float32, a float32) int                      { return 0 }
