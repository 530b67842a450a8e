//go:build unix

package rss

import (
	"os"
	"runtime"
	"syscall"
)

// Child returns the peak resident set size, in bytes, of a child
// process that has exited (getrusage's ru_maxrss for it), or 0 where the
// system does not report it.
func Child(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) // bytes there
	}
	return int64(ru.Maxrss) << 10 // kilobytes on Linux and the BSDs
}
