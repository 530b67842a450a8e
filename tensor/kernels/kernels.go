// Package kernels selects the instruction-set family that golora's
// assembly kernels run in: the GEMM micro-kernels and packers of tensor,
// its vectorized element-wise math, and quant's 4-bit dequantization. One
// set is active for the whole process; it is the best the build and CPU
// support unless $GOLORA_KERNELS (read once, when the program starts) or
// Use names another, so that a benchmark, or a test on an AVX-512 machine,
// can run the AVX2 or portable Go code too.
package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Set is a family of kernels.
type Set int32

const (
	Go     Set = iota // portable Go, on every build and CPU
	AVX2              // AVX2+FMA assembly, 8 float32 lanes
	AVX512            // AVX-512F assembly, 16 float32 lanes (with AVX2 code where it is as fast)
)

var names = [...]string{Go: "go", AVX2: "avx2", AVX512: "avx512"}

// String is the set's name as GOLORA_KERNELS and --kernels spell it.
func (s Set) String() string {
	if s >= 0 && int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("Set(%d)", int(s))
}

// Env is the environment variable that selects the set at start-up.
const Env = "GOLORA_KERNELS"

// Supported lists the sets this build and CPU can run, best first; Go is
// always last.
func Supported() []Set { return append([]Set(nil), supported...) }

// Parse returns the set named name ("avx512", "avx2" or "go"), or an error
// naming the sets the CPU supports when it is unknown or unsupported here.
func Parse(name string) (Set, error) {
	for s, n := range names {
		if n != name {
			continue
		}
		for _, t := range supported {
			if t == Set(s) {
				return t, nil
			}
		}
		return 0, fmt.Errorf("kernel set %q: %s (this machine runs %s)", name, unsupportedWhy(Set(s)), list())
	}
	return 0, fmt.Errorf("kernel set %q: unknown (want avx512, avx2 or go; this machine runs %s)", name, list())
}

func list() string {
	s := make([]string, len(supported))
	for i, t := range supported {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

var active atomic.Int32

// Active is the set in use.
func Active() Set { return Set(active.Load()) }

// Use makes s the active set, or returns an error (and changes nothing)
// where this build or CPU cannot run it. Call it before the work starts:
// a product or dequantization already running keeps the set it began with.
func Use(s Set) error {
	for _, t := range supported {
		if t == s {
			active.Store(int32(s))
			return nil
		}
	}
	return fmt.Errorf("kernel set %v: %s (this machine runs %s)", s, unsupportedWhy(s), list())
}

// With runs f with s as the active set, then makes the set active before
// it active again; where s cannot run here it returns Use's error without
// running f. Tests and benchmarks use it to cover every supported set.
func With(s Set, f func()) error {
	old := Active()
	if err := Use(s); err != nil {
		return err
	}
	defer active.Store(int32(old))
	f()
	return nil
}

// fromEnv returns the set $GOLORA_KERNELS names (the best supported one
// where it is unset or empty).
func fromEnv() (Set, error) {
	name := os.Getenv(Env)
	if name == "" {
		return supported[0], nil
	}
	s, err := Parse(name)
	if err != nil {
		return 0, fmt.Errorf("$%s: %w", Env, err)
	}
	return s, nil
}

// init selects the set $GOLORA_KERNELS names. A value this machine cannot
// honour stops the program with a message and exit status 2 rather than
// measuring or testing another set than the one asked for.
func init() {
	s, err := fromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "golora: %v\n", err)
		os.Exit(2)
	}
	active.Store(int32(s))
}
