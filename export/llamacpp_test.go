package export

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/tokenizer"
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
	bin := llamaTokenizeBin(t, root)
	texts := vocabTexts(t, filepath.Join(root, "models", "ggml-vocab-llama-spm.gguf.inp"))
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

	var bad, badFlat [2]int
	for i, text := range texts {
		want, err := tok.Encode(text, false)
		if err != nil {
			t.Fatal(err)
		}
		set := min(i/nInp, 1)
		if got := llamaTokenize(t, bin, out, text); !slices.Equal(got, want) {
			if bad[set]++; bad[set] <= 5 {
				t.Errorf("%q: llama.cpp %v, golora %v", text, got, want)
			}
		}
		if got := llamaTokenize(t, bin, flat, text); !slices.Equal(got, want) {
			badFlat[set]++
		}
	}
	t.Logf("llama.cpp with golora's scores agrees with golora on %d of %d llama-spm test texts and %d of %d fixture cases",
		nInp-bad[0], nInp, len(texts)-nInp-bad[1], len(texts)-nInp)
	t.Logf("llama.cpp with gguf-py's -1000 scores agrees on %d of %d llama-spm test texts and %d of %d fixture cases",
		nInp-badFlat[0], nInp, len(texts)-nInp-badFlat[1], len(texts)-nInp)
}

// TestLlamaCppTokenizeGemma: with GOLORA_LLAMA_CPP set as for
// TestLlamaCppTokenizeSPM, a Gemma tokenizer (Gemma 3's layout: BPE with
// byte fallback, spaces written ▁ with none prepended) exported with a
// Gemma 3 model tokenizes llama.cpp's Gemma test texts
// (models/ggml-vocab-gemma-4.gguf.inp) in llama-tokenize exactly as golora
// tokenizes them from the tokenizer.json, and as golora does reading the
// GGUF's tokenizer back. The vocabulary, its merges and
// token types are those of llama.cpp's ggml-vocab-gemma-4.gguf (Gemma's
// 262144 tokens); how many texts golora tokenizes to the ids of its .out
// (Hugging Face's Gemma 4 tokenizer, whose pre-tokenizer also splits
// newlines) is logged.
func TestLlamaCppTokenizeGemma(t *testing.T) {
	root := os.Getenv("GOLORA_LLAMA_CPP")
	if root == "" {
		t.Skip("GOLORA_LLAMA_CPP is not set")
	}
	bin := llamaTokenizeBin(t, root)
	vocabPath := filepath.Join(root, "models", "ggml-vocab-gemma-4.gguf")
	texts := vocabTexts(t, vocabPath+".inp")
	src, err := gguf.Open(vocabPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	v, _ := src.Value("tokenizer.ggml.tokens")
	tokens, _ := v.([]string)
	v, _ = src.Value("tokenizer.ggml.token_type")
	types, _ := v.([]int32)
	v, _ = src.Value("tokenizer.ggml.merges")
	merges, _ := v.([]string)
	if len(tokens) == 0 || len(types) != len(tokens) || len(merges) == 0 {
		t.Fatalf("%s: %d tokens, %d types, %d merges", vocabPath, len(tokens), len(types), len(merges))
	}
	vocab := make(map[string]int, len(tokens))
	var added []map[string]any
	for id, s := range tokens {
		vocab[s] = id
		if types[id] == tokControl || types[id] == tokUserDefined {
			added = append(added, map[string]any{"id": id, "content": s, "single_word": false, "lstrip": false, "rstrip": false,
				"normalized": false, "special": types[id] == tokControl})
		}
	}
	pairs := make([][2]string, len(merges))
	for i, m := range merges { // llama.cpp splits a merge at its first space after the first byte
		j := strings.IndexByte(m[1:], ' ') + 1
		pairs[i] = [2]string{m[:j], m[j+1:]}
	}
	spec := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer":     map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		"pre_tokenizer":  map[string]any{"type": "Split", "pattern": map[string]any{"String": " "}, "behavior": "MergedWithPrevious", "invert": false},
		"post_processor": nil,
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"}}},
		"model": map[string]any{"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": vocab, "merges": pairs},
	}
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sp, prefix := tok.SentencePiece(); !sp || prefix {
		t.Fatalf("SentencePiece() = %v, %v; want Gemma's: SentencePiece-style without a space prefix", sp, prefix)
	}
	meta, _, err := Model(loadRef(t, "gemma3_f32"), gguf.F32)
	if err != nil {
		t.Fatal(err)
	}
	tmeta, err := Tokenizer(tok, tok.VocabSize(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "gemma.gguf")
	if err := gguf.Write(out, append(meta, tmeta...), nil); err != nil {
		t.Fatal(err)
	}
	hfIDs, err := os.ReadFile(vocabPath + ".out")
	if err != nil {
		t.Fatal(err)
	}
	outLines := strings.Split(strings.TrimSuffix(string(hfIDs), "\n"), "\n")
	back, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	bad, hf := 0, 0
	for i, text := range texts {
		want, err := tok.Encode(text, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := back.Encode(text, false); err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: golora reading the GGUF %v (%v), from the tokenizer.json %v", text, got, err, want)
		}
		if got := llamaTokenize(t, bin, out, text); !slices.Equal(got, want) {
			if bad++; bad <= 5 {
				t.Errorf("%q: llama.cpp %v, golora %v", text, got, want)
			}
		}
		if i < len(outLines) && strings.Trim(fmt.Sprint(want), "[]") == strings.TrimSpace(outLines[i]) {
			hf++
		}
	}
	t.Logf("llama.cpp agrees with golora on %d of %d Gemma test texts; golora gives Hugging Face's Gemma 4 ids for %d", len(texts)-bad, len(texts), hf)
}

// llamaTokenizeBin is llama.cpp's llama-tokenize in the tree root; the
// test is skipped without it.
func llamaTokenizeBin(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(root, "build", "bin", "llama-tokenize")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no llama-tokenize: %v", err)
	}
	return bin
}

// vocabTexts are the test texts of one of llama.cpp's
// models/ggml-vocab-*.gguf.inp files.
func vocabTexts(t *testing.T, path string) []string {
	t.Helper()
	inp, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(inp), "\n__ggml_vocab_test__\n"), "\n__ggml_vocab_test__\n")
}

// llamaTokenize is the ids llama-tokenize (bin) gives text with the GGUF
// model: special tokens parsed, no BOS.
func llamaTokenize(t *testing.T, bin, model, text string) []int {
	t.Helper()
	txt := filepath.Join(t.TempDir(), "text")
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
