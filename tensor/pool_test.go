package tensor

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countRunner counts how often each part ran.
type countRunner struct {
	counts [maxParts]atomic.Int32
}

func (r *countRunner) RunPart(i int) { r.counts[i].Add(1) }

// TestParallel checks that every part of every call runs exactly once,
// with one team reused across calls (so stale worker tokens meet later
// generations) and several callers at once.
func TestParallel(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tm team
			r := new(countRunner)
			for call := 0; call < 2000; call++ {
				n := 1 + call%7
				for i := range r.counts {
					r.counts[i].Store(0)
				}
				parallel(n, r, &tm)
				for i := range r.counts {
					want := int32(0)
					if i < n {
						want = 1
					}
					if got := r.counts[i].Load(); got != want {
						t.Errorf("call %d, n=%d: part %d ran %d times", call, n, i, got)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// sleepRunner counts the parts that ran, each taking longer than spinWait
// where slow says so, so that a caller waiting for them blocks.
type sleepRunner struct {
	countRunner
	slow func(i int) bool
}

func (r *sleepRunner) RunPart(i int) {
	if r.slow(i) {
		time.Sleep(3 * spinWait)
	}
	r.countRunner.RunPart(i)
}

// TestParallelWaits: parallel returns only when every part has run, also
// when the last parts outlast the caller's polling (it blocks and is
// woken) and when there are more parts than goroutines; a call right
// after a blocked one still gets all its parts.
func TestParallelWaits(t *testing.T) {
	for _, threads := range []int{2, 3} {
		setTestKnobs(t, minFlopsPerThread, nil, threads)
		var tm team
		for call := 0; call < 40; call++ {
			n := 2 + call%9
			r := &sleepRunner{slow: func(i int) bool { return call%2 == 0 && i >= n-2 }}
			parallel(n, r, &tm)
			for i := range maxParts {
				want := int32(0)
				if i < n {
					want = 1
				}
				if got := r.counts[i].Load(); got != want {
					t.Fatalf("threads %d, call %d, n=%d: part %d ran %d times when parallel returned", threads, call, n, i, got)
				}
			}
		}
	}
}
