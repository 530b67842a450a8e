package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/tokenizer"
)

// llama.cpp's token types (gguf-py's TokenType), tokenizer.ggml.token_type.
const (
	tokNormal      int32 = 1
	tokControl     int32 = 3
	tokUserDefined int32 = 4
	tokUnused      int32 = 5
)

// PreTokenizer is llama.cpp's tokenizer.ggml.pre name of a byte-level BPE
// tokenizer, found as convert_hf_to_gguf.py finds it: the SHA-256 of the
// ids of preCheckText (special tokens added), written as a Python list
// "[a, b, …]", looked up in the converter's table. A hash the table lacks
// is an error, as in the converter: llama.cpp would pre-tokenize such a
// vocabulary differently from golora.
func PreTokenizer(tok *tokenizer.Tokenizer) (string, error) {
	ids, err := tok.Encode(preCheckText, true)
	if err != nil {
		return "", fmt.Errorf("export: tokenizer check text: %w", err)
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteByte(']')
	sum := sha256.Sum256([]byte(b.String()))
	h := hex.EncodeToString(sum[:])
	name, ok := preByHash[h]
	if !ok {
		return "", fmt.Errorf("export: the tokenizer's pre-tokenizer is not one llama.cpp knows (check hash %s is not in convert_hf_to_gguf.py's get_vocab_base_pre); set llama.cpp's name of it with --pre if you know it", h)
	}
	return name, nil
}

// looksSpecial is convert_hf_to_gguf.py's does_token_look_special: added
// tokens that some models do not flag special but llama.cpp should treat
// as control tokens.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>") ||
		strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>") ||
		strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">")
}

// Tokenizer is the tokenizer.* metadata convert_hf_to_gguf.py writes for a
// byte-level BPE tokenizer (its _set_vocab_gpt2 with gguf-py's
// SpecialVocab) of a model with vocabSize embedding rows:
//
//	tokenizer.ggml.model = gpt2, tokenizer.ggml.pre (see PreTokenizer),
//	tokenizer.ggml.tokens: vocabSize tokens by id, "[PAD<id>]" for ids
//	  without a token,
//	tokenizer.ggml.token_type: NORMAL for the BPE vocabulary, CONTROL for
//	  added tokens flagged special or looking special (<|…|>, …),
//	  USER_DEFINED for other added tokens, UNUSED for the padding,
//	tokenizer.ggml.merges: "left right" in rank order (a space inside a
//	  token written as U+0120),
//	tokenizer.ggml.bos_token_id, eos_token_id, unknown_token_id when the
//	  tokenizer has them, add_bos_token and add_eos_token (whether its
//	  post-processor adds them), tokenizer.chat_template when it has one.
//
// pre, when not empty, is written as tokenizer.ggml.pre instead of the name
// PreTokenizer finds (for a vocabulary whose check-text hash llama.cpp's
// converter does not know, whose pre-tokenizer the user knows to be
// llama.cpp's pre). SentencePiece-style tokenizers (Llama-2, Mistral) are
// refused.
func Tokenizer(tok *tokenizer.Tokenizer, vocabSize int, pre string) ([]gguf.KV, error) {
	if !tok.ByteLevel() {
		return nil, fmt.Errorf("export: only byte-level BPE tokenizers (GPT-2, Llama-3, Qwen2) can be written to GGUF yet; this one is SentencePiece-style")
	}
	if tok.VocabSize() > vocabSize {
		return nil, fmt.Errorf("export: the tokenizer has %d tokens but the model only %d embedding rows", tok.VocabSize(), vocabSize)
	}
	if pre == "" {
		var err error
		if pre, err = PreTokenizer(tok); err != nil {
			return nil, err
		}
	}
	vocab := tok.Vocab()
	tokens := make([]string, vocabSize)
	types := make([]int32, vocabSize)
	for id := range tokens {
		if !tok.Known(id) {
			tokens[id], types[id] = fmt.Sprintf("[PAD%d]", id), tokUnused
			continue
		}
		tokens[id], types[id] = vocab[id], tokNormal
	}
	for _, a := range tok.AddedTokens() {
		if vocab[a.ID] != a.Content {
			continue // another added token holds the id
		}
		if a.Special || looksSpecial(a.Content) {
			types[a.ID] = tokControl
		} else {
			tokens[a.ID], types[a.ID] = strings.ReplaceAll(a.Content, "▁", " "), tokUserDefined
		}
	}
	merges := tok.Merges()
	ms := make([]string, len(merges))
	for i, m := range merges {
		ms[i] = strings.ReplaceAll(m[0], " ", "Ġ") + " " + strings.ReplaceAll(m[1], " ", "Ġ")
	}
	meta := []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Value: pre},
		{Key: "tokenizer.ggml.tokens", Value: tokens},
		{Key: "tokenizer.ggml.token_type", Value: types},
		{Key: "tokenizer.ggml.merges", Value: ms},
	}
	for _, s := range []struct {
		key string
		id  int
	}{{"bos_token_id", tok.BOS()}, {"eos_token_id", tok.EOS()}, {"unknown_token_id", tok.Unk()}} {
		if s.id >= 0 {
			meta = append(meta, gguf.KV{Key: "tokenizer.ggml." + s.key, Value: uint32(s.id)})
		}
	}
	addBOS, addEOS := tok.AddsSpecial()
	meta = append(meta,
		gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: addBOS},
		gguf.KV{Key: "tokenizer.ggml.add_eos_token", Value: addEOS})
	if t := tok.ChatTemplate(); t != "" {
		meta = append(meta, gguf.KV{Key: "tokenizer.chat_template", Value: t})
	}
	return meta, nil
}
