package tensor

import (
	"sync"
	"sync/atomic"
	"testing"
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
