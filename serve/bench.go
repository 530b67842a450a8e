package serve

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/golora/golora/generate"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// BenchOptions sets what Bench measures.
type BenchOptions struct {
	Clients  []int // concurrent streams of each measurement
	Adapters int   // random rank-8 all-linear adapters attached (≥ 1)
	Tokens   int   // tokens each stream generates
	Prompt   int   // prompt tokens of each stream
}

// BenchResult is aggregate greedy decoding speed with Clients concurrent
// streams, all on the base model (Base), all on one adapter (OneAdapter)
// and each on adapter i mod Adapters (Mixed): tokens/s = Clients·Tokens /
// the wall time from the first submission to the last token.
type BenchResult struct {
	Clients    int     `json:"clients"`
	Base       float64 `json:"base_tokens_per_s"`
	OneAdapter float64 `json:"one_adapter_tokens_per_s"`
	Mixed      float64 `json:"mixed_adapters_tokens_per_s"`
	MixedRatio float64 `json:"mixed_over_one"` // Mixed / OneAdapter
	Scaling    float64 `json:"scaling"`        // OneAdapter / the first client count's OneAdapter
}

// Bench attaches o.Adapters random adapters to m and measures the
// scheduler (no HTTP) with each client count of o.Clients, after one
// warm-up round of the largest.
func Bench(m *model.Model, o BenchOptions) ([]BenchResult, error) {
	if len(o.Clients) == 0 || o.Adapters < 1 || o.Tokens < 1 || o.Prompt < 1 {
		return nil, fmt.Errorf("serve bench: clients %v, adapters %d, tokens %d, prompt %d: want clients, and each ≥ 1", o.Clients, o.Adapters, o.Tokens, o.Prompt)
	}
	maxClients := 0
	for _, c := range o.Clients {
		if c < 1 {
			return nil, fmt.Errorf("serve bench: %d clients: want ≥ 1", c)
		}
		maxClients = max(maxClients, c)
	}
	sels := make([]model.Selection, o.Adapters)
	for i := range sels {
		lc := &lora.Config{R: 8, Alpha: 16, Targets: []string{"all-linear"}}
		if err := lc.Validate(); err != nil {
			return nil, err
		}
		name := fmt.Sprint("bench", i)
		if _, err := lora.New(m, name, lc, uint64(i)); err != nil {
			return nil, err
		}
		sels[i] = model.Selection{name: 1}
	}
	s := &Server{cfg: Config{MaxBatch: maxClients, MaxQueue: maxClients, Ctx: o.Prompt + o.Tokens, PrefillChunk: DefaultPrefillChunk},
		m: m, metrics: newMetrics()}
	s.sched = newScheduler(s)
	go s.sched.run()
	defer s.sched.stop()
	prompt := make([]int, o.Prompt)
	for i := range prompt {
		prompt[i] = (i*31 + 1) % m.Cfg.VocabSize
	}
	// round runs clients streams, stream i on sel(i), and returns tokens/s.
	round := func(clients int, sel func(i int) model.Selection) (float64, error) {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, clients)
		for i := range clients {
			q := &seq{ctx: context.Background(), prompt: prompt, sel: sel(i), opt: generate.Options{},
				maxTokens: o.Tokens, arrived: time.Now(), events: make(chan event, o.Tokens+1)}
			if !s.sched.submit(q) {
				return 0, fmt.Errorf("serve bench: the queue is full")
			}
			wg.Go(func() {
				for e := range q.events {
					if e.Err != nil {
						errs[i] = e.Err
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return 0, err
			}
		}
		return float64(clients*o.Tokens) / time.Since(start).Seconds(), nil
	}
	one := func(int) model.Selection { return sels[0] }
	mixed := func(i int) model.Selection { return sels[i%len(sels)] }
	if _, err := round(maxClients, mixed); err != nil {
		return nil, err
	}
	var res []BenchResult
	for _, c := range o.Clients {
		r := BenchResult{Clients: c}
		var err error
		if r.Base, err = round(c, func(int) model.Selection { return nil }); err != nil {
			return nil, err
		}
		if r.OneAdapter, err = round(c, one); err != nil {
			return nil, err
		}
		if r.Mixed, err = round(c, mixed); err != nil {
			return nil, err
		}
		r.MixedRatio = r.Mixed / r.OneAdapter
		first := r.OneAdapter
		if len(res) > 0 {
			first = res[0].OneAdapter
		}
		r.Scaling = r.OneAdapter / first
		res = append(res, r)
	}
	return res, nil
}
