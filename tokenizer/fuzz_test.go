package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golora/golora/chat"
)

// FuzzParse: any tokenizer.json and tokenizer_config.json bytes give a
// tokenizer or an error naming one of the two files, never a panic; a
// tokenizer that loads can encode and decode without panicking. Seeds:
// testdata/trained (a small real tokenizer.json), the fixtures'
// tokenizer_config.json files, and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	trained, err := os.ReadFile(filepath.Join("testdata", "trained", "tokenizer.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, cfg := range fixtureConfigs(f) {
		f.Add(trained, cfg, "Hello <s> wörld\n")
	}
	f.Add([]byte(spTokenizer), []byte(`{"bos_token": "<s>"}`), "ab x<s>é")
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]},
		"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\s+(?!\\S)|a+"}, "behavior": "MergedWithNext", "invert": true}}`), []byte(nil), "aab  ab")
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": {"type": "NFKC"},
		"pre_tokenizer": {"type": "Metaspace", "prepend_scheme": "first"}, "decoder": {"type": "Metaspace"}}`), []byte(`{}`), "ﬁ x")
	f.Fuzz(func(t *testing.T, js, cfg []byte, text string) {
		if len(js) > 1<<16 {
			return
		}
		tk, err := parse(js, "f.json", cfg, "c.json", nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.json: ") && !strings.HasPrefix(err.Error(), "c.json: ") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		ids, err := tk.Encode(text, true)
		if err != nil {
			return // invalid UTF-8, or a pattern over its step budget
		}
		if _, err := tk.Decode(ids, false); err != nil {
			t.Fatalf("Decode(Encode(%q)) = %v", text, err)
		}
	})
}

// fixtureConfigs returns the bytes of every testdata/*/tokenizer_config.json.
func fixtureConfigs(tb testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "tokenizer_config.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no tokenizer_config.json fixtures: %v", err)
	}
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzConfig: any tokenizer_config.json bytes beside a real tokenizer.json
// (testdata/trained, a byte-level BPE, given the fixtures' special tokens
// as added tokens) give a tokenizer or an error naming the config file,
// never a panic; the tokenizer that loads encodes and decodes, losslessly
// unless the config asks for clean_up_tokenization_spaces, and its chat
// template (if any) parses or errors and renders the same conversation the
// same way twice. Seeds: the fixtures' tokenizer_config.json files and
// testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	var spec map[string]any
	b, err := os.ReadFile(filepath.Join("testdata", "trained", "tokenizer.json"))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		f.Fatal(err)
	}
	added, _ := spec["added_tokens"].([]any) // ids 998, 999 after the model's vocabulary
	seen := map[string]bool{"<|endoftext|>": true, "<pad>": true}
	for i, cfg := range fixtureConfigs(f) {
		var toks struct {
			BOS json.RawMessage `json:"bos_token"`
			EOS json.RawMessage `json:"eos_token"`
		}
		if err := json.Unmarshal(cfg, &toks); err != nil {
			f.Fatal(err)
		}
		for _, raw := range []json.RawMessage{toks.BOS, toks.EOS} {
			if tok, ok, _ := configToken(raw, ""); ok && !seen[tok] {
				seen[tok] = true
				added = append(added, map[string]any{"id": 998 + len(added), "content": tok, "special": true})
			}
		}
		f.Add(cfg, "Hi <|endoftext|>  there\n\nok "+strconv.Itoa(i))
	}
	spec["added_tokens"] = added
	js, err := json.Marshal(spec)
	if err != nil {
		f.Fatal(err)
	}
	base, err := parse(js, "f.json", nil, "", nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"bos_token": {"content": "<s>"}, "add_eos_token": true, "eos_token": "</s>", "chat_template": [{"name": "tool", "template": "x"}, {"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"}]}`), "a")
	f.Fuzz(func(t *testing.T, cfg []byte, text string) {
		tk := *base // tokenizer.json parsed once: the sidecars set fields of their own
		if err := tk.applySidecars(sidecars{cfg: cfg, cfgName: "c.json"}); err != nil {
			if !strings.HasPrefix(err.Error(), "c.json: ") {
				t.Fatalf("error without the config's name: %v", err)
			}
			return
		}
		if !utf8.ValidString(text) {
			return
		}
		if _, err := tk.Encode(text, true); err != nil {
			t.Fatalf("Encode(%q, true): %v", text, err)
		}
		ids, err := tk.Encode(text, false)
		if err != nil {
			t.Fatalf("Encode(%q): %v", text, err)
		}
		back, err := tk.Decode(ids, false)
		if err != nil || !tk.cleanUpSpaces && back != text {
			t.Fatalf("round trip of %q: %q, %v", text, back, err)
		}
		tmpl, vars, err := tk.Chat()
		if err != nil {
			return
		}
		msgs := []chat.Message{{Role: "user", Content: text}, {Role: "assistant", Content: text}}
		out, err1 := tmpl.Render(msgs, vars)
		again, err2 := tmpl.Render(msgs, vars)
		if out != again || (err1 == nil) != (err2 == nil) {
			t.Fatalf("rendering twice differs: %q, %v vs %q, %v", out, err1, again, err2)
		}
	})
}

// FuzzRegex: any pattern compiles or errors, and matching never panics and
// returns ordered, non-overlapping, in-range matches.
func FuzzRegex(f *testing.F) {
	for _, p := range []string{gpt2Pattern, `(?i:'s|'t)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}`, `a(?=b)|(?>c+)d|e*+f|[^\p{Han}a-z]{2,}?`} {
		f.Add(p, "Hello  world's 123 日本 \n\t x")
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if len(pat) > 200 || len(s) > 1000 || !utf8.ValidString(s) {
			return
		}
		re, err := compileRegex(pat)
		if err != nil {
			return
		}
		ms, err := re.findAll(s)
		if err != nil {
			return
		}
		prev := 0
		for _, m := range ms {
			if m[0] < prev || m[1] <= m[0] || m[1] > len(s) {
				t.Fatalf("%q on %q: bad matches %v", pat, s, ms)
			}
			prev = m[1]
		}
	})
}

// FuzzByteLevelRoundTrip: byte-level BPE without a normalizer or space
// clean-up (GPT-2's, GPT-4o's and DeepSeek-V3's, with different
// pre-tokenizer patterns) is lossless: decoding the encoding of any valid
// UTF-8 text gives the text back, and encoding is deterministic.
func FuzzByteLevelRoundTrip(f *testing.F) {
	var tks []*Tokenizer
	for _, name := range []string{"gpt2", "gpt4o", "deepseek_v3"} {
		tks = append(tks, loadFixture(f, name, nil))
	}
	f.Add("Hello  world's 123 日本 \n\t x <|endoftext|>")
	f.Add("\u00a0\u0085\ufeff")
	f.Fuzz(func(t *testing.T, s string) {
		for _, tk := range tks {
			byteLevelRoundTrip(t, tk, s)
		}
	})
}

// byteLevelRoundTrip checks FuzzByteLevelRoundTrip's invariants for one
// tokenizer.
func byteLevelRoundTrip(t *testing.T, tk *Tokenizer, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		if _, err := tk.Encode(s, false); err == nil {
			t.Fatalf("invalid UTF-8 %q accepted", s)
		}
		return
	}
	ids, err := tk.Encode(s, false)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tk.Decode(ids, false)
	if err != nil || back != s {
		t.Fatalf("round trip of %q: %q, %v", s, back, err)
	}
	again, _ := tk.Encode(s, false)
	if !slices.Equal(ids, again) {
		t.Fatalf("encoding %q twice differs", s)
	}
}
