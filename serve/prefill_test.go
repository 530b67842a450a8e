package serve

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/golora/golora/generate"
)

// TestLongPromptDoesNotStall: a 40-token prompt admitted while another
// sequence streams is prefilled in chunks of PrefillChunk = 4 tokens, with
// a decode step of the streaming sequence (one more of its tokens)
// between every two chunks.
func TestLongPromptDoesNotStall(t *testing.T) {
	f := newFixture(t)
	s, _ := f.start(t, func(c *Config) { c.PrefillChunk = 4 })
	var (
		mu     sync.Mutex
		trace  []bool // true: a prefill chunk, false: a decode step
		gate   = make(chan struct{})
		opened bool
	)
	s.sched.traced = func(prefill bool) {
		if !prefill && !opened { // hold the first decode step until the long prompt is queued
			<-gate
			opened = true
		}
		mu.Lock()
		trace = append(trace, prefill)
		mu.Unlock()
	}
	submit := func(prompt []int, maxTokens int) *seq {
		q := &seq{ctx: context.Background(), prompt: prompt, opt: generate.Options{},
			maxTokens: maxTokens, arrived: time.Now(), events: make(chan event, maxTokens+1)}
		if !s.sched.submit(q) {
			t.Fatal("queue full")
		}
		return q
	}
	streaming := submit([]int{5, 9, 14, 2, 7}, 100)
	long := make([]int, 40)
	for i := range long {
		long[i] = 1 + i*7%200
	}
	late := submit(long, 1)
	close(gate)
	for _, q := range []*seq{streaming, late} {
		for e := range q.events {
			if e.Err != nil {
				t.Fatal(e.Err)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var chunks []int // positions of the prefill chunks in trace
	for i, p := range trace {
		if p {
			chunks = append(chunks, i)
		}
	}
	// The 5-token prompt in 2 chunks, then the 40-token one in 10.
	if len(chunks) != 12 {
		t.Fatalf("%d prefill chunks, want 2 + 10: %v", len(chunks), trace)
	}
	for k := 3; k < len(chunks); k++ {
		if chunks[k]-chunks[k-1] != 2 {
			t.Errorf("prefill chunks %d and %d of the long prompt are not separated by one decode step: %v", k-2, k-1, trace)
		}
	}
}
