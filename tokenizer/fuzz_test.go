package tokenizer

import (
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzParse: any tokenizer.json bytes give a tokenizer or an error, never a
// panic; a tokenizer that loads can encode and decode without panicking.
func FuzzParse(f *testing.F) {
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

// FuzzByteLevelRoundTrip: GPT-2 encoding is lossless and matches the
// pieces the split makes.
func FuzzByteLevelRoundTrip(f *testing.F) {
	tk := loadFixture(f, "gpt2", nil)
	f.Add("Hello  world's 123 日本 \n\t x <|endoftext|>")
	f.Add("\u00a0\u0085\ufeff")
	f.Fuzz(func(t *testing.T, s string) {
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
	})
}
