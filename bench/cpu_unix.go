//go:build unix

package bench

import "syscall"

// cpuSeconds returns the processor time, user and system, that this
// process's threads have used (getrusage), or 0 where it is not available.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
