package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// spTokenizer is a tiny SentencePiece-style BPE: Prepend/Replace
// normalizers, byte_fallback, fuse_unk, and the Llama-2 decoder chain.
const spTokenizer = `{
  "added_tokens": [
    {"id": 0, "content": "<unk>", "special": true, "normalized": false},
    {"id": 1, "content": "<s>", "special": true, "normalized": false},
    {"id": 2, "content": "</s>", "special": true, "normalized": false}
  ],
  "normalizer": {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "▁"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
  "pre_tokenizer": null,
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "b": 5, "ab": 6, "▁ab": 7, "<0xC3>": 8, "<0xA9>": 9},
    "merges": ["a b", "▁ ab"]}
}`

func mustParse(t *testing.T, js string) *Tokenizer {
	t.Helper()
	tk, err := parse([]byte(js), "test.json", nil, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestSentencePieceStyle(t *testing.T) {
	tk := mustParse(t, spTokenizer)
	for _, c := range []struct {
		in   string
		want []int
	}{
		{"", []int{}},
		{"ab", []int{7}},
		{"ab ab", []int{7, 7}},
		{"é", []int{3, 8, 9}},           // byte fallback
		{"x", []int{3, 0}},              // unknown, no byte tokens
		{"xyz", []int{3, 0}},            // fused unknowns
		{"xéy", []int{3, 8, 9, 0}},      // byte tokens do not flush a pending unk (as in HF)
		{"<s>ab", []int{1, 7}},          // added token split before normalizing
		{"ab</s>", []int{7, 2}},         // ...and after
		{"a<s>b", []int{3, 4, 1, 3, 5}}, // each piece gets its ▁
	} {
		got, err := tk.Encode(c.in, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	ids, _ := tk.Encode("ab", true)
	if !slices.Equal(ids, []int{1, 7}) {
		t.Errorf("with BOS: %v", ids)
	}
	for _, c := range []struct {
		ids  []int
		skip bool
		want string
	}{
		{[]int{7, 7}, false, "ab ab"},
		{[]int{1, 7, 2}, false, "<s> ab</s>"},
		{[]int{1, 7, 2}, true, "ab"},
		{[]int{3, 8, 9}, false, "é"},
		{[]int{3, 8}, false, "\uFFFD"}, // a cut UTF-8 sequence
		{[]int{}, false, ""},
	} {
		got, err := tk.Decode(c.ids, c.skip)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("Decode(%v, %v) = %q, want %q", c.ids, c.skip, got, c.want)
		}
	}
	if tk.BOS() != 1 || tk.EOS() != 2 || tk.VocabSize() != 10 {
		t.Errorf("BOS %d EOS %d VocabSize %d", tk.BOS(), tk.EOS(), tk.VocabSize())
	}
	if id, ok := tk.TokenID("▁ab"); !ok || id != 7 || tk.Token(7) != "▁ab" || tk.Token(99) != "" || tk.Token(-1) != "" {
		t.Error("TokenID/Token")
	}
	if !tk.IsSpecial(1) || tk.IsSpecial(7) {
		t.Error("IsSpecial")
	}
}

// addedTokenizer has added tokens with the lstrip, rstrip and single_word
// options, and a normalized added token, over a byte-level model.
func addedTokenizer(t *testing.T) *Tokenizer {
	var b bytes.Buffer
	b.WriteString(`{"added_tokens": [
	  {"id": 256, "content": "<L>", "lstrip": true, "special": true, "normalized": false},
	  {"id": 257, "content": "<R>", "rstrip": true, "special": true, "normalized": false},
	  {"id": 258, "content": "cat", "single_word": true, "special": false, "normalized": false},
	  {"id": 259, "content": "DOG", "special": false, "normalized": true},
	  {"id": 260, "content": "<LONG>", "special": true, "normalized": false},
	  {"id": 261, "content": "<LON", "special": true, "normalized": false}],
	 "normalizer": {"type": "Lowercase"},
	 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
	 "decoder": {"type": "ByteLevel"},
	 "model": {"type": "BPE", "merges": [], "vocab": {`)
	for i := 0; i < 256; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		j, _ := json.Marshal(string(byteToRune[i]))
		b.Write(j)
		b.WriteString(":")
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteString("}}}")
	return mustParse(t, b.String())
}

func TestAddedTokenOptions(t *testing.T) {
	tk := addedTokenizer(t)
	for _, c := range []struct {
		in   string
		want []int
	}{
		{"a <L>", []int{'a', 256}},          // lstrip eats the space before
		{"a  \t<L>b", []int{'a', 256, 'b'}}, // all of it
		{"<R>  b", []int{257, 'b'}},         // rstrip eats the spaces after
		{"a cat b", []int{'a', ' ', 258, ' ', 'b'}},
		{"acat", []int{'a', 'c', 'a', 't'}}, // single_word: not inside a word
		{"cat!", []int{258, '!'}},
		{"a dog", []int{'a', ' ', 259}}, // normalized token: matched after lowercasing
		{"a DOG", []int{'a', ' ', 259}},
		{"<LONG>", []int{260}}, // longest match wins
		{"<LONx", []int{261, 'x'}},
		{"<L><R>", []int{256, 257}},
	} {
		got, err := tk.Encode(c.in, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestSplitBehaviors(t *testing.T) {
	s := "The-final--countdown"
	ms, _ := (&pattern{lit: "-"}).findAll(s)
	for _, c := range []struct {
		beh    splitBehavior
		invert bool
		want   []string
	}{
		{behRemoved, false, []string{"The", "final", "countdown"}},
		{behIsolated, false, []string{"The", "-", "final", "-", "-", "countdown"}},
		{behMergedWithPrevious, false, []string{"The-", "final-", "-", "countdown"}},
		{behMergedWithNext, false, []string{"The", "-final", "-", "-countdown"}},
		{behContiguous, false, []string{"The", "-", "final", "--", "countdown"}},
		{behRemoved, true, []string{"-", "-", "-"}},
	} {
		var got []string
		emitSpans(s, true, splitSpans(s, ms, c.beh, c.invert), func(p string, _ bool) { got = append(got, p) })
		if !slices.Equal(got, c.want) {
			t.Errorf("behavior %d invert %v: %q, want %q", c.beh, c.invert, got, c.want)
		}
	}
}

func TestMetaspacePrependFirst(t *testing.T) {
	m := metaspacePreTokenizer{replacement: "▁", scheme: prependFirst, split: true}
	var got []string
	emit := func(s string, _ bool) { got = append(got, s) }
	m.preTokenize("Hey  friend", true, emit)
	m.preTokenize("how are", false, emit)
	want := []string{"▁Hey", "▁", "▁friend", "how", "▁are"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDecoders(t *testing.T) {
	toks := []string{"▁▁Hey", "▁you"}
	if got := (metaspaceDecoder{replacement: '▁', dropFirst: true}).decodeChain(toks); !slices.Equal(got, []string{"Hey", " you"}) {
		t.Errorf("metaspace: %q", got)
	}
	if got := (stripDecoder{content: ' ', start: 1, stop: 2}).decodeChain([]string{"  a  ", " ", "b"}); !slices.Equal(got, []string{" a", "", "b"}) {
		t.Errorf("strip: %q", got)
	}
	if got := (byteFallbackDecoder{}).decodeChain([]string{"<0x41>", "<0xE6>", "<0x97>", "x", "<0xE6>"}); !slices.Equal(got, []string{"\uFFFD", "\uFFFD", "\uFFFD", "x", "\uFFFD"}) {
		t.Errorf("byte fallback: %q", got)
	}
	if got := lossyUTF8([]byte("a\xe6\x97b\xffc\xf0\x9f\x98")); got != "a\uFFFDb\uFFFDc\uFFFD" {
		t.Errorf("lossy: %q", got)
	}
}

func TestInvalidUTF8Refused(t *testing.T) {
	tk := loadFixture(t, "gpt2", nil)
	for _, s := range []string{"\xff", "abc\xc3", "\xed\xa0\x80", "ok \xe2\x82"} {
		if _, err := tk.Encode(s, false); err == nil || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("Encode(%q): err = %v", s, err)
		}
	}
	if _, err := tk.Decode([]int{50257}, false); err == nil {
		t.Error("Decode of an id past the vocabulary succeeded")
	}
	if _, err := tk.Decode([]int{-1}, false); err == nil {
		t.Error("Decode of -1 succeeded")
	}
}

func TestFixtureProperties(t *testing.T) {
	for _, c := range []struct {
		name            string
		vocab, bos, eos int
		pad             int
		chat            bool
		tokenID         string
		wantID          int
	}{
		{"gpt2", 50257, 50256, 50256, -1, false, "Ġthe", 262},
		{"llama2", 32000, 1, 2, -1, false, "▁the", 272},
		{"llama3", 128256, 128000, 128001, -1, true, "<|eot_id|>", 128009},
		{"qwen3", 151669, -1, 151645, 151643, true, "<|im_start|>", 151644},
	} {
		tk := loadFixture(t, c.name, nil)
		if tk.VocabSize() != c.vocab || tk.BOS() != c.bos || tk.EOS() != c.eos || tk.Pad() != c.pad || (tk.ChatTemplate() != "") != c.chat {
			t.Errorf("%s: VocabSize %d BOS %d EOS %d Pad %d chat %v", c.name, tk.VocabSize(), tk.BOS(), tk.EOS(), tk.Pad(), tk.ChatTemplate() != "")
		}
		if id, ok := tk.TokenID(c.tokenID); !ok || id != c.wantID || tk.Token(id) != c.tokenID {
			t.Errorf("%s: TokenID(%q) = %d, %v", c.name, c.tokenID, id, ok)
		}
	}
}

func TestLoadDirAndFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), fixtureJSON(t, "llama2"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join("testdata", "llama2", "tokenizer_config.json"))
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte("{{ messages }}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "tokenizer.json")} {
		tk, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := tk.Encode("Hello", true)
		if !slices.Equal(ids, []int{1, 22557}) || tk.ChatTemplate() != "{{ messages }}" {
			t.Errorf("Load(%s): %v %q", p, ids, tk.ChatTemplate())
		}
		out := t.TempDir()
		if err := tk.Save(out); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"} {
			a, _ := os.ReadFile(filepath.Join(dir, f))
			b, err := os.ReadFile(filepath.Join(out, f))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("Save: %s differs (%v)", f, err)
			}
		}
	}
	// add_bos_token: false in tokenizer_config.json turns BOS off.
	cfg2 := bytes.Replace(cfg, []byte(`"add_bos_token": true`), []byte(`"add_bos_token": false`), 1)
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg2, 0o644)
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := tk.Encode("Hello", true); !slices.Equal(ids, []int{22557}) {
		t.Errorf("add_bos_token false: %v", ids)
	}
	// bos_token and eos_token only in special_tokens_map.json (older models).
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"add_bos_token": true, "add_eos_token": true}`), 0o644)
	os.WriteFile(filepath.Join(dir, "special_tokens_map.json"), []byte(`{"bos_token": {"content": "</s>"}, "eos_token": "<unk>"}`), 0o644)
	tk, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := tk.Encode("Hello", true); !slices.Equal(ids, []int{2, 22557, 0}) || tk.BOS() != 2 || tk.EOS() != 0 {
		t.Errorf("special_tokens_map.json: %v BOS %d EOS %d", ids, tk.BOS(), tk.EOS())
	}
	out := t.TempDir()
	if err := tk.Save(out); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "special_tokens_map.json")); err != nil || !bytes.Contains(b, []byte("</s>")) {
		t.Errorf("Save: special_tokens_map.json: %s %v", b, err)
	}
	os.WriteFile(filepath.Join(dir, "special_tokens_map.json"), []byte(`{"bos_token": "<nope>"}`), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "special_tokens_map.json: bos_token") {
		t.Errorf("bad special_tokens_map.json: %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no tokenizer.json") {
		t.Errorf("empty dir: %v", err)
	}
	spDir := t.TempDir()
	os.WriteFile(filepath.Join(spDir, "tokenizer.model"), []byte("x"), 0o644)
	if _, err := Load(spDir); err == nil || !strings.Contains(err.Error(), "tokenizer.model") {
		t.Errorf("sentencepiece dir: %v", err)
	}
}

// TestBadInput checks that malformed files give errors naming the file
// and the field, never a panic.
func TestBadInput(t *testing.T) {
	base := func(model string) string {
		return `{"added_tokens": [], "normalizer": null, "pre_tokenizer": null, "model": ` + model + `}`
	}
	okModel := `{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}`
	for _, c := range []struct {
		js, want string
	}{
		{`{`, "not valid JSON"},
		{`{"added_tokens": []}`, "model: missing"},
		{base(`{"type": "WordPiece", "vocab": {}}`), `model.type: "WordPiece" tokenizers are not supported`},
		{base(`{"type": "Unigram", "vocab": []}`), `model.type: "Unigram" tokenizers are not supported`},
		{base(`{"type": "Magic"}`), `unknown model type "Magic"`},
		{base(`{"type": "BPE", "merges": []}`), "model.vocab: missing"},
		{base(`{"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}`), `model.merges[0]: token "b" is not in model.vocab`},
		{base(`{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}`), `model.merges[0]: merged token "ab"`},
		{base(`{"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}`), `model.merges[0]: "ab" is not two tokens`},
		{base(`{"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}`), `model.merges[0]`},
		{base(`{"type": "BPE", "vocab": {"a": -3}, "merges": []}`), `model.vocab["a"]: id -3 out of range`},
		{base(`{"type": "BPE", "vocab": {"a": 2000000000}, "merges": []}`), `model.vocab["a"]: id 2000000000 out of range`},
		{base(`{"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}`), `model.unk_token: "<unk>" is not in model.vocab`},
		{base(`{"type": "BPE", "vocab": {}, "merges": [], "dropout": 0.1}`), `model.dropout`},
		{`{"normalizer": {"type": "BertNormalizer"}, "model": ` + okModel + `}`, `normalizer.type: normalizer "BertNormalizer" is not supported`},
		{`{"normalizer": {"type": "Sequence", "normalizers": [{"type": "Precompiled"}]}, "model": ` + okModel + `}`, `normalizer.normalizers[0].type`},
		{`{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(?<=a)"}, "behavior": "Isolated"}, "model": ` + okModel + `}`, `pre_tokenizer.pattern.Regex`},
		{`{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"}, "model": ` + okModel + `}`, `pre_tokenizer.behavior: unknown split behavior "Sideways"`},
		{`{"pre_tokenizer": {"type": "Split", "pattern": {}, "behavior": "Isolated"}, "model": ` + okModel + `}`, `pre_tokenizer.pattern`},
		{`{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "BertPreTokenizer"}]}, "model": ` + okModel + `}`, `pre_tokenizer.pretokenizers[0].type`},
		{`{"pre_tokenizer": {"type": "Metaspace", "prepend_scheme": "sometimes"}, "model": ` + okModel + `}`, `pre_tokenizer.prepend_scheme`},
		{`{"decoder": {"type": "WordPiece"}, "model": ` + okModel + `}`, `decoder.type: decoder "WordPiece" is not supported`},
		{`{"decoder": {"type": "Strip", "content": "ab"}, "model": ` + okModel + `}`, `decoder.content`},
		{`{"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}], "special_tokens": {}}, "model": ` + okModel + `}`, `post_processor.single[0]: special token "<s>"`},
		{`{"post_processor": {"type": "Magic"}, "model": ` + okModel + `}`, `post_processor.type`},
		{`{"added_tokens": [{"content": "x"}], "model": ` + okModel + `}`, `added_tokens[0].id`},
		{`{"added_tokens": [{"id": 99999999999, "content": "x"}], "model": ` + okModel + `}`, `added_tokens[0].id`},
		{`{"added_tokens": [{"id": 5, "content": ""}], "model": ` + okModel + `}`, `added_tokens[0].content`},
		{`{"added_tokens": "x", "model": ` + okModel + `}`, `not valid JSON`},
	} {
		_, err := parse([]byte(c.js), "dir/tokenizer.json", nil, "", nil)
		if err == nil {
			t.Errorf("%s: no error", c.js)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "dir/tokenizer.json: ") {
			t.Errorf("%s:\n got %v\nwant it to name the file and contain %q", c.js, err, c.want)
		}
	}
	okJSON := []byte(base(okModel))
	for _, c := range []struct {
		cfg, want string
	}{
		{`{`, "not valid JSON"},
		{`{"bos_token": "<nope>"}`, `bos_token: "<nope>" is not in the vocabulary`},
		{`{"eos_token": 5}`, `eos_token: want a string`},
		{`{"add_bos_token": true}`, `add_bos_token: true but bos_token is not set`},
		{`{"chat_template": 7}`, `chat_template`},
	} {
		_, err := parse(okJSON, "tokenizer.json", []byte(c.cfg), "m/tokenizer_config.json", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "m/tokenizer_config.json: ") {
			t.Errorf("config %s: %v", c.cfg, err)
		}
	}
	// bos_token as an AddedToken object, chat templates as a list.
	tk, err := parse(okJSON, "tokenizer.json", []byte(`{"bos_token": {"__type": "AddedToken", "content": "ab"}, "eos_token": null,
		"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}`), "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tk.BOS() != 2 || tk.EOS() != -1 || tk.ChatTemplate() != "D" {
		t.Errorf("BOS %d EOS %d chat %q", tk.BOS(), tk.EOS(), tk.ChatTemplate())
	}
}

func TestConcurrentEncode(t *testing.T) {
	tk := loadFixture(t, "llama3", nil)
	cases := loadCases(t, "llama3")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(cases); i += 4 {
				ids, err := tk.Encode(cases[i].Text, false)
				want := cases[i].IDs
				if want == nil {
					want = []int{}
				}
				if err != nil || !slices.Equal(ids, want) {
					t.Errorf("concurrent Encode(%q) = %v, %v", cases[i].Text, ids, err)
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestByteLevelRoundTrip: byte-level BPE is lossless for any valid UTF-8.
func TestByteLevelRoundTrip(t *testing.T) {
	tk := loadFixture(t, "gpt2", nil)
	for _, s := range []string{"", "hello\x00world", "\t\r\n\v\f", "\u0085\ufeff\u2028", "😀👨‍👩‍👧", strings.Repeat("ab ", 100), "\U0010FFFF"} {
		ids, err := tk.Encode(s, true)
		if err != nil {
			t.Fatal(err)
		}
		back, err := tk.Decode(ids, false)
		if err != nil || back != s {
			t.Errorf("round trip of %q: %q, %v", s, back, err)
		}
	}
}
