package serve

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/golora/golora/generate"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tokenizer"
	"github.com/golora/golora/tokenizer/tokenizertest"
)

// generated is what `golora generate` makes of prompt with the adapter
// specs: the text of its tokens (lora.AttachAll, generate.Generate).
func (f fixture) generated(t *testing.T, specs []lora.Spec, prompt []int, o generate.Options) string {
	t.Helper()
	m, err := model.Load(f.model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := tokenizer.Load(f.model)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lora.AttachAll(m, specs); err != nil {
		t.Fatal(err)
	}
	o.Stop = generate.StopIDs(m, tok)
	ids, err := generate.Generate(m, prompt, 128, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := tok.Decode(ids, true)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// cases are requests with different adapter choices and what generate
// runs for each.
func (f fixture) cases() []struct {
	body  map[string]any
	specs []lora.Spec
} {
	dir := func(n string) string { return filepath.Join(f.adapters, n) }
	return []struct {
		body  map[string]any
		specs []lora.Spec
	}{
		{map[string]any{"model": "tiny"}, nil},
		{map[string]any{"model": "pirate"}, []lora.Spec{{Dir: dir("pirate"), Scale: 1}}},
		{map[string]any{"model": "poet"}, []lora.Spec{{Dir: dir("poet"), Scale: 1}}},
		{map[string]any{"model": "tiny", "adapters": []map[string]any{{"name": "pirate", "scale": 0.5}}}, []lora.Spec{{Dir: dir("pirate"), Scale: 0.5}}},
		{map[string]any{"model": "tiny", "adapters": []map[string]any{{"name": "pirate"}, {"name": "poet", "scale": 2}}},
			[]lora.Spec{{Dir: dir("pirate"), Scale: 1}, {Dir: dir("poet"), Scale: 2}}},
	}
}

// TestGreedyEqualsGenerate: a greedy completion through the server is
// what generate produces with the same adapters, alone and with every
// request sent at once (so that they are decoded in one batch); and a
// seeded sampled completion too.
func TestGreedyEqualsGenerate(t *testing.T) {
	f := newFixture(t)
	_, ts := f.start(t, nil)
	prompt := []int{5, 9, 14, 2, 7}
	cases := f.cases()
	want := make([]string, len(cases))
	for i, c := range cases {
		want[i] = f.generated(t, c.specs, prompt, generate.Options{MaxTokens: 40})
	}
	if want[0] == want[1] || want[1] == want[2] {
		t.Fatalf("adapters change nothing: %q", want)
	}
	run := func(i int, body map[string]any) string {
		b := map[string]any{"prompt": prompt, "max_tokens": 40, "temperature": 0}
		for k, v := range body {
			b[k] = v
		}
		code, out := post(t, ts.URL+"/v1/completions", b)
		if code != http.StatusOK {
			t.Errorf("case %d: %d %v", i, code, out)
			return ""
		}
		text, _ := completionText(t, out)
		return text
	}
	for i, c := range cases {
		if got := run(i, c.body); got != want[i] {
			t.Errorf("case %d alone: %q, generate %q", i, got, want[i])
		}
	}
	// Three of each at once.
	var wg sync.WaitGroup
	got := make([]string, 3*len(cases))
	for i := range got {
		wg.Go(func() { got[i] = run(i%len(cases), cases[i%len(cases)].body) })
	}
	wg.Wait()
	for i, g := range got {
		if g != want[i%len(cases)] {
			t.Errorf("request %d (case %d) batched: %q, generate %q", i, i%len(cases), g, want[i%len(cases)])
		}
	}
	if peak := metricValue(t, get(t, ts.URL+"/metrics"), "golora_running_sequences_peak"); peak < 2 {
		t.Errorf("the concurrent requests never ran together (peak batch %g)", peak)
	}
	// Sampling with a seed draws what generate draws with that seed.
	sampled := f.generated(t, cases[1].specs, prompt, generate.Options{MaxTokens: 30, Temperature: 0.9, TopK: 20, Seed: 42})
	code, out := post(t, ts.URL+"/v1/completions", map[string]any{"model": "pirate", "prompt": prompt, "max_tokens": 30, "temperature": 0.9, "top_k": 20, "seed": 42})
	if text, _ := completionText(t, out); code != http.StatusOK || text != sampled {
		t.Errorf("seeded sample: %d %q, generate %q", code, text, sampled)
	}
}

// TestRepetitionPenalty: a greedy completion with repetition_penalty is
// what generate produces with that penalty (and not the completion
// without it); a penalty that is not positive is refused.
func TestRepetitionPenalty(t *testing.T) {
	f := newFixture(t)
	_, ts := f.start(t, nil)
	prompt := []int{5, 9, 14, 2, 7}
	specs := f.cases()[1].specs
	plain := f.generated(t, specs, prompt, generate.Options{MaxTokens: 40})
	want := f.generated(t, specs, prompt, generate.Options{MaxTokens: 40, RepetitionPenalty: 1.8})
	if want == plain {
		t.Fatalf("the penalty changes nothing: %q", want)
	}
	code, out := post(t, ts.URL+"/v1/completions", map[string]any{"model": "pirate", "prompt": prompt, "max_tokens": 40,
		"temperature": 0, "repetition_penalty": 1.8})
	if text, _ := completionText(t, out); code != http.StatusOK || text != want {
		t.Errorf("repetition_penalty 1.8: %d %q, generate %q", code, text, want)
	}
	if code, out := post(t, ts.URL+"/v1/completions", map[string]any{"model": "pirate", "prompt": prompt, "repetition_penalty": 0}); code != http.StatusBadRequest {
		t.Errorf("repetition_penalty 0: %d %v", code, out)
	}
}

// TestEnableThinking: chat_template_kwargs.enable_thinking reaches the
// chat template.
func TestEnableThinking(t *testing.T) {
	f := newFixture(t)
	tmpl := `{% for m in messages %}{{ m.content }}{% endfor %}{% if enable_thinking is defined and not enable_thinking %} the quick{% endif %}`
	if err := os.WriteFile(filepath.Join(f.model, "chat_template.jinja"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ts := f.start(t, nil)
	var prompts []float64
	for _, kw := range []map[string]any{{}, {"enable_thinking": true}, {"enable_thinking": false}} {
		code, out := post(t, ts.URL+"/v1/chat/completions", map[string]any{"model": "tiny", "max_tokens": 1,
			"messages": []map[string]string{{"role": "user", "content": "the fox"}}, "chat_template_kwargs": kw})
		u, _ := out["usage"].(map[string]any)
		if code != http.StatusOK || u == nil {
			t.Fatalf("%v: %d %v", kw, code, out)
		}
		prompts = append(prompts, u["prompt_tokens"].(float64))
	}
	if prompts[0] != prompts[1] || prompts[2] <= prompts[0] {
		t.Errorf("prompt tokens without, with enable_thinking true, false: %v", prompts)
	}
}

// TestOpenAIClient talks to the server with the official Go client.
func TestOpenAIClient(t *testing.T) {
	f := newFixture(t)
	_, ts := f.start(t, func(c *Config) { c.APIKey = "sekret" })
	ctx := context.Background()
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("sekret"), option.WithMaxRetries(0))

	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "tiny,pirate,poet" {
		t.Errorf("models %v", ids)
	}

	params := openai.ChatCompletionNewParams{
		Model:       "pirate",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("the quick brown fox")},
		MaxTokens:   openai.Int(12),
		Temperature: openai.Float(0),
	}
	whole, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	c := whole.Choices[0]
	if c.Message.Role != "assistant" || (c.FinishReason != "stop" && c.FinishReason != "length") ||
		whole.Usage.CompletionTokens < 1 || whole.Usage.CompletionTokens > 12 || whole.Usage.PromptTokens < 5 ||
		whole.Usage.TotalTokens != whole.Usage.PromptTokens+whole.Usage.CompletionTokens {
		t.Errorf("chat completion %+v, usage %+v", c, whole.Usage)
	}
	if c.FinishReason == "length" && whole.Usage.CompletionTokens != 12 {
		t.Errorf("finish length after %d tokens", whole.Usage.CompletionTokens)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var text strings.Builder
	var finish string
	var streamed openai.CompletionUsage
	for stream.Next() {
		ch := stream.Current()
		for _, c := range ch.Choices {
			text.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
		if ch.Usage.TotalTokens > 0 {
			streamed = ch.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != c.Message.Content || finish != c.FinishReason ||
		streamed.PromptTokens != whole.Usage.PromptTokens || streamed.CompletionTokens != whole.Usage.CompletionTokens || streamed.TotalTokens != whole.Usage.TotalTokens {
		t.Errorf("streamed %q (%s, %+v), whole %q (%s, %+v)", text.String(), finish, streamed, c.Message.Content, c.FinishReason, whole.Usage)
	}

	comp, err := client.Completions.New(ctx, openai.CompletionNewParams{
		Model:     "tiny",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("the quick")},
		MaxTokens: openai.Int(6), Temperature: openai.Float(0)})
	if err != nil {
		t.Fatal(err)
	}
	if comp.Choices[0].Text == "" || comp.Usage.CompletionTokens != 6 || comp.Choices[0].FinishReason != "length" {
		t.Errorf("completion %+v usage %+v", comp.Choices[0], comp.Usage)
	}

	for _, tc := range []struct {
		params openai.ChatCompletionNewParams
		status int
		param  string
	}{
		{openai.ChatCompletionNewParams{Model: "nobody", Messages: params.Messages}, http.StatusNotFound, "model"},
		{openai.ChatCompletionNewParams{Model: "tiny", Messages: params.Messages, N: openai.Int(2)}, http.StatusBadRequest, "n"},
		{openai.ChatCompletionNewParams{Model: "tiny", Messages: params.Messages, MaxTokens: openai.Int(1000)}, http.StatusBadRequest, "max_tokens"},
		{openai.ChatCompletionNewParams{Model: "tiny", Messages: params.Messages, TopP: openai.Float(1.5)}, http.StatusBadRequest, "top_p"},
	} {
		_, err := client.Chat.Completions.New(ctx, tc.params)
		var e *openai.Error
		if !errors.As(err, &e) || e.StatusCode != tc.status || e.Param != tc.param || e.Message == "" {
			t.Errorf("%+v: error %v, want status %d naming %q", tc.params, err, tc.status, tc.param)
		}
	}
	bad := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err = bad.Models.List(ctx)
	var e *openai.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: %v", err)
	}
	if resp, err := http.Get(ts.URL + "/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("health without a key: %v %v", resp, err)
	}
}

// TestErrors: bad fields are 400s naming the field; a full queue is 429.
func TestErrors(t *testing.T) {
	f := newFixture(t)
	s, ts := f.start(t, func(c *Config) { c.MaxBatch, c.MaxQueue = 1, 1 })
	for _, tc := range []struct {
		body  string
		code  int
		param string
	}{
		{`{"model":"tiny","prompt":"x","max_tokens":"many"}`, 400, "max_tokens"},
		{`{"model":"tiny","prompt":"x","stop":5}`, 400, "stop"},
		{`{"model":"tiny","prompt":[1,99999]}`, 400, "prompt"},
		{`{"model":"tiny","prompt":"x","adapters":[{"name":"ghost"}]}`, 404, "adapters[0].name"},
		{`{"prompt":"x"}`, 400, "model"},
		{`{"model":"tiny","prompt":{}}`, 400, "prompt"},
		{`{"model":`, 400, ""},
		{`{"model":"tiny","prompt":[` + strings.Repeat("1,", 127) + `1]}`, 400, "prompt"}, // the context is 128
		{`{"model":"tiny","prompt":"x","max_tokens":0}`, 400, "max_tokens"},
		{`{"model":"tiny","prompt":"x","min_p":2}`, 400, "min_p"},
	} {
		resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Error apiError }
		decodeJSON(t, resp, &out)
		p := ""
		if out.Error.Param != nil {
			p = *out.Error.Param
		}
		if resp.StatusCode != tc.code || p != tc.param || out.Error.Message == "" || out.Error.Type == "" {
			t.Errorf("%s: %d %+v (param %q), want %d naming %q", tc.body, resp.StatusCode, out.Error, p, tc.code, tc.param)
		}
	}
	// Hold the scheduler: one request waits in the queue, the next is refused.
	release := make(chan struct{})
	held := make(chan struct{})
	go s.sched.do(func() error { close(held); <-release; return nil })
	<-held
	first := make(chan int)
	go func() {
		code, _ := post(t, ts.URL+"/v1/completions", map[string]any{"model": "tiny", "prompt": "the", "max_tokens": 2})
		first <- code
	}()
	for len(s.sched.queue) == 0 {
		runtimeGosched()
	}
	resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"tiny","prompt":"the","max_tokens":2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("full queue: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("queued request: %d", code)
	}
	metrics := get(t, ts.URL+"/metrics")
	for _, want := range []string{`golora_requests_total{route="POST /v1/completions",code="429"} 1`, "golora_generation_tokens_total 2",
		"golora_time_to_first_token_seconds_count 1", "golora_inter_token_latency_seconds_count 1", "golora_queue_depth 0", "golora_running_sequences"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
}

// TestStopStrings: the completion ends before the first stop string, in
// whole and streamed answers alike.
func TestStopStrings(t *testing.T) {
	f := newFixture(t)
	_, ts := f.start(t, nil)
	body := map[string]any{"model": "poet", "prompt": "the quick", "max_tokens": 30, "temperature": 0}
	_, out := post(t, ts.URL+"/v1/completions", body)
	full, _ := completionText(t, out)
	if len(full) < 6 {
		t.Fatalf("completion %q too short to cut", full)
	}
	stop := ""
	for i := len(full) / 3; i < len(full) && stop == ""; i++ {
		if c := full[i]; c >= ' ' && c <= '~' {
			stop = full[i : i+1]
		}
	}
	if stop == "" {
		t.Fatalf("no ASCII character in %q to stop at", full)
	}
	want := full[:strings.Index(full, stop)]
	body["stop"] = []string{"never there", stop}
	_, out = post(t, ts.URL+"/v1/completions", body)
	if text, finish := completionText(t, out); text != want || finish != "stop" {
		t.Errorf("stop %q: %q (%s), want %q (stop) from %q", stop, text, finish, want, full)
	}
	body["stream"] = true
	resp := postRaw(t, ts.URL+"/v1/completions", body)
	var text strings.Builder
	evs := events(t, resp.Body)
	for _, e := range evs[:len(evs)-1] {
		var c struct {
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := jsonUnmarshal(e, &c); err != nil {
			t.Fatal(err)
		}
		text.WriteString(c.Choices[0].Text)
	}
	if text.String() != want || evs[len(evs)-1] != "[DONE]" {
		t.Errorf("streamed %q, want %q; events %q", text.String(), want, evs)
	}
}

// TestAdaptersAtRunTime: POST /v1/adapters loads only from inside the
// adapters directory; DELETE unloads.
func TestAdaptersAtRunTime(t *testing.T) {
	f := newFixture(t)
	_, off := f.start(t, func(c *Config) { c.Adapters = nil })
	if code, _ := post(t, off.URL+"/v1/adapters", map[string]any{"name": "p", "path": "pirate"}); code != http.StatusForbidden {
		t.Errorf("without an adapters directory: %d", code)
	}
	root := t.TempDir()
	if err := os.Rename(filepath.Join(f.adapters, "pirate"), filepath.Join(root, "pirate")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(f.adapters, "poet"), filepath.Join(root, "outside")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "pirate"), filepath.Join(root, "inside")); err != nil {
		t.Fatal(err)
	}
	_, ts := f.start(t, func(c *Config) { c.Adapters, c.AdaptersDir = nil, root })
	for _, path := range []string{"../" + filepath.Base(f.adapters) + "/poet", filepath.Join(f.adapters, "poet"), "outside", "pirate/../../x", "missing"} {
		if code, out := post(t, ts.URL+"/v1/adapters", map[string]any{"name": "x", "path": path}); code != http.StatusBadRequest {
			t.Errorf("path %q: %d %v", path, code, out)
		}
	}
	for _, name := range []string{"pirate", "alias"} {
		path := map[string]string{"pirate": "pirate", "alias": "inside"}[name]
		if code, out := post(t, ts.URL+"/v1/adapters", map[string]any{"name": name, "path": path, "scale": 0.5}); code != http.StatusOK {
			t.Fatalf("load %s: %d %v", name, code, out)
		}
	}
	if models := get(t, ts.URL+"/v1/models"); !strings.Contains(models, `"pirate"`) || !strings.Contains(models, `"alias"`) {
		t.Errorf("models after loading: %s", models)
	}
	if code, out := post(t, ts.URL+"/v1/completions", map[string]any{"model": "pirate", "prompt": "the", "max_tokens": 3}); code != http.StatusOK {
		t.Errorf("completion with a loaded adapter: %d %v", code, out)
	}
	req, _ := http.NewRequest(http.MethodDelete, ts.URL+"/v1/adapters/pirate", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("delete: %v %v", resp, err)
	}
	if code, _ := post(t, ts.URL+"/v1/completions", map[string]any{"model": "pirate", "prompt": "the", "max_tokens": 3}); code != http.StatusNotFound {
		t.Errorf("completion with an unloaded adapter: %d", code)
	}
	if models := get(t, ts.URL+"/v1/models"); strings.Contains(models, `"pirate"`) {
		t.Errorf("models after unloading: %s", models)
	}
}

// TestDetokenizer: text is held back while it may begin a stop string or
// ends inside a character, and cut before the first stop string.
func TestDetokenizer(t *testing.T) {
	tok, err := tokenizer.TrainByteLevel([]byte("abc abd é"), 256+3, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode("xab abd é abc", false)
	if err != nil {
		t.Fatal(err)
	}
	d := newDetokenizer(tok, []string{"abc"})
	var got []string
	var stopped bool
	for _, id := range ids {
		out, st := d.add(id)
		got = append(got, out)
		if st {
			stopped = true
			break
		}
		if strings.Contains(strings.Join(got, ""), "\uFFFD") {
			t.Fatalf("gave out half a character: %q", got)
		}
	}
	if s := strings.Join(got, ""); !stopped || s != "xab abd é " {
		t.Errorf("got %q (stopped %v), want %q", s, stopped, "xab abd é ")
	}
}

// TestDetokenizerIncremental: a byte-level BPE (GPT-2's) and a
// SentencePiece-style one with byte fallback and a stripped leading space
// (Llama 2's) give out, token by token, exactly the text of the whole
// completion, never half a character (characters of 2, 3 and 4 bytes
// split over tokens), and stop at a stop string that spans tokens; each
// token decodes a window of a few tokens, not the completion again.
func TestDetokenizerIncremental(t *testing.T) {
	const text = "Héllo wörld, 日本語 🙂🙂 naïve café — the end, the end. STOP here and more"
	for _, name := range []string{"gpt2", "llama2"} {
		t.Run(name, func(t *testing.T) {
			tok, _ := tokenizertest.Load(t, name)
			ids, err := tok.Encode(text, false)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ids...) // a longer completion: the window must not grow with it
			whole, err := tok.Decode(ids, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, stops := range [][]string{nil, {"STOP"}} {
				d := newDetokenizer(tok, stops)
				decoded := 0
				decode := d.decode
				d.decode = func(ids []int) (string, error) { decoded += len(ids); return decode(ids) }
				var got strings.Builder
				stopped := false
				for _, id := range ids {
					out, st := d.add(id)
					if strings.Contains(out, "\uFFFD") {
						t.Fatalf("stops %q: gave out half a character: %q", stops, out)
					}
					got.WriteString(out)
					if stopped = st; st {
						break
					}
				}
				if !stopped {
					got.WriteString(d.flush())
				}
				want := whole
				if stops != nil {
					want = whole[:strings.Index(whole, "STOP")]
				}
				if got.String() != want || stopped != (stops != nil) {
					t.Errorf("stops %q: got %q (stopped %v), want %q", stops, got.String(), stopped, want)
				}
				if decoded > 8*len(ids) {
					t.Errorf("stops %q: %d tokens decoded for %d tokens: the whole text again per token", stops, decoded, len(ids))
				}
			}
		})
	}
}

// TestPage: GET / is the chat page, with nothing loaded from elsewhere,
// open without the API key.
func TestPage(t *testing.T) {
	f := newFixture(t)
	_, ts := f.start(t, func(c *Config) { c.APIKey = "k" })
	resp, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	html := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(html, "/v1/chat/completions") || !strings.Contains(html, "/v1/models") {
		t.Errorf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, ext := range []string{"http://", "https://", "src=", "//"} {
		if strings.Contains(html, ext) {
			t.Errorf("the page refers to something outside it: %q", ext)
		}
	}
	if resp, err := http.Get(ts.URL + "/v1/models"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("models without the key: %v %v", resp, err)
	}
}

// TestTimeout: a request over the time limit is answered 504.
func TestTimeout(t *testing.T) {
	f := newFixture(t)
	_, ts := f.start(t, func(c *Config) { c.Timeout = time.Nanosecond })
	code, out := post(t, ts.URL+"/v1/completions", map[string]any{"model": "tiny", "prompt": "the", "max_tokens": 50})
	if e, _ := out["error"].(map[string]any); code != http.StatusGatewayTimeout || e == nil || e["type"] != "timeout_error" {
		t.Errorf("%d %v", code, out)
	}
}

func TestLoading(t *testing.T) {
	for path, want := range map[string]int{"/health": http.StatusServiceUnavailable, "/v1/models": http.StatusServiceUnavailable} {
		rec := httptest.NewRecorder()
		Loading().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want || !strings.Contains(rec.Body.String(), "loading") {
			t.Errorf("%s while loading: %d %s", path, rec.Code, rec.Body)
		}
	}
}
