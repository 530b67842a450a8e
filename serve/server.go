// Package serve is `golora serve`: an OpenAI-compatible HTTP API over one
// base model and any number of LoRA adapters, decoded together with
// continuous batching, and a chat page.
//
// One scheduler goroutine owns the model (scheduler.go): requests wait in
// a bounded queue, join the running batch between decode steps (their
// prompt prefilled into a KV-cache slot of their own) and leave it when
// done, so every step decodes one token of every running sequence in one
// model.DecodeBatch call, whatever adapters each uses. HTTP handlers
// (api.go) parse requests, turn tokens into text and stream it.
package serve

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golora/golora/chat"
	"github.com/golora/golora/generate"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tokenizer"
)

// Config is what a Server serves and its limits.
type Config struct {
	Model     *model.Model
	Tokenizer *tokenizer.Tokenizer
	Name      string // the base model's id in the API
	// Adapters are loaded at start, in order.
	Adapters []AdapterSpec
	// AdaptersDir, when set, is the only directory POST /v1/adapters may
	// load from; empty turns run-time loading off.
	AdaptersDir string
	APIKey      string // when set, every route but /health and / needs "Authorization: Bearer APIKey"
	MaxBatch    int    // most sequences decoded together (KV-cache slots)
	MaxQueue    int    // most requests waiting for a slot; more are refused with 429
	Ctx         int    // most tokens of one sequence, prompt and completion together
	// PrefillChunk is the most prompt tokens prefilled between two decode
	// steps of the running sequences (0 means DefaultPrefillChunk): a long
	// prompt joins in chunks and does not stall the others' streams.
	PrefillChunk int
	// Timeout, when positive, bounds a request's time from arrival to its
	// last token; a request over it is ended and answered 504.
	Timeout time.Duration
	Log     *log.Logger
}

// AdapterSpec names a PEFT adapter directory and its default scale (the
// factor its α/r is multiplied by).
type AdapterSpec struct {
	Name, Dir string
	Scale     float32
}

// DefaultPrefillChunk is Config.PrefillChunk's default: generate's, so
// that greedy answers are generate's for prompts of any length.
const DefaultPrefillChunk = generate.PrefillChunk

// maxBody is the largest request body accepted.
const maxBody = 8 << 20

// Server is the HTTP API and its scheduler. Make it with New, serve
// Handler, and Close it after the HTTP server has shut down.
type Server struct {
	cfg     Config
	m       *model.Model
	tok     *tokenizer.Tokenizer
	tmpl    *chat.Template
	vars    chat.Vars
	stopIDs []int
	created int64
	metrics *metrics
	sched   *scheduler

	mu       sync.Mutex
	adapters map[string]*adapter
	order    []string // adapter names in load order
}

// New loads cfg's adapters onto the model and starts the scheduler.
func New(cfg Config) (*Server, error) {
	if cfg.MaxBatch < 1 || cfg.MaxQueue < 0 || cfg.Ctx < 2 || cfg.PrefillChunk < 0 {
		return nil, fmt.Errorf("serve: max batch %d, max queue %d, context %d, prefill chunk %d: want ≥ 1, ≥ 0, ≥ 2, ≥ 0",
			cfg.MaxBatch, cfg.MaxQueue, cfg.Ctx, cfg.PrefillChunk)
	}
	if cfg.PrefillChunk == 0 {
		cfg.PrefillChunk = DefaultPrefillChunk
	}
	if cfg.Log == nil {
		cfg.Log = log.New(nopWriter{}, "", 0)
	}
	tmpl, vars, err := cfg.Tokenizer.Chat()
	if err != nil {
		return nil, err
	}
	vars.AddGenerationPrompt = true
	s := &Server{cfg: cfg, m: cfg.Model, tok: cfg.Tokenizer, tmpl: tmpl, vars: vars,
		stopIDs: generate.StopIDs(cfg.Model, cfg.Tokenizer), created: time.Now().Unix(),
		metrics: newMetrics(), adapters: map[string]*adapter{}}
	for _, a := range cfg.Adapters {
		if err := s.attach(a.Name, a.Dir, a.Scale); err != nil {
			return nil, err
		}
	}
	s.sched = newScheduler(s)
	go s.sched.run()
	return s, nil
}

// Close stops the scheduler; requests still running get an error.
func (s *Server) Close() { s.sched.stop() }

// Models lists the ids served: the base, then the adapters in load order.
func (s *Server) Models() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{s.cfg.Name}, s.order...)
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// Handler is the server's HTTP routes, behind the API key check, panic
// recovery, the body size limit and request metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("POST /v1/completions", s.handleCompletion)
	mux.HandleFunc("POST /v1/adapters", s.handleLoadAdapter)
	mux.HandleFunc("DELETE /v1/adapters/{name}", s.handleUnloadAdapter)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /{$}", handlePage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "not_found_error", "", "no route %s %s", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.cfg.Log.Printf("panic serving %s %s: %v", r.Method, r.URL.Path, p)
				if rec.status == 0 {
					writeError(rec, errorf(http.StatusInternalServerError, "server_error", "", "internal error: %v", p))
				}
			}
			_, pattern := mux.Handler(r)
			s.metrics.request(pattern, rec.status)
		}()
		if s.cfg.APIKey != "" && !open(r) && !s.authorized(r) {
			writeError(rec, errorf(http.StatusUnauthorized, "authentication_error", "", "missing or wrong API key: send Authorization: Bearer KEY"))
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, maxBody)
		mux.ServeHTTP(rec, r)
	})
}

// open reports whether a route needs no API key: the health check and the
// page (which asks for the key itself).
func open(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/health" || r.URL.Path == "/")
}

// authorized compares the bearer token with the API key in constant time.
func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.APIKey)) == 1
}

// statusWriter records the status code written, for metrics and to know
// whether an error can still be sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// apiError is an error answered in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

// errorf makes an apiError; param names the offending request field ("" for none).
func errorf(status int, typ, param, format string, args ...any) *apiError {
	e := &apiError{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
	if param != "" {
		e.Param = &param
	}
	return e
}

// invalid is a 400 invalid_request_error naming field.
func invalid(field, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "invalid_request_error", field, format, args...)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Loading is the handler to serve while the model loads: GET /health
// answers 503 {"status": "loading"}, every other route a 503 error.
func Loading() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "loading"})
			return
		}
		w.Header().Set("Retry-After", "5")
		writeError(w, errorf(http.StatusServiceUnavailable, "unavailable_error", "", "the model is loading"))
	})
}
