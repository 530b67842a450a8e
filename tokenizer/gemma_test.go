package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// gemmaTokenizer is a tiny tokenizer.json laid out as Gemma's: a
// SentencePiece-style BPE whose normalizer replaces spaces with ▁ but
// prepends none, no pre-tokenizer, byte_fallback, <bos> from the
// post-processor, the turn markers as added special tokens, and a decoder
// chain without Llama's Strip of the first space.
const gemmaTokenizer = `{
  "added_tokens": [
    {"id": 0, "content": "<pad>", "special": true, "normalized": false},
    {"id": 1, "content": "<eos>", "special": true, "normalized": false},
    {"id": 2, "content": "<bos>", "special": true, "normalized": false},
    {"id": 3, "content": "<unk>", "special": true, "normalized": false},
    {"id": 4, "content": "<start_of_turn>", "special": true, "normalized": false},
    {"id": 5, "content": "<end_of_turn>", "special": true, "normalized": false}
  ],
  "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
  "pre_tokenizer": null,
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
      {"SpecialToken": {"id": "<bos>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"<bos>": {"id": "<bos>", "ids": [2], "tokens": ["<bos>"]}}},
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"}]},
  "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
    "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
    "vocab": {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<start_of_turn>": 4, "<end_of_turn>": 5,
      "▁": 6, "a": 7, "b": 8, "ab": 9, "▁ab": 10, "<0xC3>": 11, "<0xA9>": 12, "\n": 13,
      "u": 14, "s": 15, "e": 16, "r": 17, "us": 18, "er": 19, "user": 20},
    "merges": ["a b", "▁ ab", "u s", "e r", "us er"]}
}`

// TestGemmaStyle: no ▁ is prepended (a leading word is "ab", not "▁ab";
// spaces become ▁ where they are), bytes fall back to <0x..> tokens, the
// turn markers split the text, and decoding keeps a leading space. The
// same holds with the Split(" ", merged_with_previous) pre-tokenizer that
// transformers' GemmaTokenizer conversion writes (a no-op after the
// normalizer).
func TestGemmaStyle(t *testing.T) {
	split := strings.Replace(gemmaTokenizer, `"pre_tokenizer": null`,
		`"pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": false}`, 1)
	if split == gemmaTokenizer {
		t.Fatal("no pre_tokenizer to replace")
	}
	for _, js := range []string{gemmaTokenizer, split} {
		testGemmaStyle(t, mustParse(t, js))
	}
}

func testGemmaStyle(t *testing.T, tk *Tokenizer) {
	for _, c := range []struct {
		in   string
		want []int
	}{
		{"ab", []int{9}},
		{" ab", []int{10}},
		{"ab ab", []int{9, 10}},
		{"é", []int{11, 12}},
		{"x", []int{3}},
		{"<start_of_turn>user\nab<end_of_turn>\n", []int{4, 20, 13, 9, 5, 13}},
	} {
		got, err := tk.Encode(c.in, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	if ids, _ := tk.Encode("ab", true); !slices.Equal(ids, []int{2, 9}) {
		t.Errorf("with BOS: %v", ids)
	}
	for _, c := range []struct {
		ids  []int
		skip bool
		want string
	}{
		{[]int{9, 10}, false, "ab ab"},
		{[]int{10}, false, " ab"},
		{[]int{2, 9, 11, 12, 1}, true, "abé"},
		{[]int{4, 20, 13, 9, 5}, false, "<start_of_turn>user\nab<end_of_turn>"},
	} {
		got, err := tk.Decode(c.ids, c.skip)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("Decode(%v, %v) = %q, want %q", c.ids, c.skip, got, c.want)
		}
	}
	if tk.BOS() != 2 || tk.EOS() != 1 {
		t.Errorf("BOS %d EOS %d", tk.BOS(), tk.EOS())
	}
}
