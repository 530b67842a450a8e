package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// threadSetting is the value given to SetThreads; 0 means GOMAXPROCS.
var threadSetting atomic.Int64

// SetThreads sets how many goroutines (the caller plus persistent pool
// workers) a kernel such as Gemm may use. n <= 0 means
// runtime.GOMAXPROCS(0), the default. It is safe to call at any time;
// calls already running keep the count they started with.
func SetThreads(n int) {
	if n < 0 {
		n = 0
	}
	threadSetting.Store(int64(n))
}

// Threads reports the number of goroutines a kernel may use (≥ 1).
func Threads() int {
	if n := int(threadSetting.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// Parts is one parallel job split into numbered parts.
type Parts interface {
	RunPart(i int)
}

// Team runs jobs on the persistent worker pool. A Team serves one call at
// a time; its zero value is ready. Keeping the job's state in a struct
// made once (a pointer converted to Parts does not allocate) lets a
// caller run parallel loops with no allocation at all.
type Team struct{ tm team }

// Run calls p.RunPart(i) for every i in [0, n), n ≤ 64, on the calling
// goroutine and up to n−1 pool workers, and returns when all are done.
func (t *Team) Run(n int, p Parts) { parallel(n, p, &t.tm) }

// maxParts is the most parts one parallel call may have.
const maxParts = 64

// team coordinates the goroutines working on one parallel call. Parts are
// claimed, not assigned: the caller and every worker that joins take the
// next unclaimed part until none is left, so a worker that is slow to get
// a CPU (an oversubscribed machine) leaves its share to the others instead
// of stalling the call. A team is reused call after call; each call has a
// new generation, and a worker that joins after its call has ended finds a
// different generation and leaves.
type team struct {
	// state is generation<<16 | parts<<8 | next part to claim.
	state atomic.Uint64
	// wg counts the parts of the current call not finished yet.
	wg sync.WaitGroup
}

type poolTask struct {
	r   Parts
	tm  *team
	gen uint64
}

// workers is the pool of persistent worker goroutines. Workers are started
// on demand and never exit; an idle worker blocks on the channel and costs
// no CPU.
var workers struct {
	started atomic.Int64
	mu      sync.Mutex
	tasks   chan poolTask
}

func ensureWorkers(n int) chan poolTask {
	if int(workers.started.Load()) >= n {
		return workers.tasks
	}
	workers.mu.Lock()
	defer workers.mu.Unlock()
	if workers.tasks == nil {
		workers.tasks = make(chan poolTask, 4*maxParts)
	}
	for s := int(workers.started.Load()); s < n; s++ {
		go poolWorker(workers.tasks)
		workers.started.Store(int64(s + 1))
	}
	return workers.tasks
}

func poolWorker(tasks chan poolTask) {
	for t := range tasks {
		t.tm.work(t.r, t.gen)
	}
}

// work runs parts of generation gen of r until none is left to claim.
func (tm *team) work(r Parts, gen uint64) {
	for {
		s := tm.state.Load()
		if s>>16 != gen || s&0xff >= s>>8&0xff {
			return
		}
		if tm.state.CompareAndSwap(s, s+1) {
			r.RunPart(int(s & 0xff))
			tm.wg.Done()
		}
	}
}

// parallel runs r.RunPart(i) once for every i in [0, n), n ≤ maxParts, on
// the calling goroutine and up to n-1 pool workers, and returns when all
// parts are done. tm must not be in use by another call; it is owned by
// the caller so that parallel allocates nothing.
func parallel(n int, r Parts, tm *team) {
	if n <= 1 {
		if n == 1 {
			r.RunPart(0)
		}
		return
	}
	if n > maxParts {
		panic("tensor: parallel with too many parts")
	}
	tasks := ensureWorkers(n - 1)
	gen := tm.state.Load()>>16 + 1
	tm.wg.Add(n)
	tm.state.Store(gen<<16 | uint64(n)<<8)
	for i := 1; i < n; i++ {
		select {
		case tasks <- poolTask{r: r, tm: tm, gen: gen}:
		default: // workers far behind: the caller does the work
		}
	}
	tm.work(r, gen)
	tm.wg.Wait()
}
