package tokenizer

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/golora/golora/gguf"
)

// ggufPre are the pre-tokenizers of llama.cpp's tokenizer.ggml.pre names
// golora reads, as the tokenizer.json of the models that have them spells
// them (pre_tokenizer, normalizer, the BPE model's ignore_merges, which
// llama.cpp sets for llama-bpe).
var ggufPre = map[string]struct {
	pre, normalizer string
	ignoreMerges    bool
}{
	"gpt-2": {`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`, `null`, false},
	"llama-bpe": {`{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":` +
		`"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},` +
		`"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}`, `null`, true},
	"qwen2": {`{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":` +
		`"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},` +
		`"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]}`, `{"type":"NFC"}`, false},
}

// llama.cpp's token types (tokenizer.ggml.token_type).
const (
	ggufNormal      = 1
	ggufUnknown     = 2
	ggufControl     = 3
	ggufUserDefined = 4
	ggufUnused      = 5
)

// The tokenizer.json parts of a SentencePiece-style tokenizer as llama.cpp's
// SPM tokenizer runs it: spaces written ▁, with add_space_prefix a ▁ put
// before the text (and taken off again when decoding), byte tokens
// <0xNN> decoded to bytes.
const (
	spmNormalizer       = `{"type":"Replace","pattern":{"String":" "},"content":"▁"}`
	spmPrefixNormalizer = `{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},` + spmNormalizer + `]}`
	spmDecoder          = `{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"}]}`
	spmPrefixDecoder    = `{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}`
)

// loadGGUF reads the tokenizer a GGUF file's metadata holds by building the
// tokenizer.json and tokenizer_config.json a Hugging Face directory would
// hold (Tokenizer.Save writes them). Both kinds share tokenizer.ggml.tokens (UNUSED ones left out),
// token_type (CONTROL and UNKNOWN tokens become special added tokens,
// USER_DEFINED ones added tokens), bos/eos/padding_token_id,
// add_bos/add_eos_token and tokenizer.chat_template. By tokenizer.ggml.model:
//
//   - gpt2, byte-level BPE: merges ("left right") and the pre-tokenizer of
//     tokenizer.ggml.pre (gpt-2, llama-bpe, qwen2; see ggufPre);
//   - llama, SentencePiece-style BPE with byte fallback: the merges are
//     derived from tokenizer.ggml.scores (see spmMerges), spaces are
//     written ▁ and, unless tokenizer.ggml.add_space_prefix is false, a ▁
//     put before the text; unknown_token_id (or the UNKNOWN token) is the
//     unknown token, and add_bos_token is true unless the file says
//     otherwise, as in llama.cpp.
func loadGGUF(path string) (*Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	keyErr := func(key, format string, args ...any) error {
		return fmt.Errorf("tokenizer: %s: %s: %s", path, key, fmt.Sprintf(format, args...))
	}
	kind, err := f.String("tokenizer.ggml.model")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if kind != "gpt2" && kind != "llama" {
		return nil, keyErr("tokenizer.ggml.model", "%q tokenizers are not supported; golora reads byte-level BPE (gpt2) and SentencePiece-style BPE (llama) ones", kind)
	}
	v, _ := f.Value("tokenizer.ggml.tokens")
	tokens, ok := v.([]string)
	if !ok {
		return nil, keyErr("tokenizer.ggml.tokens", "missing or not an ARRAY of STRING")
	}
	v, _ = f.Value("tokenizer.ggml.token_type")
	types, ok := v.([]int32)
	if !ok || len(types) != len(tokens) {
		return nil, keyErr("tokenizer.ggml.token_type", "missing, not an ARRAY of INT32, or not one per token (%d)", len(tokens))
	}
	vocab := make(map[string]int, len(tokens))
	type added struct { // every field Hugging Face's AddedToken requires
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var adds []added
	unk := -1
	for id, tok := range tokens {
		switch types[id] {
		case ggufUnused:
			continue
		case ggufUnknown:
			if unk < 0 {
				unk = id
			}
			adds = append(adds, added{ID: id, Content: tok, Special: true})
		case ggufControl, ggufUserDefined:
			adds = append(adds, added{ID: id, Content: tok, Special: types[id] == ggufControl})
		}
		if _, dup := vocab[tok]; !dup {
			vocab[tok] = id
		}
	}
	tokenID := func(key string) (int, bool, error) {
		if _, ok := f.Value(key); !ok {
			return -1, false, nil
		}
		id, err := f.Int(key)
		if err != nil {
			return -1, false, fmt.Errorf("tokenizer: %w", err)
		}
		if id < 0 || id >= int64(len(tokens)) {
			return -1, false, keyErr(key, "%d is not a token id (%d tokens)", id, len(tokens))
		}
		return int(id), true, nil
	}
	spec := map[string]any{"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": adds, "post_processor": nil}
	cfg := map[string]any{}
	bpe := map[string]any{"type": "BPE", "vocab": vocab}
	preName := ""
	switch kind {
	case "gpt2":
		if preName, err = f.String("tokenizer.ggml.pre"); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		pre, ok := ggufPre[preName]
		if !ok {
			return nil, keyErr("tokenizer.ggml.pre", "pre-tokenizer %q is not supported (gpt-2, llama-bpe, qwen2)", preName)
		}
		v, _ = f.Value("tokenizer.ggml.merges")
		merges, ok := v.([]string)
		if !ok {
			return nil, keyErr("tokenizer.ggml.merges", "missing or not an ARRAY of STRING")
		}
		for i, m := range merges {
			if strings.Count(m, " ") != 1 {
				return nil, keyErr("tokenizer.ggml.merges", "[%d] %q is not two tokens separated by a space", i, m)
			}
		}
		bpe["merges"], bpe["ignore_merges"] = merges, pre.ignoreMerges
		spec["normalizer"] = json.RawMessage(pre.normalizer)
		spec["pre_tokenizer"] = json.RawMessage(pre.pre)
		spec["decoder"] = json.RawMessage(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}`)
	case "llama":
		v, _ = f.Value("tokenizer.ggml.scores")
		scores, ok := v.([]float32)
		if !ok || len(scores) != len(tokens) {
			return nil, keyErr("tokenizer.ggml.scores", "missing, not an ARRAY of FLOAT32, or not one per token (%d)", len(tokens))
		}
		id, found, err := tokenID("tokenizer.ggml.unknown_token_id")
		if err != nil {
			return nil, err
		}
		if found {
			unk = id
		}
		if unk >= 0 {
			bpe["unk_token"] = tokens[unk]
		}
		bpe["merges"], bpe["byte_fallback"], bpe["fuse_unk"] = spmMerges(tokens, scores, types), true, true
		prefix := true
		if b, ok := f.Value("tokenizer.ggml.add_space_prefix"); ok {
			if prefix, ok = b.(bool); !ok {
				return nil, keyErr("tokenizer.ggml.add_space_prefix", "not a BOOL")
			}
		}
		spec["normalizer"], spec["decoder"] = json.RawMessage(spmNormalizer), json.RawMessage(spmDecoder)
		if prefix {
			spec["normalizer"], spec["decoder"] = json.RawMessage(spmPrefixNormalizer), json.RawMessage(spmPrefixDecoder)
		}
		spec["pre_tokenizer"] = nil
		if _, ok := f.Value("tokenizer.ggml.bos_token_id"); ok {
			cfg["add_bos_token"] = true // llama.cpp's default for SPM
		}
	}
	spec["model"] = bpe
	for _, s := range []struct{ key, field string }{{"bos_token_id", "bos_token"}, {"eos_token_id", "eos_token"}, {"padding_token_id", "pad_token"}} {
		id, found, err := tokenID("tokenizer.ggml." + s.key)
		if err != nil {
			return nil, err
		}
		cfg[s.field] = nil // none, rather than one guessed from the tokens
		if found {
			cfg[s.field] = tokens[id]
		}
	}
	for _, s := range []struct{ key, field string }{{"add_bos_token", "add_bos_token"}, {"add_eos_token", "add_eos_token"}} {
		if b, ok := f.Value("tokenizer.ggml." + s.key); ok {
			cfg[s.field] = b
		}
	}
	if t, ok := f.Value("tokenizer.chat_template"); ok {
		cfg["chat_template"] = t
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	cfgData, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	t, err := parse(data, path, cfgData, path, nil)
	if err != nil {
		return nil, err
	}
	t.ggufPre = preName
	return t, nil
}

// spmMerges are the BPE merges equivalent to llama.cpp's SPM tokenizer,
// which repeatedly joins the adjacent pair whose concatenation is the
// NORMAL token of highest score: for every NORMAL token, each split of it
// into two NORMAL tokens (left, right), ordered by the token's score, high
// first, then by the ids of the token, left and right, low first: the
// order in which Hugging Face's SentencePieceExtractor lists the merges of
// a SentencePiece model. Tokens of equal score (gguf-py's -1000 for every
// token of a converted tokenizer.json) are ordered by id, where llama.cpp
// joins the leftmost pair.
func spmMerges(tokens []string, scores []float32, types []int32) [][2]string {
	normal := make(map[string]int, len(tokens))
	for id, tok := range tokens {
		if _, dup := normal[tok]; !dup && types[id] == ggufNormal {
			normal[tok] = id
		}
	}
	type merge struct{ tok, l, r int }
	var ms []merge
	for id, tok := range tokens {
		if types[id] != ggufNormal || normal[tok] != id {
			continue
		}
		for i := range tok {
			if i == 0 {
				continue
			}
			l, okL := normal[tok[:i]]
			r, okR := normal[tok[i:]]
			if okL && okR {
				ms = append(ms, merge{id, l, r})
			}
		}
	}
	slices.SortFunc(ms, func(a, b merge) int {
		return cmp.Or(cmp.Compare(scores[b.tok], scores[a.tok]), cmp.Compare(a.tok, b.tok), cmp.Compare(a.l, b.l), cmp.Compare(a.r, b.r))
	})
	out := make([][2]string, len(ms))
	for i, m := range ms {
		out[i] = [2]string{tokens[m.l], tokens[m.r]}
	}
	return out
}
