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

// partRunner is one parallel job split into numbered parts.
type partRunner interface {
	runPart(i int)
}

type poolTask struct {
	r  partRunner
	i  int
	wg *sync.WaitGroup
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
		workers.tasks = make(chan poolTask, 256)
	}
	for s := int(workers.started.Load()); s < n; s++ {
		go poolWorker(workers.tasks)
		workers.started.Store(int64(s + 1))
	}
	return workers.tasks
}

func poolWorker(tasks chan poolTask) {
	for t := range tasks {
		t.r.runPart(t.i)
		t.wg.Done()
	}
}

// parallel runs r.runPart(i) for every i in [0, n): part 0 on the calling
// goroutine, the others on pool workers. It returns when all parts are done.
// wg must be idle; it is owned by the caller so that parallel allocates
// nothing.
func parallel(n int, r partRunner, wg *sync.WaitGroup) {
	if n <= 1 {
		if n == 1 {
			r.runPart(0)
		}
		return
	}
	tasks := ensureWorkers(n - 1)
	wg.Add(n - 1)
	for i := 1; i < n; i++ {
		tasks <- poolTask{r: r, i: i, wg: wg}
	}
	r.runPart(0)
	wg.Wait()
}
