package serve

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golora/golora/generate"
	"github.com/golora/golora/internal/rss"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// BenchOptions sets what Bench measures.
type BenchOptions struct {
	Clients   []int // concurrent streams of each measurement
	Adapters  int   // random rank-8 all-linear adapters attached (≥ 1)
	MaxTokens int   // tokens each stream generates
	Prompt    int   // prompt tokens of each stream
	// Requests is how many requests each measurement runs, at most
	// Clients in flight (a client sends its next request when one ends);
	// fewer than Clients means one each.
	Requests int
}

// BenchResult is aggregate greedy decoding speed with Clients concurrent
// streams, all on the base model (Base), all on one adapter (TokensPS)
// and each on adapter i mod Adapters (Mixed): tokens/s = the requests'
// tokens / the wall time from the first submission to the last token.
// Requests, RequestsPS and the latencies are those of the one-adapter
// measurement, in seconds: time to first token from submission, and the
// gaps between a stream's tokens, at the 50th and 99th percentiles.
type BenchResult struct {
	Clients    int     `json:"clients"`
	Requests   int     `json:"requests"`
	RequestsPS float64 `json:"requests_per_sec"`
	TokensPS   float64 `json:"tokens_per_sec"`
	TTFTP50    float64 `json:"ttft_p50"`
	TTFTP99    float64 `json:"ttft_p99"`
	ITLP50     float64 `json:"itl_p50"`
	ITLP99     float64 `json:"itl_p99"`
	Base       float64 `json:"base_tokens_per_sec"`
	Mixed      float64 `json:"mixed_adapters_tokens_per_sec"`
	MixedRatio float64 `json:"mixed_over_one"` // Mixed / TokensPS
	Scaling    float64 `json:"scaling"`        // TokensPS / the first client count's TokensPS
}

// Bench attaches o.Adapters random adapters to m and measures the
// scheduler (no HTTP) with each client count of o.Clients, after one
// warm-up round of the largest.
func Bench(m *model.Model, o BenchOptions) (BenchReport, error) {
	if len(o.Clients) == 0 || o.Adapters < 1 || o.MaxTokens < 1 || o.Prompt < 1 {
		return BenchReport{}, fmt.Errorf("serve bench: clients %v, adapters %d, max tokens %d, prompt %d: want clients, and each ≥ 1", o.Clients, o.Adapters, o.MaxTokens, o.Prompt)
	}
	maxClients := 0
	for _, c := range o.Clients {
		if c < 1 {
			return BenchReport{}, fmt.Errorf("serve bench: %d clients: want ≥ 1", c)
		}
		maxClients = max(maxClients, c)
	}
	sels := make([]model.Selection, o.Adapters)
	for i := range sels {
		lc := &lora.Config{R: 8, Alpha: 16, Targets: []string{"all-linear"}}
		if err := lc.Validate(); err != nil {
			return BenchReport{}, err
		}
		name := fmt.Sprint("bench", i)
		if _, err := lora.New(m, name, lc, uint64(i)); err != nil {
			return BenchReport{}, err
		}
		sels[i] = model.Selection{name: 1}
	}
	s := &Server{cfg: Config{MaxBatch: maxClients, MaxQueue: maxClients, Ctx: o.Prompt + o.MaxTokens, PrefillChunk: DefaultPrefillChunk},
		m: m, metrics: newMetrics()}
	s.sched = newScheduler(s)
	go s.sched.run()
	defer s.sched.stop()
	prompt := make([]int, o.Prompt)
	for i := range prompt {
		prompt[i] = (i*31 + 1) % m.Cfg.VocabSize
	}
	// round runs requests streams (at least clients), clients at a time,
	// stream i on sel(i), and returns tokens/s, requests/s and the
	// latencies.
	round := func(clients int, sel func(i int) model.Selection) (latency, error) {
		n := max(o.Requests, clients)
		var next atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var lat latency
		errs := make([]error, clients)
		start := time.Now()
		for w := range clients {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n && errs[w] == nil; i = int(next.Add(1)) - 1 {
					q := &seq{ctx: context.Background(), prompt: prompt, sel: sel(i), opt: generate.Options{},
						maxTokens: o.MaxTokens, arrived: time.Now(), events: make(chan event, o.MaxTokens+1)}
					if !s.sched.submit(q) {
						errs[w] = fmt.Errorf("serve bench: the queue is full")
						return
					}
					var ttft time.Duration
					var gaps []time.Duration
					last := q.arrived
					for e := range q.events {
						if e.Err != nil {
							errs[w] = e.Err
						}
						if e.Finish != "" || e.Err != nil {
							continue // the end, not a token
						}
						now := time.Now()
						if ttft == 0 {
							ttft = now.Sub(q.arrived)
						} else {
							gaps = append(gaps, now.Sub(last))
						}
						last = now
					}
					mu.Lock()
					lat.ttft, lat.itl = append(lat.ttft, ttft), append(lat.itl, gaps...)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return lat, err
			}
		}
		sec := time.Since(start).Seconds()
		lat.tokensPS, lat.requestsPS, lat.requests = float64(n*o.MaxTokens)/sec, float64(n)/sec, n
		return lat, nil
	}
	one := func(int) model.Selection { return sels[0] }
	mixed := func(i int) model.Selection { return sels[i%len(sels)] }
	var rep BenchReport
	if _, err := round(maxClients, mixed); err != nil {
		return rep, err
	}
	rep.RSSWarm = rss.Current()
	for _, c := range o.Clients {
		r := BenchResult{Clients: c}
		base, err := round(c, func(int) model.Selection { return nil })
		if err != nil {
			return rep, err
		}
		lat, err := round(c, one)
		if err != nil {
			return rep, err
		}
		mix, err := round(c, mixed)
		if err != nil {
			return rep, err
		}
		r.Base, r.TokensPS, r.Mixed = base.tokensPS, lat.tokensPS, mix.tokensPS
		r.Requests, r.RequestsPS = lat.requests, lat.requestsPS
		r.TTFTP50, r.TTFTP99 = percentile(lat.ttft, 0.5), percentile(lat.ttft, 0.99)
		r.ITLP50, r.ITLP99 = percentile(lat.itl, 0.5), percentile(lat.itl, 0.99)
		r.MixedRatio = r.Mixed / r.TokensPS
		first := r.TokensPS
		if len(rep.Results) > 0 {
			first = rep.Results[0].TokensPS
		}
		r.Scaling = r.TokensPS / first
		rep.Results = append(rep.Results, r)
	}
	rep.RSSEnd, rep.PeakRSS = rss.Current(), rss.Peak()
	return rep, nil
}

// BenchReport is what Bench measured: a result per client count, and the
// resident memory after the warm-up round, after the last measurement
// (what every request since the warm-up left behind shows as the
// difference) and at its peak, in bytes.
type BenchReport struct {
	Results []BenchResult `json:"results"`
	RSSWarm int64         `json:"rss_after_warmup_bytes"`
	RSSEnd  int64         `json:"rss_end_bytes"`
	PeakRSS int64         `json:"peak_rss_bytes"`
}

// latency is one measurement round's figures.
type latency struct {
	tokensPS, requestsPS float64
	requests             int
	ttft, itl            []time.Duration
}

// percentile is the q-quantile of d in seconds (the nearest rank), 0 for
// none.
func percentile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(int(math.Ceil(q*float64(len(d))))-1, len(d)-1)].Seconds()
}
