package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/golora/golora/chat"
	"github.com/golora/golora/generate"
)

// modelEntry is one model of GET /v1/models; Parent is the base of an adapter.
type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	Parent  string `json:"parent,omitempty"`
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	ids := s.Models()
	data := make([]modelEntry, len(ids))
	for i, id := range ids {
		data[i] = modelEntry{ID: id, Object: "model", Created: s.created, OwnedBy: "golora"}
		if i > 0 {
			data[i].Parent = ids[0]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// sampling holds the fields chat and text completions share.
type sampling struct {
	Model               string          `json:"model"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	MinP                *float64        `json:"min_p"`
	RepetitionPenalty   *float64        `json:"repetition_penalty"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	N        *int         `json:"n"`
	Adapters []adapterRef `json:"adapters"`
}

type chatRequest struct {
	sampling
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	// ChatTemplateKwargs are variables of the chat template (vLLM's
	// field): enable_thinking alone.
	ChatTemplateKwargs struct {
		EnableThinking *bool `json:"enable_thinking"`
	} `json:"chat_template_kwargs"`
}

type completionRequest struct {
	sampling
	Prompt json.RawMessage `json:"prompt"`
}

// decodeBody reads r's JSON body into v; errors name the field.
func decodeBody(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, "invalid_request_error", "", "request body over %d bytes", tooBig.Limit)
		}
		return invalid("", "reading the request body: %v", err)
	}
	return unmarshalBody(body, v)
}

// unmarshalBody decodes the JSON body into v; a field of the wrong type is
// named as the error's param.
func unmarshalBody(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := strings.TrimPrefix(te.Field, "sampling.") // the embedded struct's fields are the request's
			return invalid(field, "field %q: %s is not a valid %s", field, te.Value, te.Type)
		}
		return invalid("", "request body is not valid JSON: %v", err)
	}
	return nil
}

// request is what both endpoints make of their fields.
type request struct {
	q       *seq
	stops   []string
	stream  bool
	usage   bool // stream_options.include_usage
	modelID string
}

// prepare checks the sampling fields against prompt and the context, and
// makes the sequence, its adapters resolved (released by the scheduler
// when it leaves, or here on an error).
// promptField names the request field the prompt came from, for errors.
func (s *Server) prepare(ctx context.Context, f *sampling, prompt []int, promptField string) (*request, *apiError) {
	if f.Model == "" {
		return nil, invalid("model", "model is required; the models are %s", strings.Join(s.Models(), ", "))
	}
	o, stops, e := f.options()
	if e != nil {
		return nil, e
	}
	o.Stop = s.stopIDs
	if len(prompt) == 0 {
		return nil, invalid(promptField, "the prompt is empty")
	}
	limit := s.cfg.Ctx
	if len(prompt) >= limit {
		return nil, invalid(promptField, "the prompt has %d tokens; the context is %d tokens (--ctx), prompt and completion together", len(prompt), limit)
	}
	maxTokens := limit - len(prompt)
	for _, m := range []struct {
		name string
		v    *int
	}{{"max_tokens", f.MaxTokens}, {"max_completion_tokens", f.MaxCompletionTokens}} {
		if m.v == nil {
			continue
		}
		if *m.v < 1 {
			return nil, invalid(m.name, "%s must be ≥ 1, got %d", m.name, *m.v)
		}
		if len(prompt)+*m.v > limit {
			return nil, invalid(m.name, "the prompt's %d tokens and %s %d exceed the context of %d tokens (--ctx)", len(prompt), m.name, *m.v, limit)
		}
		maxTokens = *m.v
	}
	sel, names, e := s.resolve(f.Model, f.Adapters)
	if e != nil {
		return nil, e
	}
	q := &seq{ctx: ctx, prompt: prompt, sel: sel, adapters: names, opt: o, maxTokens: maxTokens,
		pen: generate.NewPenalty(o.RepetitionPenalty, s.m.Cfg.VocabSize, prompt), arrived: time.Now(), events: make(chan event, maxTokens+1)}
	r := &request{q: q, stops: stops, stream: f.Stream, modelID: f.Model}
	if f.StreamOptions != nil {
		r.usage = f.StreamOptions.IncludeUsage
	}
	return r, nil
}

// options checks the sampling fields that depend on nothing else and
// makes the generation options (without stop tokens) and the stop
// strings; without a seed, the seed is random.
func (f *sampling) options() (generate.Options, []string, *apiError) {
	o := generate.Options{Temperature: 1}
	if f.N != nil && *f.N != 1 {
		return o, nil, invalid("n", "n must be 1 (one choice per request), got %d", *f.N)
	}
	if f.Temperature != nil {
		if t := *f.Temperature; t < 0 || math.IsNaN(t) {
			return o, nil, invalid("temperature", "temperature must be ≥ 0, got %g", t)
		}
		o.Temperature = *f.Temperature
	}
	if f.TopP != nil {
		if p := *f.TopP; !(p > 0 && p <= 1) {
			return o, nil, invalid("top_p", "top_p must be in (0, 1], got %g", p)
		}
		o.TopP = *f.TopP
	}
	if f.TopK != nil {
		if *f.TopK < -1 {
			return o, nil, invalid("top_k", "top_k must be ≥ 0 (0 or -1: no limit), got %d", *f.TopK)
		}
		o.TopK = max(*f.TopK, 0)
	}
	if f.MinP != nil {
		if p := *f.MinP; !(p >= 0 && p <= 1) {
			return o, nil, invalid("min_p", "min_p must be in [0, 1], got %g", p)
		}
		o.MinP = *f.MinP
	}
	if f.RepetitionPenalty != nil {
		if p := *f.RepetitionPenalty; !(p > 0) || math.IsInf(p, 1) {
			return o, nil, invalid("repetition_penalty", "repetition_penalty must be a positive number (1: none), got %g", p)
		}
		o.RepetitionPenalty = *f.RepetitionPenalty
	}
	if f.Seed != nil {
		o.Seed = uint64(*f.Seed)
	} else {
		o.Seed = mrand.Uint64()
	}
	stops, e := parseStop(f.Stop)
	if e != nil {
		return o, nil, e
	}
	return o, stops, nil
}

// parseStop reads "stop": null, a string, or a list of strings.
func parseStop(raw json.RawMessage) ([]string, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, invalid("stop", "stop must be a string or a list of strings")
	}
	out := list[:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if e := decodeBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	msgs, e := req.messages()
	if e != nil {
		writeError(w, e)
		return
	}
	vars := s.vars
	if t := req.ChatTemplateKwargs.EnableThinking; t != nil {
		vars.EnableThinking = t
	}
	text, err := s.tmpl.Render(msgs, vars)
	if err != nil {
		writeError(w, invalid("messages", "the chat template: %v", err))
		return
	}
	ids, err := s.tok.Encode(text, false)
	if err != nil {
		writeError(w, invalid("messages", "tokenizing the conversation: %v", err))
		return
	}
	s.complete(w, r, &req.sampling, ids, true)
}

// messages checks the request's messages and returns their roles and
// texts.
func (req *chatRequest) messages() ([]chat.Message, *apiError) {
	if len(req.Messages) == 0 {
		return nil, invalid("messages", "messages must hold at least one message")
	}
	msgs := make([]chat.Message, len(req.Messages))
	for i, m := range req.Messages {
		field := fmt.Sprintf("messages[%d]", i)
		if m.Role == "" {
			return nil, invalid(field+".role", "%s.role is required", field)
		}
		text, err := messageText(m.Content)
		if err != nil {
			return nil, invalid(field+".content", "%s.content: %v", field, err)
		}
		msgs[i] = chat.Message{Role: m.Role, Content: text}
	}
	return msgs, nil
}

// messageText is a message's content: a string, or a list of parts of
// which the "text" ones are joined.
func messageText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or a list of content parts")
	}
	var b strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("part %d has type %q; only text is supported", i, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

func (s *Server) handleCompletion(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if e := decodeBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	ids, e := s.promptIDs(req.Prompt)
	if e != nil {
		writeError(w, e)
		return
	}
	s.complete(w, r, &req.sampling, ids, false)
}

// promptIDs reads "prompt": a string (tokenized with the special tokens
// the tokenizer adds), token ids, or a list of one of either.
func (s *Server) promptIDs(raw json.RawMessage) ([]int, *apiError) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		ids, err := s.tok.Encode(text, true)
		if err != nil {
			return nil, invalid("prompt", "tokenizing the prompt: %v", err)
		}
		return ids, nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil {
		for i, id := range ids {
			if id < 0 || id >= s.m.Cfg.VocabSize {
				return nil, invalid("prompt", "prompt[%d]: token id %d is outside the vocabulary [0,%d)", i, id, s.m.Cfg.VocabSize)
			}
		}
		return ids, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil && len(list) == 1 {
		return s.promptIDs(list[0])
	}
	if len(list) > 1 {
		return nil, invalid("prompt", "one prompt per request (a list of %d given)", len(list))
	}
	return nil, invalid("prompt", "prompt must be a string or a list of token ids")
}

// usage is OpenAI's token accounting of one request.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// complete runs one request and answers it, streamed or whole, as a chat
// completion or a text completion.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, f *sampling, prompt []int, isChat bool) {
	ctx, cancel := context.WithCancel(r.Context())
	if s.cfg.Timeout > 0 {
		ctx, cancel = context.WithTimeout(r.Context(), s.cfg.Timeout)
	}
	defer cancel()
	field := "prompt"
	if isChat {
		field = "messages"
	}
	req, e := s.prepare(ctx, f, prompt, field)
	if e != nil {
		writeError(w, e)
		return
	}
	q := req.q
	if !s.sched.submit(q) {
		s.release(q.adapters)
		w.Header().Set("Retry-After", "1")
		writeError(w, errorf(http.StatusTooManyRequests, "rate_limit_error", "", "the queue is full (%d waiting, --max-queue); retry later", s.cfg.MaxQueue))
		return
	}
	s.metrics.prompted(len(prompt))
	id, created := newID(isChat), time.Now().Unix()
	out := &response{s: s, w: w, req: req, isChat: isChat, id: id, created: created}
	dt := newDetokenizer(s.tok, req.stops)
	finish := ""
	n := 0
	for ev := range q.events {
		switch {
		case ev.Err != nil:
			s.cfg.Log.Printf("request %s: %v", id, ev.Err)
			out.fail(ev.Err)
			return
		case ev.Finish == finishCancelled, finish != "": // after a stop string, nothing more is sent
		case ev.Finish != "":
			finish = ev.Finish
		default:
			n++
			delta, stopped := dt.add(ev.ID)
			out.text(delta)
			if stopped {
				finish = "stop"
				cancel() // the scheduler drops the sequence at its next step
			}
		}
	}
	if finish == "" { // the client went away, or the request ran out of time
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			out.fail(ctx.Err())
		}
		return
	}
	if finish != "stop" || !dt.stopped {
		out.text(dt.flush())
	}
	out.end(finish, usage{len(prompt), n, len(prompt) + n})
}

func newID(isChat bool) string {
	var b [12]byte
	rand.Read(b[:])
	if isChat {
		return "chatcmpl-" + hex.EncodeToString(b[:])
	}
	return "cmpl-" + hex.EncodeToString(b[:])
}
