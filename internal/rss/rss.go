// Package rss reads resident memory: this process's peak (VmHWM) and
// current (VmRSS) and the peak of a child process that has exited
// (getrusage's ru_maxrss).
package rss

import (
	"bytes"
	"os"
	"strconv"
)

// Peak returns this process's peak resident set size in bytes (VmHWM of
// /proc/self/status), or 0 where that is not available.
func Peak() int64 { return status("VmHWM:") }

// Current returns this process's resident set size in bytes (VmRSS of
// /proc/self/status), or 0 where that is not available.
func Current() int64 { return status("VmRSS:") }

// status reads the kB figure of the /proc/self/status line that starts
// with key, in bytes.
func status(key string) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(raw, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
