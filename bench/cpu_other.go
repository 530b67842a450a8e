//go:build !unix

package bench

// cpuSeconds returns 0: this system's process time is not read.
func cpuSeconds() float64 { return 0 }
