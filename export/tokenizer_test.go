package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/tokenizer"
	"github.com/golora/golora/tokenizer/tokenizertest"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestTokenizerMatchesLlamaCpp: the tokenizer metadata Tokenizer writes for
// golora's GPT-2, Llama-3 and Qwen3 tokenizer fixtures equals that of
// llama.cpp's own ggml-vocab-gpt-2, -llama-bpe and -qwen2 files (digests
// written by testdata/make_vocab_expect.py with gguf-py): the tokens, their
// types and the merges (the leading part the truncated fixtures keep), and
// for the whole GPT-2 vocabulary the pre-tokenizer name and special ids.
func TestTokenizerMatchesLlamaCpp(t *testing.T) {
	data, err := os.ReadFile("testdata/vocab_expect.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		File                           string
		Pre                            string
		Tokens, Merges                 int
		TokensSHA, TypesSHA, MergesSHA string
		BOS, EOS                       int
	}
	if err := json.Unmarshal([]byte(strings.NewReplacer("_sha256", "sha").Replace(string(data))), &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 {
		t.Fatalf("%d vocabularies in vocab_expect.json, want 3", len(want))
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			tok, _ := tokenizertest.Load(t, name)
			whole := w.Tokens >= tok.VocabSize()
			pre := ""
			if !whole {
				pre = w.Pre // the check-text hash needs the whole vocabulary
			}
			meta, err := Tokenizer(tok, tok.VocabSize(), pre)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]any{}
			for _, kv := range meta {
				got[kv.Key] = kv.Value
			}
			tokens := got["tokenizer.ggml.tokens"].([]string)
			types := got["tokenizer.ggml.token_type"].([]int32)
			merges := got["tokenizer.ggml.merges"].([]string)
			if len(tokens) < w.Tokens || len(merges) < w.Merges {
				t.Fatalf("%d tokens, %d merges; want at least %d, %d", len(tokens), len(merges), w.Tokens, w.Merges)
			}
			ts := make([]string, w.Tokens)
			for i := range ts {
				ts[i] = strconv.Itoa(int(types[i]))
			}
			if h := sha(strings.Join(tokens[:w.Tokens], "\n")); h != w.TokensSHA {
				t.Errorf("tokens differ from %s's", w.File)
			}
			if h := sha(strings.Join(ts, ",")); h != w.TypesSHA {
				t.Errorf("token types differ from %s's", w.File)
			}
			if h := sha(strings.Join(merges[:w.Merges], "\n")); h != w.MergesSHA {
				t.Errorf("merges differ from %s's", w.File)
			}
			if !whole {
				return
			}
			if len(tokens) != w.Tokens || len(merges) != w.Merges {
				t.Errorf("%d tokens, %d merges; %s has %d, %d", len(tokens), len(merges), w.File, w.Tokens, w.Merges)
			}
			if got["tokenizer.ggml.pre"] != w.Pre {
				t.Errorf("tokenizer.ggml.pre = %v, %s has %q", got["tokenizer.ggml.pre"], w.File, w.Pre)
			}
			if got["tokenizer.ggml.bos_token_id"] != uint32(w.BOS) || got["tokenizer.ggml.eos_token_id"] != uint32(w.EOS) {
				t.Errorf("bos/eos %v/%v, %s has %d/%d", got["tokenizer.ggml.bos_token_id"], got["tokenizer.ggml.eos_token_id"], w.File, w.BOS, w.EOS)
			}
		})
	}
}

// TestTokenizerErrors: a pre-tokenizer llama.cpp does not know is refused
// (naming the way to set it), as is a vocabulary larger than the model's, a
// pre-tokenizer name for a SentencePiece-style tokenizer, and a
// SentencePiece-style tokenizer without byte fallback.
func TestTokenizerErrors(t *testing.T) {
	sp, dir := tokenizertest.Load(t, "llama2")
	if _, err := Tokenizer(sp, sp.VocabSize(), "llama-bpe"); err == nil || !strings.Contains(err.Error(), "SentencePiece-style") {
		t.Errorf("pre name for a SentencePiece-style tokenizer: err = %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	noFallback := filepath.Join(dir, "nofallback.json")
	if err := os.WriteFile(noFallback, []byte(strings.Replace(string(data), `"byte_fallback":true`, `"byte_fallback":false`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	nf, err := tokenizer.Load(noFallback)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Tokenizer(nf, nf.VocabSize(), ""); err == nil || !strings.Contains(err.Error(), "byte fallback") {
		t.Errorf("no byte fallback: err = %v", err)
	}

	tok, _ := tokenizertest.Load(t, "qwen3") // truncated: its check-text hash is in no table
	if _, err := Tokenizer(tok, tok.VocabSize(), ""); err == nil || !strings.Contains(err.Error(), "--pre") {
		t.Errorf("unknown pre-tokenizer: err = %v, want one naming --pre", err)
	}
	if _, err := Tokenizer(tok, tok.VocabSize()-1, "qwen2"); err == nil || !strings.Contains(err.Error(), "embedding rows") {
		t.Errorf("vocabulary larger than the model: err = %v", err)
	}
}

// TestTokenizerReadBack: the tokenizer metadata written for the GPT-2,
// Llama-3, Qwen3 and (SentencePiece-style) llama2 fixtures, read back from a GGUF by tokenizer.Load,
// encodes every test text of the fixture to the ids the Hugging Face
// tokenizers library gives (with and without special tokens) and the text
// of every token as the tokenizer.json does, and keeps BOS, EOS, the padding
// token (Qwen3's <|endoftext|>) and the chat template.
func TestTokenizerReadBack(t *testing.T) {
	for name, pre := range map[string]string{"gpt2": "", "llama3": "llama-bpe", "qwen3": "qwen2", "llama2": ""} {
		t.Run(name, func(t *testing.T) {
			tok, _ := tokenizertest.Load(t, name)
			meta, err := Tokenizer(tok, tok.VocabSize()+3, pre) // three padding rows
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "tok.gguf")
			if err := gguf.Write(path, meta, nil); err != nil {
				t.Fatal(err)
			}
			back, err := tokenizer.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if back.BOS() != tok.BOS() || back.EOS() != tok.EOS() || back.Pad() != tok.Pad() || back.ChatTemplate() != tok.ChatTemplate() {
				t.Errorf("bos %d eos %d pad %d, want %d %d %d; chat template equal: %v", back.BOS(), back.EOS(), back.Pad(), tok.BOS(), tok.EOS(), tok.Pad(), back.ChatTemplate() == tok.ChatTemplate())
			}
			var f struct {
				Cases []struct {
					Text       string `json:"text"`
					IDs        []int  `json:"ids"`
					IDsSpecial []int  `json:"ids_special"`
				} `json:"cases"`
			}
			if err := json.Unmarshal(tokenizertest.Gunzip(t, filepath.Join("..", "tokenizer", "testdata", name, "cases.json.gz")), &f); err != nil {
				t.Fatal(err)
			}
			if len(f.Cases) < 100 {
				t.Fatalf("only %d cases", len(f.Cases))
			}
			bad := 0
			for _, c := range f.Cases {
				ids, err1 := back.Encode(c.Text, false)
				sp, err2 := back.Encode(c.Text, true)
				if err1 != nil || err2 != nil || !slices.Equal(ids, c.IDs) || (c.IDsSpecial != nil && !slices.Equal(sp, c.IDsSpecial)) {
					if bad++; bad <= 3 {
						t.Errorf("%q: ids %v %v (%v %v), want %v %v", c.Text, ids, sp, err1, err2, c.IDs, c.IDsSpecial)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d texts tokenized differently", bad, len(f.Cases))
			}
			// Every token's text alone, where a BPE model's ignore_merges
			// shows: the ids of the tokenizer.json read directly.
			bad = 0
			for id := range tok.VocabSize() {
				text, err := tok.Decode([]int{id}, true)
				if err != nil || text == "" {
					continue
				}
				want, err1 := tok.Encode(text, false)
				got, err2 := back.Encode(text, false)
				if err1 != nil || err2 != nil || !slices.Equal(got, want) {
					if bad++; bad <= 3 {
						t.Errorf("token %d %q: ids %v (%v), want %v (%v)", id, text, got, err2, want, err1)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d tokens' texts tokenized differently", bad)
			}
		})
	}
}
