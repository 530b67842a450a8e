package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/serve"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tensor/kernels"
	"github.com/golora/golora/tokenizer"
)

func init() {
	register(&cli.Command{Name: "serve", Summary: "serve a model and its adapters over an OpenAI-compatible HTTP API", Run: runServe,
		Usage: "serve --model DIR [--name ID] [--adapter NAME=DIR[:SCALE]]... [--adapters-dir DIR] [--host H] [--port N] [--api-key KEY] [flags]",
		Doc: "Serves the base model and any number of adapters on it over an OpenAI-compatible API (/v1/models, /v1/chat/completions, " +
			"/v1/completions, /v1/adapters), with a chat page at /, /health and /metrics. A request's \"model\" is the base's id or an " +
			"adapter's name; requests on different adapters are decoded together in one batch. Stops on Ctrl-C, letting running requests finish."})
}

// shutdownGrace is how long running requests get to finish after a stop signal.
const shutdownGrace = 30 * time.Second

func runServe(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "Hugging Face model `DIR` (with tokenizer.json)")
	name := fs.String("name", "", "the base model's `ID` in the API (default: the directory's name)")
	var adapters adapterFlags
	fs.Var(&adapters, "adapter", "serve the PEFT adapter in DIR as model `NAME=DIR[:SCALE]` (repeatable)")
	adaptersDir := fs.String("adapters-dir", "", "let POST /v1/adapters load adapters from inside `DIR` (off when empty)")
	fs.Group("Network")
	host := fs.String("host", "127.0.0.1", "`HOST` to listen on; other than loopback needs an API key")
	port := fs.Int("port", 8080, "`PORT` to listen on (0: any free one)")
	apiKey := fs.String("api-key", os.Getenv("GOLORA_API_KEY"), "require Authorization: Bearer `KEY` (default $GOLORA_API_KEY)")
	fs.Group("Limits")
	maxBatch := fs.Int("max-batch", 8, "most sequences decoded together (each has a KV-cache slot of --ctx tokens)")
	maxQueue := fs.Int("max-queue", 64, "most requests waiting for a slot; more get 429")
	ctxLen := fs.Int("ctx", 0, "most tokens of one sequence, prompt and completion (0: the model's max_position_embeddings, at most 4096)")
	prefillChunk := fs.Int("prefill-chunk", serve.DefaultPrefillChunk, "most prompt tokens prefilled between two decode steps of the running sequences")
	timeout := fs.Int("timeout", 600, "longest a request may take, in seconds (0: no limit)")
	threads := fs.Int("threads", 0, "threads (0: all cores, or $GOLORA_THREADS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return cli.Usagef("--model is required")
	}
	if !loopback(*host) && *apiKey == "" {
		return cli.Usagef("--host %s is reachable from other machines: set --api-key or $GOLORA_API_KEY", *host)
	}
	if *maxBatch < 1 || *prefillChunk < 1 || *maxQueue < 0 || *ctxLen < 0 || *timeout < 0 {
		return cli.Usagef("--max-batch and --prefill-chunk must be ≥ 1, --max-queue, --ctx and --timeout ≥ 0")
	}
	specs := make([]serve.AdapterSpec, len(adapters))
	for i, a := range adapters {
		n, rest, ok := strings.Cut(a, "=")
		if !ok || n == "" {
			return cli.Usagef("--adapter %q: want NAME=DIR[:SCALE]", a)
		}
		sp, err := lora.ParseSpec(rest)
		if err != nil {
			return cli.Usagef("--adapter %q: %v", a, err)
		}
		specs[i] = serve.AdapterSpec{Name: n, Dir: sp.Dir, Scale: sp.Scale}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	// Until the model is loaded, /health says so and the API answers 503.
	var handler atomic.Pointer[http.Handler]
	loading := serve.Loading()
	handler.Store(&loading)
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) })}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "golora serve: http://%s/ (OpenAI API at http://%s/v1)\n", ln.Addr(), ln.Addr())
	srv, closeServer, err := loadServer(*dir, *name, *ctxLen, threadCount(*threads), serve.Config{Adapters: specs, AdaptersDir: *adaptersDir,
		APIKey: *apiKey, MaxBatch: *maxBatch, PrefillChunk: *prefillChunk, MaxQueue: *maxQueue, Timeout: time.Duration(*timeout) * time.Second,
		Log: log.New(stderr, "", log.LstdFlags)})
	if err != nil {
		hs.Close()
		return err
	}
	defer closeServer()
	ready := srv.Handler()
	handler.Store(&ready)
	fmt.Fprintf(stdout, "models: %s\n", strings.Join(srv.Models(), ", "))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "golora serve: stopping; letting running requests finish")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// loopback reports whether host only listens on this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadServer loads the model in dir with its tokenizer and starts the
// server on it: cfg with the model, the base's id (name, else the
// directory's name) and the context (ctx, else the model's
// max_position_embeddings, at most 4096). The function it returns stops
// the server and closes the model.
func loadServer(dir, name string, ctx, threads int, cfg serve.Config) (*serve.Server, func(), error) {
	tensor.SetThreads(threads)
	m, err := model.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	if name == "" {
		abs, _ := filepath.Abs(dir)
		name = filepath.Base(abs)
	}
	if ctx == 0 {
		ctx = 4096
		if p := m.Cfg.MaxPositions; p > 0 {
			ctx = min(p, ctx)
		}
	}
	cfg.Model, cfg.Tokenizer, cfg.Name, cfg.Ctx = m, tok, name, ctx
	srv, err := serve.New(cfg)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return srv, func() { srv.Close(); m.Close() }, nil
}

func runBenchServe(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	cfgPath, dir := modelConfigFlags(fs)
	fs.Group("Measurement")
	clients := fs.String("clients", "1,4,16", "comma-separated concurrent stream `COUNTS`")
	var o serve.BenchOptions
	fs.IntVar(&o.Adapters, "adapters", 4, "random adapters the mixed streams are spread over")
	fs.IntVar(&o.MaxTokens, "max-tokens", 64, "tokens each stream generates")
	fs.IntVar(&o.Prompt, "prompt", 16, "prompt tokens of each stream")
	fs.IntVar(&o.Requests, "requests", 0, "requests per measurement, at most the client count in flight (default: one per client)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurements to `FILE` (go tool pprof)")
	threads, useKernels := benchPerfFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := useKernels(); err != nil {
		return err
	}
	for _, f := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return cli.Usagef("--clients %q: want comma-separated counts ≥ 1", *clients)
		}
		o.Clients = append(o.Clients, n)
	}
	if o.Adapters < 1 || o.MaxTokens < 1 || o.Prompt < 1 {
		return cli.Usagef("--adapters, --max-tokens and --prompt must be ≥ 1")
	}
	c, _, err := configFlag(*cfgPath, *dir)
	if err != nil {
		return err
	}
	tensor.SetThreads(threadCount(*threads))
	m := model.NewRandom(c, 0.02, 1)
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	rep, err := serve.Bench(m, o)
	stop()
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(struct {
		Threads int    `json:"threads"`
		Kernels string `json:"kernels"`
		serve.BenchReport
	}{tensor.Threads(), kernels.Active().String(), rep})
}
