package tensor

import "sync"

// ParallelFor splits [0, n) into at most chunks contiguous pieces and runs
// body(lo, hi, chunk) on each concurrently (chunk 0 on the calling
// goroutine), returning when all are done. The pieces depend only on n and
// chunks, so per-chunk partial results combined in chunk order give the
// same answer on every run.
func ParallelFor(n, chunks int, body func(lo, hi, chunk int)) {
	chunks = min(chunks, n)
	if chunks <= 1 {
		body(0, n, 0)
		return
	}
	var wg sync.WaitGroup
	for c := 1; c < chunks; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			body(c*n/chunks, (c+1)*n/chunks, c)
		}(c)
	}
	body(0, n/chunks, 0)
	wg.Wait()
}
