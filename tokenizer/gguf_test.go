package tokenizer

import (
	"path/filepath"
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
		{"spm", set("tokenizer.ggml.model", "llama"), `tokenizer.ggml.model: "llama" tokenizers are not supported`},
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
