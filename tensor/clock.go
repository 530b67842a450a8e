package tensor

import (
	"strconv"
	"sync"
	"time"
)

// Clock is a core clock frequency as MeasureClock measured it.
type Clock struct {
	GHz    float64 // mean over the measured cores; 0 where this build cannot measure it
	Method string  // how it was measured, in words
}

// MeasureClock measures the clock that threads cores run at while they
// are busy, over about d, and returns their mean.
//
// Method: each core (one goroutine per core) runs a chain of dependent
// 64-bit register additions (ADDQ BX, AX, 64 per loop iteration, the loop
// counter on a separate register), first for d/4 so that the core is at
// the frequency that sustained work gets (turbo), then in windows of
// about a millisecond until d has passed; a window's clock is its
// additions over its wall time (time.Now), and the core's clock is that
// of its fastest window, which filters out time the operating system gave
// to other work.
//
// Assumption: a dependent register-register add takes exactly one cycle,
// as on every x86-64 core (Intel since the Pentium Pro, AMD since the K7),
// and no core removes it from the chain (some remove adds of an immediate
// at register renaming, 0 cycles each: the chain uses a register operand
// for that reason). The vector units are assumed to run at the same clock
// as the integer ones; where heavy vector code lowers the clock (the
// AVX-512 licences of older Intel server cores) the clock found here is
// the higher one, so a peak computed from it errs high.
func MeasureClock(d time.Duration, threads int) Clock {
	threads = max(threads, 1)
	if !haveClockLoop {
		return Clock{Method: "not measured: this build has no assembly clock loop"}
	}
	ghz := make([]float64, threads)
	var wg sync.WaitGroup
	for t := range ghz {
		wg.Go(func() { ghz[t] = coreClock(d) })
	}
	wg.Wait()
	var sum float64
	for _, g := range ghz {
		sum += g
	}
	return Clock{GHz: sum / float64(threads), Method: "dependent 64-bit register adds (1 per cycle) timed with time.Now, the fastest ~1 ms window of " +
		d.String() + " on each busy core, averaged over cores: " + strconv.Itoa(threads)}
}

// coreClock is MeasureClock on the calling goroutine's core, in GHz.
func coreClock(d time.Duration) float64 {
	const iters = 1 << 14 // 64·2¹⁴ cycles: about a third of a millisecond at 3 GHz
	start := time.Now()
	for time.Since(start) < d/4 {
		addChain(iters)
	}
	best := 0.0
	for time.Since(start) < d {
		t := time.Now()
		for range 3 {
			addChain(iters)
		}
		if s := time.Since(t).Seconds(); s > 0 {
			best = max(best, 3*64*iters/s/1e9)
		}
	}
	return best
}
