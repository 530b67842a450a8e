package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/golora/golora/serve"
)

// TestServeCommand starts `golora serve` on a free port, lists its models,
// and stops it with SIGINT: it exits 0.
func TestServeCommand(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	url, models, stop := startServe(t, "--model", dir, "--name", "tiny")
	if models != "tiny" {
		t.Fatalf("models %q", models)
	}
	resp, err := http.Get(url + "v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Data []struct{ ID string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Data) != 1 || list.Data[0].ID != "tiny" {
		t.Errorf("models %+v, %v", list, err)
	}
	resp.Body.Close()
	if resp, err := http.Get(url + "health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("health once loaded: %v %v", resp, err)
	}
	stop()
}

// TestDemoServeCommand: the golora serve command golora demo ends with
// serves the demo's base and both personalities.
func TestDemoServeCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	var stdout, stderr strings.Builder
	if code := run([]string{"demo", "--quick", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr.String())
	}
	var args []string
	for _, l := range strings.Split(stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "golora serve "); ok {
			args = strings.Fields(rest)
		}
	}
	if args == nil {
		t.Fatalf("demo printed no golora serve command:\n%s", stdout.String())
	}
	_, models, stop := startServe(t, args...)
	if models != "base, newton, gopher" {
		t.Errorf("the demo's serve command serves %q", models)
	}
	stop()
}

// startServe runs `golora serve` with args on a free port until it has
// loaded its models, and returns its URL, the models it printed and the
// function that stops it with SIGINT and checks that it exits 0.
func startServe(t *testing.T, args ...string) (url, models string, stop func()) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var errb strings.Builder
	go func() {
		done <- run(append([]string{"serve", "--port", "0"}, args...), pw, &errb)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	for models == "" && lines.Scan() {
		l := lines.Text()
		if u, ok := strings.CutPrefix(l, "golora serve: "); ok && url == "" {
			url = strings.Fields(u)[0]
		}
		if m, ok := strings.CutPrefix(l, "models: "); ok {
			models = m
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" || models == "" {
		t.Fatalf("printed URL %q, models %q; stderr %s", url, models, errb.String())
	}
	return url, models, func() {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := <-done; code != 0 {
			t.Errorf("exit %d after SIGINT: %s", code, errb.String())
		}
	}
}

func TestServeRefusesOpenHostWithoutKey(t *testing.T) {
	t.Setenv("GOLORA_API_KEY", "")
	_, errs, code := golora(t, "serve", "--model", "x", "--host", "0.0.0.0")
	if code == 0 || !strings.Contains(errs, "--api-key") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// TestBenchServe: bench serve prints one result per client count, with
// the mixed-adapters ratio, the scaling over the first count, --requests
// requests with their latency percentiles, and the resident memory, under
// the JSON names requests_per_sec, tokens_per_sec, ttft_p50, …,
// peak_rss_bytes.
func TestBenchServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":64,"hidden_size":32,"intermediate_size":48,
		"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2}`), 0o644)
	stdout, stderr, code := golora(t, "bench", "serve", "--model-config", path, "--clients", "1,3", "--adapters", "2", "--max-tokens", "4", "--requests", "5", "--threads", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out serve.BenchReport
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	var raw struct {
		Results []map[string]any `json:"results"`
		PeakRSS *int64           `json:"peak_rss_bytes"`
	}
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil || raw.PeakRSS == nil || len(raw.Results) == 0 {
		t.Fatalf("no peak_rss_bytes or results (%v): %s", err, stdout)
	}
	for _, key := range []string{"requests_per_sec", "tokens_per_sec", "ttft_p50", "ttft_p99", "itl_p50", "itl_p99"} {
		if _, ok := raw.Results[0][key]; !ok {
			t.Errorf("no %s in %v", key, raw.Results[0])
		}
	}
	if len(out.Results) != 2 || out.Results[0].Clients != 1 || out.Results[1].Clients != 3 || out.Results[0].Scaling != 1 {
		t.Fatalf("results %+v", out.Results)
	}
	for _, r := range out.Results {
		if !(r.Base > 0 && r.TokensPS > 0 && r.Mixed > 0) || r.MixedRatio != r.Mixed/r.TokensPS || r.Requests != 5 || !(r.RequestsPS > 0) ||
			!(0 < r.TTFTP50 && r.TTFTP50 <= r.TTFTP99) || !(0 < r.ITLP50 && r.ITLP50 <= r.ITLP99) {
			t.Errorf("result %+v", r)
		}
	}
	if runtime.GOOS == "linux" && !(0 < out.RSSWarm && out.RSSEnd <= out.PeakRSS) {
		t.Errorf("resident memory after warm-up %d, at the end %d, peak %d", out.RSSWarm, out.RSSEnd, out.PeakRSS)
	}
	if _, stderr, code := golora(t, "bench", "serve", "--model-config", path, "--clients", "1,x"); code != 2 || !strings.Contains(stderr, "--clients") {
		t.Errorf("--clients 1,x: exit %d, %s", code, stderr)
	}
}
