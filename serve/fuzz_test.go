package serve

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/golora/golora/generate"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tokenizer"
)

// requestSeeds are request bodies of the tests, chat and completion.
var requestSeeds = []string{
	`{"model":"tiny","prompt":"x","max_tokens":"many"}`,
	`{"model":"tiny","prompt":"x","stop":5}`,
	`{"model":"tiny","prompt":[1,99999]}`,
	`{"model":"tiny","prompt":"x","adapters":[{"name":"ghost"}]}`,
	`{"prompt":"x"}`,
	`{"model":"tiny","prompt":{}}`,
	`{"model":`,
	`{"model":"tiny","prompt":"x","max_tokens":0}`,
	`{"model":"tiny","prompt":"x","min_p":2}`,
	`{"model":"pirate","prompt":[5,9,14,2,7],"max_tokens":30,"temperature":0.9,"top_k":20,"seed":42}`,
	`{"model":"tiny","prompt":["the"],"stream":true,"stream_options":{"include_usage":true},"stop":["x","y"],"top_p":0.5,"n":1}`,
	`{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":5,"adapters":[{"name":"poet","scale":0.5}]}`,
	`{"model":"tiny","messages":[{"role":"system","content":[{"type":"text","text":"be brief"}]},{"role":"user","content":null}],"stop":"."}`,
	`{"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`,
	`{"model":"tiny","messages":[],"n":2}`,
}

// checkError fails unless e is an OpenAI-style 400 error: a type, a
// message, and a param naming the field whenever body is a JSON object.
func checkError(t *testing.T, body []byte, e *apiError) {
	if e.Status != http.StatusBadRequest || e.Type == "" || e.Message == "" {
		t.Fatalf("%q: error %d %q %q", body, e.Status, e.Type, e.Message)
	}
	if object := bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")); object && json.Valid(body) && (e.Param == nil || *e.Param == "") {
		t.Fatalf("%q: error %q names no param", body, e.Message)
	}
	if _, err := json.Marshal(map[string]*apiError{"error": e}); err != nil {
		t.Fatal(err)
	}
}

// parsedChat is what the server makes of a chat request's body before
// the model sees it.
type parsedChat struct {
	msgs  any
	opt   generate.Options
	stops []string
}

func parseChatBody(body []byte) (*chatRequest, parsedChat, *apiError) {
	var req chatRequest
	if e := unmarshalBody(body, &req); e != nil {
		return nil, parsedChat{}, e
	}
	msgs, e := req.messages()
	if e != nil {
		return nil, parsedChat{}, e
	}
	o, stops, e := req.options()
	if req.Seed == nil {
		o.Seed = 0 // random
	}
	return &req, parsedChat{msgs, o, stops}, e
}

// FuzzChatRequest: no chat request body makes the parsing panic; every
// refusal is an OpenAI-style error with a param; an accepted request
// re-encodes to a body that parses to the same.
func FuzzChatRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, got, e := parseChatBody(body)
		if e != nil {
			checkError(t, body, e)
			return
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, got2, e := parseChatBody(again)
		if e != nil {
			t.Fatalf("%q accepted, its re-encoding %q refused: %v", body, again, e)
		}
		if !reflect.DeepEqual(got, got2) {
			t.Fatalf("%q parses to %+v, its re-encoding %q to %+v", body, got, again, got2)
		}
		if third, _ := json.Marshal(req2); !bytes.Equal(third, again) {
			t.Fatalf("re-encoding %q is not stable: %q", again, third)
		}
	})
}

// FuzzCompletionRequest is FuzzChatRequest for text completions, whose
// prompt is tokenized (a byte-level tokenizer; no model).
func FuzzCompletionRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	tok, err := tokenizer.TrainByteLevel([]byte(strings.Repeat("the quick brown fox. ", 10)), 270, []string{"<|endoftext|>"})
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{tok: tok, m: &model.Model{Cfg: &model.Config{VocabSize: tok.VocabSize()}}}
	parse := func(body []byte) (*completionRequest, []int, generate.Options, []string, *apiError) {
		var req completionRequest
		if e := unmarshalBody(body, &req); e != nil {
			return nil, nil, generate.Options{}, nil, e
		}
		ids, e := s.promptIDs(req.Prompt)
		if e != nil {
			return nil, nil, generate.Options{}, nil, e
		}
		o, stops, e := req.options()
		if req.Seed == nil {
			o.Seed = 0 // random
		}
		return &req, ids, o, stops, e
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, ids, o, stops, e := parse(body)
		if e != nil {
			checkError(t, body, e)
			return
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		_, ids2, o2, stops2, e := parse(again)
		if e != nil {
			t.Fatalf("%q accepted, its re-encoding %q refused: %v", body, again, e)
		}
		if !reflect.DeepEqual(ids, ids2) || !reflect.DeepEqual(o, o2) || !reflect.DeepEqual(stops, stops2) {
			t.Fatalf("%q and its re-encoding %q parse differently", body, again)
		}
	})
}
