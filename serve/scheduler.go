package serve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/golora/golora/generate"
	"github.com/golora/golora/model"
)

// seq is one request's sequence. The handler fills the request fields and
// reads events; the scheduler owns the rest.
type seq struct {
	ctx       context.Context
	prompt    []int
	sel       model.Selection
	adapters  []string // the uses of resolve, given back when the sequence leaves
	opt       generate.Options
	pen       *generate.Penalty // opt.RepetitionPenalty's, nil without one
	maxTokens int
	arrived   time.Time
	// events receives each new token, then one final event; it has room
	// for all of them, so the scheduler never waits on a slow client.
	events chan event

	cache *model.Cache
	done  int // prompt tokens prefilled into cache
	rng   *rand.Rand
	last  int // the last token, the next step's input
	n     int // tokens generated
	prev  time.Time
}

// event is a generated token, or the end of the sequence: Finish "stop"
// (an end-of-sequence token), "length" (max tokens) or finishCancelled
// (the request's context ended), or Err.
type event struct {
	ID     int
	Finish string
	Err    error
}

// scheduler owns the model: it prefills arriving sequences into free KV
// cache slots, chunks of at most Config.PrefillChunk prompt tokens in all
// per step, and decodes one token of every running sequence per step.
type scheduler struct {
	s       *Server
	queue   chan *seq
	ctl     chan func()
	quit    chan struct{}
	done    chan struct{}
	free    []*model.Cache // slots not in use
	running []*seq
	filling []*seq // admitted, their prompts partly prefilled, first come first
	batch   *model.Batch
	rows    []model.BatchRow
	probs   []float64
	order   []int
	// chunkState is the prefill state of a full Config.PrefillChunk chunk,
	// made once and reused by every long prompt (its buffers, attention
	// scores included, are sized by the chunk); dropped after a control
	// function, which may attach or detach adapters the state plans for.
	chunkState *model.State
	// traced, when set (by tests), is called after each prefill chunk
	// (prefill true) and each decode step of the running sequences.
	traced func(prefill bool)
}

func newScheduler(s *Server) *scheduler {
	c := &scheduler{s: s, queue: make(chan *seq, s.cfg.MaxQueue), ctl: make(chan func()),
		quit: make(chan struct{}), done: make(chan struct{}),
		batch: s.m.NewBatch(s.cfg.MaxBatch), probs: make([]float64, s.m.Cfg.VocabSize), order: make([]int, s.m.Cfg.VocabSize)}
	for range s.cfg.MaxBatch {
		c.free = append(c.free, s.m.NewCache(s.cfg.Ctx))
	}
	return c
}

const finishCancelled = "cancelled"

var errStopped = errors.New("the server is shutting down")

// submit queues q, or reports false when the queue is full.
func (c *scheduler) submit(q *seq) bool {
	select {
	case c.queue <- q:
		c.s.metrics.queued(len(c.queue))
		return true
	default:
		return false
	}
}

// do runs f on the scheduler's goroutine between steps and returns its error.
func (c *scheduler) do(f func() error) error {
	res := make(chan error, 1)
	select {
	case c.ctl <- func() { res <- f() }:
		return <-res
	case <-c.done:
		return errStopped
	}
}

func (c *scheduler) stop() {
	close(c.quit)
	<-c.done
}

// run is the scheduler's loop: wait while idle; between steps run control
// functions and admit queued sequences while slots are free; then prefill
// a step's chunks (prefillStep) and decode one step of all running
// sequences.
func (c *scheduler) run() {
	defer close(c.done)
	for {
		if len(c.running) == 0 && len(c.filling) == 0 {
			select {
			case f := <-c.ctl:
				c.control(f)
				continue
			case q := <-c.queue:
				c.admit(q)
			case <-c.quit:
				c.shutdown()
				return
			}
		}
	between:
		for {
			select {
			case f := <-c.ctl:
				c.control(f)
			case <-c.quit:
				c.shutdown()
				return
			default:
				break between
			}
		}
		for len(c.free) > 0 {
			select {
			case q := <-c.queue:
				c.admit(q)
				continue
			default:
			}
			break
		}
		c.s.metrics.queued(len(c.queue))
		c.s.metrics.batch(len(c.running))
		c.prefillStep()
		if len(c.running) > 0 {
			c.step()
		}
	}
}

// shutdown ends every sequence, running, prefilling or queued, with
// errStopped.
func (c *scheduler) shutdown() {
	for _, q := range append(c.running, c.filling...) {
		c.finish(q, event{Err: errStopped})
	}
	c.running, c.filling = nil, nil
	for {
		select {
		case q := <-c.queue:
			c.finish(q, event{Err: errStopped})
		default:
			return
		}
	}
}

// admit gives q a free slot and queues its prompt for prefill.
func (c *scheduler) admit(q *seq) {
	if q.ctx.Err() != nil {
		c.finish(q, event{Finish: finishCancelled})
		return
	}
	q.cache = c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	q.cache.Reset()
	q.done = 0
	q.rng = generate.NewRNG(q.opt.Seed)
	c.filling = append(c.filling, q)
}

// control runs a control function (adapters loaded or unloaded) between
// steps; a kept prefill state may no longer fit the model's adapters.
func (c *scheduler) control(f func()) {
	f()
	c.chunkState = nil
}

// prefillState returns a prefill state for T prompt tokens: the kept one
// for a full chunk, else a new one.
func (c *scheduler) prefillState(T int) *model.State {
	if T != c.s.cfg.PrefillChunk {
		return c.s.m.NewPrefillState(T)
	}
	if c.chunkState == nil {
		c.chunkState = c.s.m.NewPrefillState(T)
	}
	return c.chunkState
}

// prefillStep prefills the chunks of one step: the next chunk of the
// first admitted prompt, then as many next chunks of the following ones
// as fit in Config.PrefillChunk tokens with it (a burst of short prompts
// joins in one step, not one a step; a prompt's chunks stay the same).
func (c *scheduler) prefillStep() {
	budget := c.s.cfg.PrefillChunk
	for first := true; len(c.filling) > 0; first = false {
		q := c.filling[0]
		n := min(c.s.cfg.PrefillChunk, len(q.prompt)-q.done)
		if !first && n > budget {
			return
		}
		c.prefill()
		budget -= n
	}
}

// prefill runs the next chunk of the first admitted prompt through a
// prefill state (the last positions' logits alone); after the prompt's
// last chunk it picks the first token and the sequence joins the running
// ones. A prompt of at most Config.PrefillChunk tokens goes in one pass,
// bit for bit generate's prefill.
func (c *scheduler) prefill() {
	q := c.filling[0]
	if q.ctx.Err() != nil {
		c.filling = slices.Delete(c.filling, 0, 1)
		c.finish(q, event{Finish: finishCancelled})
		return
	}
	chunk := q.prompt[q.done:min(q.done+c.s.cfg.PrefillChunk, len(q.prompt))]
	var st *model.State
	err := guard(func() error {
		st = c.prefillState(len(chunk))
		return c.s.m.Prefill(st, q.cache, chunk, q.sel)
	})
	if c.traced != nil {
		c.traced(true)
	}
	if err != nil {
		c.filling = slices.Delete(c.filling, 0, 1)
		c.finish(q, event{Err: err})
		return
	}
	if q.done += len(chunk); q.done < len(q.prompt) {
		return
	}
	c.filling = slices.Delete(c.filling, 0, 1)
	if c.advance(q, st.Logits[len(st.Logits)-c.s.m.Cfg.VocabSize:]) {
		c.running = append(c.running, q)
	}
}

// step decodes one token of every running sequence, first dropping those
// whose client has gone (or whose handler saw a stop string).
func (c *scheduler) step() {
	kept := c.running[:0]
	for _, q := range c.running {
		if q.ctx.Err() != nil {
			c.finish(q, event{Finish: finishCancelled})
			continue
		}
		kept = append(kept, q)
	}
	clear(c.running[len(kept):])
	c.running = kept
	if len(kept) == 0 {
		return
	}
	c.rows = c.rows[:0]
	for _, q := range kept {
		c.rows = append(c.rows, model.BatchRow{Cache: q.cache, ID: q.last, LoRA: q.sel})
	}
	err := guard(func() error { return c.s.m.DecodeBatch(c.batch, c.rows) })
	if c.traced != nil {
		c.traced(false)
	}
	if err != nil {
		for _, q := range kept {
			c.finish(q, event{Err: err})
		}
		c.running = c.running[:0]
		return
	}
	V := c.s.m.Cfg.VocabSize
	kept = c.running[:0]
	for i, q := range c.running {
		if c.advance(q, c.batch.Logits[i*V:(i+1)*V]) {
			kept = append(kept, q)
		}
	}
	clear(c.running[len(kept):])
	c.running = kept
}

// advance picks q's next token from logits and sends it, and reports
// whether q goes on; a stop token or the last allowed token ends it.
func (c *scheduler) advance(q *seq, logits []float32) bool {
	q.pen.Apply(logits)
	id := generate.Pick(logits, q.opt, q.rng, c.probs, c.order)
	q.pen.Note(id)
	now := time.Now()
	if q.n == 0 {
		c.s.metrics.firstToken(now.Sub(q.arrived))
	} else {
		c.s.metrics.interToken(now.Sub(q.prev))
	}
	q.prev = now
	for _, s := range q.opt.Stop {
		if id == s {
			c.finish(q, event{Finish: "stop"})
			return false
		}
	}
	q.n++
	q.last = id
	c.s.metrics.generated(1)
	q.events <- event{ID: id}
	if q.n == q.maxTokens {
		c.finish(q, event{Finish: "length"})
		return false
	}
	return true
}

// finish sends q's last event, frees its slot and gives back its adapters.
func (c *scheduler) finish(q *seq, e event) {
	q.events <- e
	close(q.events)
	if q.cache != nil {
		c.free = append(c.free, q.cache)
		q.cache = nil
	}
	c.s.release(q.adapters)
}

// guard runs f, turning a panic into an error so that one bad request
// does not stop the server.
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return f()
}
