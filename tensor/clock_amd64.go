//go:build amd64 && !purego

package tensor

// addChain runs 64·n dependent additions ADDQ BX, AX (clock_amd64.s): 64·n
// cycles.
//
//go:noescape
func addChain(n int)

const haveClockLoop = true
