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
	tokUnknown     int32 = 2
	tokControl     int32 = 3
	tokUserDefined int32 = 4
	tokUnused      int32 = 5
	tokByte        int32 = 6
)

// PreTokenizer is llama.cpp's tokenizer.ggml.pre name of a byte-level BPE
// tokenizer, found as convert_hf_to_gguf.py finds it: the SHA-256 of the
// ids of preCheckText (special tokens added), written as a Python list
// "[a, b, …]", looked up in the converter's table. A hash the table lacks
// is an error, as in the converter: llama.cpp would pre-tokenize such a
// vocabulary differently from golora. A tokenizer read from a GGUF file
// keeps the name that file gave it.
func PreTokenizer(tok *tokenizer.Tokenizer) (string, error) {
	if name := tok.GGUFPre(); name != "" {
		return name, nil
	}
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

// Tokenizer is the tokenizer.* metadata llama.cpp's converter writes for
// the tokenizer of a model with vocabSize embedding rows. Both kinds have
//
//	tokenizer.ggml.tokens: vocabSize tokens by id, "[PAD<id>]" for ids
//	  without a token,
//	tokenizer.ggml.token_type: NORMAL for the BPE vocabulary, CONTROL for
//	  added tokens flagged special or looking special (<|…|>, …),
//	  USER_DEFINED for other added tokens (▁ written as a space), UNUSED
//	  for the padding,
//	tokenizer.ggml.bos_token_id, eos_token_id, unknown_token_id,
//	  padding_token_id when the tokenizer has them, add_bos_token and add_eos_token (whether its
//	  post-processor adds them), tokenizer.chat_template when it has one.
//
// A byte-level BPE tokenizer (GPT-2, Llama-3, Qwen2) is written as
// convert_hf_to_gguf.py's _set_vocab_gpt2 with gguf-py's SpecialVocab does:
//
//	tokenizer.ggml.model = gpt2, tokenizer.ggml.pre (see PreTokenizer),
//	tokenizer.ggml.merges: "left right" in rank order (a space inside a
//	  token written as U+0120).
//
// pre, when not empty, is written as tokenizer.ggml.pre instead of the name
// PreTokenizer finds (for a vocabulary whose check-text hash llama.cpp's
// converter does not know, whose pre-tokenizer the user knows to be
// llama.cpp's pre). A SentencePiece-style tokenizer (Llama-2, Mistral; see
// tokenizer.Tokenizer.SentencePiece) is written for llama.cpp's SPM
// tokenizer, with pre empty:
//
//	tokenizer.ggml.model = llama, tokenizer.ggml.pre = default,
//	tokenizer.ggml.add_space_prefix,
//	token types also BYTE for the <0xNN> tokens and UNKNOWN for the
//	  unknown token,
//	tokenizer.ggml.scores (see spmScores).
func Tokenizer(tok *tokenizer.Tokenizer, vocabSize int, pre string) ([]gguf.KV, error) {
	sp, spacePrefix := tok.SentencePiece()
	switch {
	case !tok.ByteLevel() && !sp:
		return nil, fmt.Errorf("export: the tokenizer is neither byte-level BPE (GPT-2, Llama-3, Qwen2) nor SentencePiece-style BPE with byte fallback and ▁ for spaces (Llama-2, Mistral), the kinds llama.cpp's GGUF tokenizers run")
	case sp && pre != "":
		return nil, fmt.Errorf("export: a pre-tokenizer name (%q) applies to byte-level BPE tokenizers only; this one is SentencePiece-style", pre)
	case tok.VocabSize() > vocabSize:
		return nil, fmt.Errorf("export: the tokenizer has %d tokens but the model only %d embedding rows", tok.VocabSize(), vocabSize)
	}
	if pre == "" && !sp {
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
		if sp && isByteToken(vocab[id]) {
			types[id] = tokByte
		}
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
	var meta []gguf.KV
	if sp {
		if unk := tok.Unk(); unk >= 0 {
			types[unk] = tokUnknown
		}
		meta = []gguf.KV{
			{Key: "tokenizer.ggml.model", Value: "llama"},
			{Key: "tokenizer.ggml.pre", Value: "default"},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.scores", Value: spmScores(tokens, types, tok.Merges())},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.add_space_prefix", Value: spacePrefix},
		}
	} else {
		merges := tok.Merges()
		ms := make([]string, len(merges))
		for i, m := range merges {
			ms[i] = strings.ReplaceAll(m[0], " ", "Ġ") + " " + strings.ReplaceAll(m[1], " ", "Ġ")
		}
		meta = []gguf.KV{
			{Key: "tokenizer.ggml.model", Value: "gpt2"},
			{Key: "tokenizer.ggml.pre", Value: pre},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.merges", Value: ms},
		}
	}
	for _, s := range []struct {
		key string
		id  int
	}{{"bos_token_id", tok.BOS()}, {"eos_token_id", tok.EOS()}, {"unknown_token_id", tok.Unk()}, {"padding_token_id", tok.Pad()}} {
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

// isByteToken reports whether s is a byte-fallback token, <0xNN> (hex
// digits of either case, as gguf-py's LlamaHfVocab matches them).
func isByteToken(s string) bool {
	if len(s) != 6 || !strings.HasPrefix(s, "<0x") || s[5] != '>' {
		return false
	}
	_, err := strconv.ParseUint(s[3:5], 16, 8)
	return err == nil
}

// spmScores are tokenizer.ggml.scores for a SentencePiece-style BPE
// vocabulary with these merges (in rank order), chosen so that llama.cpp's
// SPM tokenizer, which repeatedly joins the adjacent pair whose
// concatenation is the token of highest score, joins pairs in the merges'
// order: a NORMAL token made by merges scores −(rank of the first merge
// making it); one no merge makes (single characters) scores −len(merges),
// below them all. As SentencePiece and llama.cpp's converter score them,
// CONTROL, UNKNOWN and BYTE tokens score 0, USER_DEFINED ones −1000 and
// the padding −10000.
//
// Where the merges are those of a SentencePiece model (every split of each
// token, the tokens' splits listed together, as transformers converts
// them) both tokenizers then give the same ids; gguf-py's LlamaHfVocab,
// which scores every token −1000, leaves llama.cpp to join the leftmost
// pair instead.
func spmScores(tokens []string, types []int32, merges [][2]string) []float32 {
	first := make(map[string]int, len(merges))
	for r, m := range merges {
		if _, ok := first[m[0]+m[1]]; !ok {
			first[m[0]+m[1]] = r
		}
	}
	scores := make([]float32, len(tokens))
	for id, t := range tokens {
		switch types[id] {
		case tokNormal:
			r, ok := first[t]
			if !ok {
				r = len(merges)
			}
			scores[id] = -float32(r)
		case tokUserDefined:
			scores[id] = -1000
		case tokUnused:
			scores[id] = -10000
		}
	}
	return scores
}
