//go:build !unix

package report

import "os"

// ChildPeakRSS returns 0: this system does not report a child's peak
// resident set size.
func ChildPeakRSS(ps *os.ProcessState) int64 { return 0 }
