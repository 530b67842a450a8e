package serve

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golora/golora/generate"
	"github.com/golora/golora/model"
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

// TestChunkStateReuse: the prefill state kept for full chunks serves one
// long prompt after another, and an adapter loaded between them (a
// control function) is planned for: the answers equal those of a server
// that had the adapter from the start.
func TestChunkStateReuse(t *testing.T) {
	f := newFixture(t)
	long := make([]int, 40)
	for i := range long {
		long[i] = 1 + i*11%200
	}
	ask := func(s *Server, sel model.Selection) []int {
		t.Helper()
		q := &seq{ctx: context.Background(), prompt: long, sel: sel, opt: generate.Options{},
			maxTokens: 6, arrived: time.Now(), events: make(chan event, 7)}
		if !s.sched.submit(q) {
			t.Fatal("queue full")
		}
		var ids []int
		for e := range q.events {
			if e.Err != nil {
				t.Fatal(e.Err)
			}
			if e.Finish == "" {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}
	pirateOnly := func(c *Config) { c.PrefillChunk, c.Adapters = 4, c.Adapters[:1] }
	s, _ := f.start(t, pirateOnly)
	first := ask(s, model.Selection{"pirate": 1})
	if again := ask(s, model.Selection{"pirate": 1}); !slices.Equal(again, first) {
		t.Errorf("pirate again: %v, first %v", again, first)
	}
	if err := s.sched.do(func() error { return s.attach("poet", filepath.Join(f.adapters, "poet"), 1) }); err != nil {
		t.Fatal(err)
	}
	poet := ask(s, model.Selection{"poet": 1})
	fresh, _ := f.start(t, func(c *Config) { c.PrefillChunk = 4 })
	if want := ask(fresh, model.Selection{"poet": 1}); !slices.Equal(poet, want) {
		t.Errorf("poet after loading: %v, on a server that had it from the start %v", poet, want)
	}
	if len(first) != 6 {
		t.Errorf("%d tokens, want 6", len(first))
	}
}

// TestLongPromptEqualsGenerate: a greedy answer to a prompt longer than
// one prefill chunk, alone and beside another stream, is token for token
// what generate gives with the same chunks.
func TestLongPromptEqualsGenerate(t *testing.T) {
	f := newFixture(t)
	_, ts := f.start(t, func(c *Config) { c.PrefillChunk = 4 })
	long := make([]int, 41)
	for i := range long {
		long[i] = 1 + i*7%200
	}
	specs := f.cases()[1].specs
	want := f.generated(t, specs, long, generate.Options{MaxTokens: 30, PrefillChunk: 4})
	var wg sync.WaitGroup
	got := make([]string, 2)
	for i, prompt := range [][]int{long, {5, 9, 14}} {
		wg.Go(func() {
			code, out := post(t, ts.URL+"/v1/completions", map[string]any{"model": "pirate", "prompt": prompt, "max_tokens": 30, "temperature": 0})
			if code != 200 {
				t.Errorf("%d %v", code, out)
				return
			}
			got[i], _ = completionText(t, out)
		})
	}
	wg.Wait()
	if got[0] != want {
		t.Errorf("41-token prompt in chunks of 4: %q, generate %q", got[0], want)
	}
}

// TestShortPromptsJoinTogether: prompts admitted together whose chunks fit
// in one PrefillChunk are prefilled in one step, before the first decode
// step (not one prompt a step, each followed by a decode step of those
// already running); a longer one keeps its own step.
func TestShortPromptsJoinTogether(t *testing.T) {
	f := newFixture(t)
	s, _ := f.start(t, func(c *Config) { c.PrefillChunk = 16 })
	var (
		mu    sync.Mutex
		trace []bool // true: a prefill chunk, false: a decode step
	)
	s.sched.traced = func(prefill bool) {
		mu.Lock()
		trace = append(trace, prefill)
		mu.Unlock()
	}
	held, gate := make(chan struct{}), make(chan struct{})
	go s.sched.do(func() error { close(held); <-gate; return nil }) // the scheduler waits while all are queued
	<-held
	var qs []*seq
	for _, n := range []int{5, 6, 5, 9} { // 5+6+5 fit in 16; the 9 does not
		prompt := make([]int, n)
		for i := range prompt {
			prompt[i] = 1 + i
		}
		q := &seq{ctx: context.Background(), prompt: prompt, opt: generate.Options{},
			maxTokens: 3, arrived: time.Now(), events: make(chan event, 4)}
		if !s.sched.submit(q) {
			t.Fatal("queue full")
		}
		qs = append(qs, q)
	}
	close(gate)
	for _, q := range qs {
		for e := range q.events {
			if e.Err != nil {
				t.Fatal(e.Err)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []bool{true, true, true, false, true, false}; len(trace) < len(want) || !slices.Equal(trace[:len(want)], want) {
		t.Errorf("trace %v, want it to begin %v", trace, want)
	}
}
