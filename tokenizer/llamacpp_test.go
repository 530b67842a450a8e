package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLlamaCppVocabFiles: with GOLORA_LLAMA_CPP set to a llama.cpp source
// tree, the byte-level vocabularies llama.cpp ships (models/ggml-vocab-
// gpt-2, -llama-bpe, -qwen2.gguf) are read by Load and tokenize llama.cpp's
// test texts (.gguf.inp) to the ids llama.cpp's tests expect (.gguf.out,
// made with the Hugging Face tokenizers library, special tokens not added).
// The vocabulary files are too large to commit, so the test is skipped
// without the variable.
func TestLlamaCppVocabFiles(t *testing.T) {
	root := os.Getenv("GOLORA_LLAMA_CPP")
	if root == "" {
		t.Skip("GOLORA_LLAMA_CPP is not set")
	}
	for _, name := range []string{"gpt-2", "llama-bpe", "qwen2", "llama-spm"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(root, "models", "ggml-vocab-"+name+".gguf")
			tk, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			inp, err := os.ReadFile(path + ".inp")
			if err != nil {
				t.Fatal(err)
			}
			out, err := os.ReadFile(path + ".out")
			if err != nil {
				t.Fatal(err)
			}
			texts := strings.Split(strings.TrimSuffix(string(inp), "\n__ggml_vocab_test__\n"), "\n__ggml_vocab_test__\n")
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(texts) != len(lines) {
				t.Fatalf("%d texts, %d id lines", len(texts), len(lines))
			}
			for i, text := range texts {
				var want []int
				for _, f := range strings.Fields(lines[i]) {
					id, err := strconv.Atoi(f)
					if err != nil {
						t.Fatal(err)
					}
					want = append(want, id)
				}
				got, err := tk.Encode(text, false)
				if err != nil || !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("%q: %v %v, want %v", text, got, err, want)
				}
			}
			t.Logf("%d texts", len(texts))
		})
	}
}
