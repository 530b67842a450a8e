//go:build !unix

package rss

import "os"

// Child returns 0: this system does not report a child's peak
// resident set size.
func Child(ps *os.ProcessState) int64 { return 0 }
