package serve

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// metrics are the counters GET /metrics reports in Prometheus's text
// format.
type metrics struct {
	mu        sync.Mutex
	requests  map[[2]string]int // (route, status code) → count
	prompt    int
	gen       int
	queue     int
	running   int
	peak      int // the most sequences ever decoded together
	ttft, itl histogram
}

// latencyBuckets are the upper bounds (seconds) of the latency histograms.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

type histogram struct {
	counts []int // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      int
}

func (h *histogram) observe(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]int, len(latencyBuckets)+1)
	}
	v := d.Seconds()
	i, _ := slices.BinarySearch(latencyBuckets, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

func newMetrics() *metrics { return &metrics{requests: map[[2]string]int{}} }

func (m *metrics) locked(f func()) {
	m.mu.Lock()
	f()
	m.mu.Unlock()
}

func (m *metrics) request(route string, status int) {
	if route == "" || route == "/" {
		route = "other"
	}
	if status == 0 {
		status = http.StatusOK
	}
	m.locked(func() { m.requests[[2]string{route, fmt.Sprint(status)}]++ })
}
func (m *metrics) prompted(n int)  { m.locked(func() { m.prompt += n }) }
func (m *metrics) generated(n int) { m.locked(func() { m.gen += n }) }
func (m *metrics) queued(n int)    { m.locked(func() { m.queue = n }) }
func (m *metrics) batch(n int) {
	m.locked(func() {
		m.running = n
		m.peak = max(m.peak, n)
	})
}
func (m *metrics) firstToken(d time.Duration) { m.locked(func() { m.ttft.observe(d) }) }
func (m *metrics) interToken(d time.Duration) { m.locked(func() { m.itl.observe(d) }) }
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(s.metrics.text()))
}

// text renders the metrics in Prometheus's exposition format.
func (m *metrics) text() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	head := func(name, typ, help string) { fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ) }
	head("golora_requests_total", "counter", "HTTP requests by route and status code.")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(&b, "golora_requests_total{route=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	head("golora_prompt_tokens_total", "counter", "Prompt tokens prefilled.")
	fmt.Fprintf(&b, "golora_prompt_tokens_total %d\n", m.prompt)
	head("golora_generation_tokens_total", "counter", "Tokens generated.")
	fmt.Fprintf(&b, "golora_generation_tokens_total %d\n", m.gen)
	head("golora_queue_depth", "gauge", "Requests waiting for a decoding slot.")
	fmt.Fprintf(&b, "golora_queue_depth %d\n", m.queue)
	head("golora_running_sequences", "gauge", "Sequences in the running batch.")
	fmt.Fprintf(&b, "golora_running_sequences %d\n", m.running)
	head("golora_running_sequences_peak", "gauge", "The most sequences decoded together so far.")
	fmt.Fprintf(&b, "golora_running_sequences_peak %d\n", m.peak)
	for _, h := range []struct {
		name, help string
		h          *histogram
	}{
		{"golora_time_to_first_token_seconds", "Time from a request's arrival to its first token.", &m.ttft},
		{"golora_inter_token_latency_seconds", "Time between consecutive tokens of a sequence.", &m.itl},
	} {
		head(h.name, "histogram", h.help)
		cum := 0
		for i, le := range latencyBuckets {
			if h.h.counts != nil {
				cum += h.h.counts[i]
			}
			fmt.Fprintf(&b, "%s_bucket{le=\"%g\"} %d\n", h.name, le, cum)
		}
		fmt.Fprintf(&b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", h.name, h.h.n, h.name, h.h.sum, h.name, h.h.n)
	}
	return b.String()
}
