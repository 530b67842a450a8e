package tokenizer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
)

// TestLoadGGUFErrors: GGUF tokenizer metadata golora cannot read is refused
// with the file and the key named.
func TestLoadGGUFErrors(t *testing.T) {
	base := func() []gguf.KV {
		return []gguf.KV{
			{Key: "tokenizer.ggml.model", Value: "gpt2"},
			{Key: "tokenizer.ggml.pre", Value: "gpt-2"},
			{Key: "tokenizer.ggml.tokens", Value: []string{"a", "b", "ab"}},
			{Key: "tokenizer.ggml.token_type", Value: []int32{1, 1, 1}},
			{Key: "tokenizer.ggml.merges", Value: []string{"a b"}},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
		}
	}
	set := func(key string, v any) []gguf.KV {
		meta := base()
		for i := range meta {
			if meta[i].Key == key {
				if v == nil {
					return append(meta[:i], meta[i+1:]...)
				}
				meta[i].Value = v
			}
		}
		return meta
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.gguf")
	if err := gguf.Write(good, base(), nil); err != nil {
		t.Fatal(err)
	}
	tk, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := tk.Encode("ab", false); err != nil || len(ids) != 1 || ids[0] != 2 || tk.EOS() != 2 || tk.BOS() != -1 {
		t.Errorf("Encode(ab) = %v, %v; eos %d bos %d", ids, err, tk.EOS(), tk.BOS())
	}
	for _, c := range []struct {
		name string
		meta []gguf.KV
		want string
	}{
		{"kind", set("tokenizer.ggml.model", "bert"), `tokenizer.ggml.model: "bert" tokenizers are not supported`},
		{"scores", set("tokenizer.ggml.model", "llama"), "tokenizer.ggml.scores: missing, not an ARRAY of FLOAT32, or not one per token (3)"},
		{"pre", set("tokenizer.ggml.pre", "falcon"), `tokenizer.ggml.pre: pre-tokenizer "falcon" is not supported`},
		{"nopre", set("tokenizer.ggml.pre", nil), `"tokenizer.ggml.pre": missing`},
		{"types", set("tokenizer.ggml.token_type", []int32{1}), "tokenizer.ggml.token_type: missing, not an ARRAY of INT32, or not one per token (3)"},
		{"merge", set("tokenizer.ggml.merges", []string{"ab"}), `tokenizer.ggml.merges: [0] "ab" is not two tokens`},
		{"eos", set("tokenizer.ggml.eos_token_id", uint32(3)), "tokenizer.ggml.eos_token_id: 3 is not a token id (3 tokens)"},
	} {
		path := filepath.Join(dir, c.name+".gguf")
		if err := gguf.Write(path, c.meta, nil); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming %s and %q", c.name, err, path, c.want)
		}
	}
}

// TestLoadGGUFSentencePiece: a tokenizer.ggml.model = llama vocabulary is
// read as llama.cpp's SPM tokenizer runs it: the pair whose concatenation
// scores highest is joined first, a ▁ goes before the text unless
// add_space_prefix is false, characters without a token fall back to byte
// tokens, the UNKNOWN token is the unknown token, BOS is added by default,
// and decoding undoes the ▁s (and leaves out special tokens).
func TestLoadGGUFSentencePiece(t *testing.T) {
	tokens := []string{"<unk>", "<s>", "</s>", "<0x63>", "▁", "a", "b", "▁a", "ab", "<|x|>"}
	types := []int32{2, 3, 3, 6, 1, 1, 1, 1, 1, 4}
	write := func(name string, scoreA, scoreAB float32, extra ...gguf.KV) string {
		meta := append([]gguf.KV{
			{Key: "tokenizer.ggml.model", Value: "llama"},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.scores", Value: []float32{0, 0, 0, 0, -1, -2, -3, scoreA, scoreAB, 0}},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
		}, extra...)
		path := filepath.Join(t.TempDir(), name+".gguf")
		if err := gguf.Write(path, meta, nil); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, c := range []struct {
		name    string
		path    string
		text    string
		special bool
		want    []int
		decoded string
	}{
		{"ab first", write("ab", -20, -10), "ab", false, []int{4, 8}, "ab"},
		{"▁a first", write("a", -10, -20), "ab", false, []int{7, 6}, "ab"},
		{"bos", write("bos", -10, -20), "ab", true, []int{1, 7, 6}, "ab"},
		{"no prefix", write("np", -10, -20, gguf.KV{Key: "tokenizer.ggml.add_space_prefix", Value: false}), "ab", false, []int{8}, "ab"},
		{"no bos", write("nb", -10, -20, gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: false}), "ab", true, []int{7, 6}, "ab"},
		{"bytes", write("c", -10, -20), "a c<|x|>", false, []int{7, 4, 3, 9}, "a c<|x|>"},
		{"unknown", write("u", -10, -20), "d", false, []int{4, 0}, ""},
	} {
		tk, err := Load(c.path)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := tk.Encode(c.text, c.special)
		if err != nil || !slices.Equal(ids, c.want) {
			t.Errorf("%s: Encode(%q) = %v, %v; want %v", c.name, c.text, ids, err, c.want)
		}
		if tk.Unk() != 0 || tk.BOS() != 1 || tk.EOS() != 2 {
			t.Errorf("%s: unk %d bos %d eos %d, want 0 1 2", c.name, tk.Unk(), tk.BOS(), tk.EOS())
		}
		if s, err := tk.Decode(ids, true); err != nil || s != c.decoded {
			t.Errorf("%s: Decode(%v) = %q, %v; want %q", c.name, ids, s, err, c.decoded)
		}
	}
}
