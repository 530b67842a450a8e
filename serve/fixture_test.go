package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer"
)

// fixture is a tiny random Llama with a byte-level BPE tokenizer, and a
// directory of two random adapters, pirate and poet.
type fixture struct {
	model, adapters string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	f := fixture{model: filepath.Join(t.TempDir(), "tiny"), adapters: t.TempDir()}
	tok, err := tokenizer.TrainByteLevel([]byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 20)), 280, []string{"<|endoftext|>"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(f.model); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":`+strconv.Itoa(tok.VocabSize())+`,
		"hidden_size":32,"intermediate_size":48,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
		"max_position_embeddings":128,"tie_word_embeddings":true}`), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	m := model.NewRandom(cfg, 0.5, 1)
	if err := m.Save(f.model, tensor.F32); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"pirate", "poet"} {
		lc := &lora.Config{R: 4, Alpha: 8, Targets: []string{"all-linear"}}
		if err := lc.Validate(); err != nil {
			t.Fatal(err)
		}
		a, err := lora.New(m, name, lc, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(i), 9))
		for _, l := range a.Modules {
			for j := range l.B.W.F32 {
				l.B.W.F32[j] = float32(r.NormFloat64())
			}
		}
		if err := a.Save(filepath.Join(f.adapters, name)); err != nil {
			t.Fatal(err)
		}
		a.Detach(m)
	}
	return f
}

// start serves the fixture's model with both adapters; change fills in
// the rest of the configuration.
func (f fixture) start(t *testing.T, change func(*Config)) (*Server, *httptest.Server) {
	t.Helper()
	m, err := model.Load(f.model)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(f.model)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Model: m, Tokenizer: tok, Name: "tiny", MaxBatch: 8, MaxQueue: 16, Ctx: 128,
		Adapters: []AdapterSpec{{"pirate", filepath.Join(f.adapters, "pirate"), 1}, {"poet", filepath.Join(f.adapters, "poet"), 1}}}
	if change != nil {
		change(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
		m.Close()
	})
	return s, ts
}

// post sends body as JSON and returns the status and the decoded answer.
func post(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v: %s", url, err, raw)
	}
	return resp.StatusCode, out
}

// events reads a server-sent event stream: the data of each event.
func events(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

// completionText is choices[0].text of a text completion answer.
func completionText(t *testing.T, out map[string]any) (string, string) {
	t.Helper()
	ch, ok := out["choices"].([]any)
	if !ok || len(ch) != 1 {
		t.Fatalf("no choice in %v", out)
	}
	c := ch[0].(map[string]any)
	text, _ := c["text"].(string)
	finish, _ := c["finish_reason"].(string)
	return text, finish
}

func postRaw(t *testing.T, url string, body any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func runtimeGosched() { runtime.Gosched() }

// metricValue reads an unlabelled metric from Prometheus text.
func metricValue(t *testing.T, text, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s in\n%s", name, text)
	return 0
}
