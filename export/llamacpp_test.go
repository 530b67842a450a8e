package export

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/tokenizer/tokenizertest"
)

// TestLlamaCppTokenizeSPM: with GOLORA_LLAMA_CPP set to a llama.cpp source
// tree whose build/bin holds llama-tokenize, a model exported with the
// SentencePiece-style llama2 fixture's tokenizer tokenizes llama.cpp's own
// SPM test texts (models/ggml-vocab-llama-spm.gguf.inp) and the fixture's
// test cases in llama-tokenize (special tokens parsed, no BOS) exactly as
// golora tokenizes them from the tokenizer.json. The same vocabulary with
// every NORMAL token scored -1000, as gguf-py's LlamaHfVocab writes it, is
// run too, and how many texts it gets wrong is logged. Skipped without
// the variable: llama.cpp is not part of the build.
func TestLlamaCppTokenizeSPM(t *testing.T) {
	root := os.Getenv("GOLORA_LLAMA_CPP")
	if root == "" {
		t.Skip("GOLORA_LLAMA_CPP is not set")
	}
	bin := filepath.Join(root, "build", "bin", "llama-tokenize")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no llama-tokenize: %v", err)
	}
	inp, err := os.ReadFile(filepath.Join(root, "models", "ggml-vocab-llama-spm.gguf.inp"))
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(strings.TrimSuffix(string(inp), "\n__ggml_vocab_test__\n"), "\n__ggml_vocab_test__\n")
	nInp := len(texts)
	var cases struct {
		Cases []struct {
			Text string `json:"text"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(tokenizertest.Gunzip(t, filepath.Join("..", "tokenizer", "testdata", "llama2", "cases.json.gz")), &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases.Cases {
		texts = append(texts, c.Text)
	}

	dir := tinyModel(t, "llama2")
	tok, _ := tokenizertest.Load(t, "llama2")
	out, f := writeModel(t, dir, nil, gguf.F16, nil)
	// gguf-py's scores: -1000 for every NORMAL token.
	meta := slices.Clone(f.Metadata())
	v, _ := f.Value("tokenizer.ggml.token_type")
	types := v.([]int32)
	for i, kv := range meta {
		if kv.Key == "tokenizer.ggml.scores" {
			scores := slices.Clone(kv.Value.([]float32))
			for id := range scores {
				if types[id] == tokNormal {
					scores[id] = -1000
				}
			}
			meta[i].Value = scores
		}
	}
	flat := filepath.Join(t.TempDir(), "flat.gguf")
	if err := gguf.Write(flat, meta, nil); err != nil {
		t.Fatal(err)
	}

	txt := filepath.Join(t.TempDir(), "text")
	llamaCpp := func(model, text string) []int {
		if err := os.WriteFile(txt, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := exec.Command(bin, "-m", model, "-f", txt, "--no-escape", "--ids", "--no-bos", "--log-disable").Output()
		if err != nil {
			t.Fatalf("llama-tokenize %q: %v", text, err)
		}
		var ids []int
		for _, s := range strings.Split(strings.Trim(strings.TrimSpace(string(b)), "[]"), ",") {
			if s = strings.TrimSpace(s); s != "" {
				id, err := strconv.Atoi(s)
				if err != nil {
					t.Fatalf("llama-tokenize %q: output %q", text, b)
				}
				ids = append(ids, id)
			}
		}
		return ids
	}
	var bad, badFlat [2]int
	for i, text := range texts {
		want, err := tok.Encode(text, false)
		if err != nil {
			t.Fatal(err)
		}
		set := min(i/nInp, 1)
		if got := llamaCpp(out, text); !slices.Equal(got, want) {
			if bad[set]++; bad[set] <= 5 {
				t.Errorf("%q: llama.cpp %v, golora %v", text, got, want)
			}
		}
		if got := llamaCpp(flat, text); !slices.Equal(got, want) {
			badFlat[set]++
		}
	}
	t.Logf("llama.cpp with golora's scores agrees with golora on %d of %d llama-spm test texts and %d of %d fixture cases",
		nInp-bad[0], nInp, len(texts)-nInp-bad[1], len(texts)-nInp)
	t.Logf("llama.cpp with gguf-py's -1000 scores agrees on %d of %d llama-spm test texts and %d of %d fixture cases",
		nInp-badFlat[0], nInp, len(texts)-nInp-badFlat[1], len(texts)-nInp)
}
