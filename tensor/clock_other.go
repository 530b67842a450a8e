//go:build !amd64 || purego

package tensor

func addChain(n int) {}

const haveClockLoop = false
