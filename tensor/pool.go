package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
// goroutine and up to min(n, Threads())−1 pool workers, and returns when
// all are done.
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
//
// The caller waits for the last parts by polling left for spinWait (no
// goroutine has to be woken when they end within it), then blocks on
// wake: it sets waiting, and whoever finishes the last part and clears
// waiting sends the token.
type team struct {
	// state is generation<<16 | parts<<8 | next part to claim.
	state atomic.Uint64
	// left counts the parts of the current call not finished yet.
	left    atomic.Int32
	waiting atomic.Bool
	wake    chan struct{} // buffered 1, made by the first call
}

type poolTask struct {
	r   Parts
	tm  *team
	gen uint64
}

// workers is the pool of persistent worker goroutines. Workers are started
// on demand and never exit; a worker that runs out of work polls the
// channel for spinWait, then blocks on it and costs no CPU.
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
	for {
		t, ok := pollTask(tasks)
		if !ok {
			t = <-tasks
		}
		t.tm.work(t.r, t.gen)
	}
}

// spinWait is how long a goroutine polls before it blocks: a worker that
// ran out of work, for the next task; a caller, for the parts still
// running on workers. Decoding one token runs a few hundred parallel
// products microseconds apart: a worker that blocked between them would
// have to be woken for each, tens of microseconds during which the caller
// does the parts alone.
const spinWait = 25 * time.Microsecond

// spinChecks is how many polls go between two looks at the clock (and
// yields to other goroutines).
const spinChecks = 64

// pollTask polls tasks for up to spinWait and reports whether it got one.
func pollTask(tasks chan poolTask) (poolTask, bool) {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case t := <-tasks:
			return t, true
		default:
		}
		if i%spinChecks == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > spinWait {
				return poolTask{}, false
			}
			runtime.Gosched()
		}
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
			if tm.left.Add(-1) == 0 && tm.waiting.CompareAndSwap(true, false) {
				tm.wake <- struct{}{}
			}
		}
	}
}

// wait returns when every part of the current call has finished.
func (tm *team) wait() {
	var start time.Time
	for i := 0; tm.left.Load() > 0; i++ {
		if i%spinChecks != 0 {
			continue
		}
		if i == 0 {
			start = time.Now()
		} else if time.Since(start) > spinWait {
			tm.waiting.Store(true)
			if tm.left.Load() == 0 && tm.waiting.CompareAndSwap(true, false) {
				return // the last part ended before it could see waiting
			}
			<-tm.wake
			return
		}
		runtime.Gosched()
	}
}

// parallel runs r.RunPart(i) once for every i in [0, n), n ≤ maxParts, on
// the calling goroutine and up to min(n, Threads())−1 pool workers, and
// returns when all parts are done. tm must not be in use by another call;
// it is owned by the caller so that parallel allocates nothing.
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
	helpers := min(n, Threads()) - 1
	tasks := ensureWorkers(helpers)
	if tm.wake == nil {
		tm.wake = make(chan struct{}, 1)
	}
	gen := tm.state.Load()>>16 + 1
	tm.left.Store(int32(n))
	tm.state.Store(gen<<16 | uint64(n)<<8)
	for range helpers {
		select {
		case tasks <- poolTask{r: r, tm: tm, gen: gen}:
		default: // workers far behind: the caller does the work
		}
	}
	tm.work(r, gen)
	tm.wait()
}
