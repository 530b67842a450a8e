package tokenizer

import (
	"encoding/json"
	"fmt"
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
	ggufControl     = 3
	ggufUserDefined = 4
	ggufUnused      = 5
)

// loadGGUF reads the byte-level BPE tokenizer a GGUF file's metadata holds
// (tokenizer.ggml.model = gpt2): tokenizer.ggml.tokens (UNUSED ones left
// out), token_type (CONTROL tokens become special added tokens,
// USER_DEFINED ones added tokens), merges ("left right"), the pre-tokenizer
// of tokenizer.ggml.pre (gpt-2, llama-bpe, qwen2; see ggufPre), bos/eos_token_id,
// add_bos/add_eos_token and tokenizer.chat_template, by building the
// tokenizer.json and tokenizer_config.json a Hugging Face directory would
// hold.
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
	if kind != "gpt2" {
		return nil, keyErr("tokenizer.ggml.model", "%q tokenizers are not supported; golora reads byte-level BPE (gpt2) ones", kind)
	}
	preName, err := f.String("tokenizer.ggml.pre")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	pre, ok := ggufPre[preName]
	if !ok {
		return nil, keyErr("tokenizer.ggml.pre", "pre-tokenizer %q is not supported (gpt-2, llama-bpe, qwen2)", preName)
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
	v, _ = f.Value("tokenizer.ggml.merges")
	merges, ok := v.([]string)
	if !ok {
		return nil, keyErr("tokenizer.ggml.merges", "missing or not an ARRAY of STRING")
	}
	vocab := make(map[string]int, len(tokens))
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var adds []added
	for id, tok := range tokens {
		switch types[id] {
		case ggufUnused:
			continue
		case ggufControl, ggufUserDefined:
			adds = append(adds, added{ID: id, Content: tok, Special: types[id] == ggufControl})
		}
		if _, dup := vocab[tok]; !dup {
			vocab[tok] = id
		}
	}
	for i, m := range merges {
		if strings.Count(m, " ") != 1 {
			return nil, keyErr("tokenizer.ggml.merges", "[%d] %q is not two tokens separated by a space", i, m)
		}
	}
	spec := map[string]any{
		"added_tokens":   adds,
		"normalizer":     json.RawMessage(pre.normalizer),
		"pre_tokenizer":  json.RawMessage(pre.pre),
		"post_processor": nil,
		"decoder":        json.RawMessage(`{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}`),
		"model":          map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": pre.ignoreMerges},
	}
	cfg := map[string]any{}
	for _, s := range []struct{ key, field string }{{"bos_token_id", "bos_token"}, {"eos_token_id", "eos_token"}} {
		if _, ok := f.Value("tokenizer.ggml." + s.key); !ok {
			cfg[s.field] = nil // none, rather than one guessed from the tokens
			continue
		}
		id, err := f.Int("tokenizer.ggml." + s.key)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		if id < 0 || id >= int64(len(tokens)) {
			return nil, keyErr("tokenizer.ggml."+s.key, "%d is not a token id (%d tokens)", id, len(tokens))
		}
		cfg[s.field] = tokens[id]
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
	return parse(data, path, cfgData, path, nil)
}
