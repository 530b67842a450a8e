package tokenizer

import "slices"

// The vocabulary as tables, for writers of other formats (GGUF's
// tokenizer.ggml.* keys).

// AddedToken is one entry of tokenizer.json's added_tokens.
type AddedToken struct {
	ID      int
	Content string
	// Special is the entry's "special" flag (control tokens such as
	// <|endoftext|>, skipped by Decode with skipSpecial).
	Special bool
	// Normalized is the entry's "normalized" flag: whether the token is
	// matched in the normalized text rather than the raw text.
	Normalized bool
}

// Vocab is every token by id: Vocab()[id] is the token of id as the BPE
// vocabulary or an added token spells it (byte-level tokens in GPT-2's
// byte-to-unicode alphabet); an id neither assigns is "" and Known(id) is
// false. Its length is VocabSize().
func (t *Tokenizer) Vocab() []string { return append([]string(nil), t.idToToken...) }

// Known reports whether id is assigned a token.
func (t *Tokenizer) Known(id int) bool { return id >= 0 && id < len(t.idKnown) && t.idKnown[id] }

// Merges are the BPE merges in rank order (rank 0 first), each the pair of
// tokens it joins.
func (t *Tokenizer) Merges() [][2]string { return append([][2]string(nil), t.model.mergeList...) }

// AddedTokens are tokenizer.json's added_tokens in file order.
func (t *Tokenizer) AddedTokens() []AddedToken {
	out := make([]AddedToken, len(t.added))
	for i, a := range t.added {
		out[i] = AddedToken{ID: a.ID, Content: a.Content, Special: a.Special, Normalized: a.Normalized}
	}
	return out
}

// ByteLevel reports whether the tokenizer is byte-level BPE (GPT-2,
// Llama-3, Qwen2): its decoder maps tokens back to bytes through GPT-2's
// byte-to-unicode table.
func (t *Tokenizer) ByteLevel() bool {
	switch d := t.dec.(type) {
	case byteLevelDecoder:
		return true
	case seqDecoder:
		for _, x := range d {
			if _, ok := x.(byteLevelDecoder); ok {
				return true
			}
		}
	}
	return false
}

// Unk is the BPE model's unknown token id, -1 when it has none.
func (t *Tokenizer) Unk() int { return t.model.unkID }

// AddsSpecial reports whether Encode with addSpecial puts BOS() first and
// EOS() last (the post-processor's template).
func (t *Tokenizer) AddsSpecial() (bos, eos bool) {
	if t.post == nil {
		return false, false
	}
	const seq = -2 // no token id: marks where the sequence goes
	ids := t.post.process([]int{seq})
	i := slices.Index(ids, seq)
	return t.bos >= 0 && i > 0 && ids[0] == t.bos, t.eos >= 0 && i >= 0 && i < len(ids)-1 && ids[len(ids)-1] == t.eos
}

// SentencePiece reports whether the tokenizer is SentencePiece-style BPE
// (Llama-2, Mistral) as llama.cpp's SPM tokenizer runs it: not byte-level,
// byte_fallback on, and the text given to the BPE model whole with every
// space written ▁ (the Replace normalizer, or Metaspace without split).
// prefix reports whether a ▁ is also put before the text (the Prepend
// normalizer, or Metaspace's prepend_scheme always or first): llama.cpp's
// tokenizer.ggml.add_space_prefix.
func (t *Tokenizer) SentencePiece() (ok, prefix bool) {
	if t.ByteLevel() || !t.model.byteFallback {
		return false, false
	}
	var words []string
	if err := t.preTokens("a b", func(w string, id int) error {
		words = append(words, w)
		return nil
	}); err != nil || len(words) != 1 {
		return false, false
	}
	switch words[0] {
	case "▁a▁b":
		return true, true
	case "a▁b":
		return true, false
	}
	return false, false
}
