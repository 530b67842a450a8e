package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/golora/golora/tokenizer"
)

// response answers one completion request: whole (one JSON object at the
// end) or streamed as server-sent events, `data: {chunk}` per piece of
// text, then the final chunk with finish_reason, the usage chunk when
// stream_options.include_usage asks for it, and `data: [DONE]`.
type response struct {
	s       *Server
	w       http.ResponseWriter
	req     *request
	isChat  bool
	id      string
	created int64
	started bool
	whole   strings.Builder
}

// choice is one choice of a chunk or a whole response.
func (o *response) choice(text string, finish *string, final bool) map[string]any {
	c := map[string]any{"index": 0, "finish_reason": finish, "logprobs": nil}
	switch {
	case !o.isChat:
		c["text"] = text
	case final && !o.req.stream:
		c["message"] = map[string]any{"role": "assistant", "content": text}
	case text != "" || finish == nil:
		c["delta"] = map[string]any{"content": text}
	default:
		c["delta"] = map[string]any{}
	}
	return c
}

func (o *response) object(choices []map[string]any) map[string]any {
	obj := "text_completion"
	switch {
	case o.isChat && o.req.stream:
		obj = "chat.completion.chunk"
	case o.isChat:
		obj = "chat.completion"
	}
	return map[string]any{"id": o.id, "object": obj, "created": o.created, "model": o.req.modelID, "choices": choices}
}

func (o *response) send(v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(o.w, "data: %s\n\n", b)
	if f, ok := o.w.(http.Flusher); ok {
		f.Flush()
	}
}

// start writes the event stream's headers and, for a chat, the chunk that
// gives the assistant's role.
func (o *response) start() {
	if o.started {
		return
	}
	o.started = true
	h := o.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	o.w.WriteHeader(http.StatusOK)
	if o.isChat {
		o.send(o.object([]map[string]any{{"index": 0, "delta": map[string]any{"role": "assistant", "content": ""}, "finish_reason": nil, "logprobs": nil}}))
	}
}

// text adds a piece of the completion.
func (o *response) text(delta string) {
	if !o.req.stream {
		o.whole.WriteString(delta)
		return
	}
	o.start()
	if delta != "" {
		o.send(o.object([]map[string]any{o.choice(delta, nil, false)}))
	}
}

// end finishes the answer with finish_reason and the token counts.
func (o *response) end(finish string, u usage) {
	if !o.req.stream {
		obj := o.object([]map[string]any{o.choice(o.whole.String(), &finish, true)})
		obj["usage"] = u
		writeJSON(o.w, http.StatusOK, obj)
		return
	}
	o.start()
	o.send(o.object([]map[string]any{o.choice("", &finish, true)}))
	if o.req.usage {
		obj := o.object([]map[string]any{})
		obj["usage"] = u
		o.send(obj)
	}
	fmt.Fprint(o.w, "data: [DONE]\n\n")
}

// fail answers an error: an error event inside a stream already started,
// else an error response.
func (o *response) fail(err error) {
	status, typ := http.StatusInternalServerError, "server_error"
	msg := err.Error()
	switch {
	case errors.Is(err, errStopped):
		status, typ = http.StatusServiceUnavailable, "unavailable_error"
	case errors.Is(err, context.DeadlineExceeded):
		status, typ, msg = http.StatusGatewayTimeout, "timeout_error", fmt.Sprintf("the request ran over the server's time limit of %v", o.s.cfg.Timeout)
	}
	e := errorf(status, typ, "", "%s", msg)
	if o.started {
		o.send(map[string]*apiError{"error": e})
		return
	}
	writeError(o.w, e)
}

// detokenizer turns generated tokens into text as they come, decoding a
// few tokens per token (not the whole completion again): the text of a new
// token is that of ids[prefix:] less that of ids[prefix:read], the tokens
// given out last time with the one before them, so that a decoder whose
// output depends on the neighbouring token (a leading space stripped, bytes
// joined into a character) decodes it as in the whole text. It holds back
// an incomplete UTF-8 sequence (the decoded window ends in U+FFFD) and any
// tail that may be the start of a stop string, and ends the text before
// the first stop string, also one that spans tokens.
type detokenizer struct {
	decode       func(ids []int) (string, error)
	stops        []string
	ids          []int
	prefix, read int    // the window: see above
	held         string // decoded text not given out yet (a possible stop string's start)
	stopped      bool
}

// newDetokenizer returns a detokenizer of tok's text, special tokens
// left out, that stops before the first of stops.
func newDetokenizer(tok *tokenizer.Tokenizer, stops []string) *detokenizer {
	return &detokenizer{decode: func(ids []int) (string, error) { return tok.Decode(ids, true) }, stops: stops}
}

// add appends a token and returns the text that may now be given out, and
// whether a stop string ended the completion.
func (d *detokenizer) add(id int) (string, bool) {
	d.ids = append(d.ids, id)
	before, err := d.decode(d.ids[d.prefix:d.read])
	if err != nil {
		return "", false
	}
	text, err := d.decode(d.ids[d.prefix:])
	if err != nil || len(text) < len(before) || strings.HasSuffix(text, "\uFFFD") { // wait for the rest of the character
		return "", false
	}
	d.prefix, d.read = d.read, len(d.ids)
	rest := d.held + text[len(before):]
	at := -1
	for _, s := range d.stops {
		if i := strings.Index(rest, s); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	if at >= 0 {
		d.stopped, d.held = true, ""
		return rest[:at], true
	}
	hold := 0
	for _, s := range d.stops {
		for k := min(len(s)-1, len(rest)); k > hold; k-- {
			if strings.HasSuffix(rest, s[:k]) {
				hold = k
				break
			}
		}
	}
	d.held = rest[len(rest)-hold:]
	return rest[:len(rest)-hold], false
}

// flush returns the text held back, once the completion has ended
// without a stop string: the start of a stop string that did not come,
// and tokens that did not complete a character (decoded as they are).
func (d *detokenizer) flush() string {
	out := d.held
	d.held = ""
	before, err := d.decode(d.ids[d.prefix:d.read])
	text, err2 := d.decode(d.ids[d.prefix:])
	if err == nil && err2 == nil && len(text) >= len(before) {
		out += text[len(before):]
	}
	d.prefix, d.read = len(d.ids), len(d.ids)
	return out
}
