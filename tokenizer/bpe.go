package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// bpeModel is the BPE model of tokenizer.json ("model": {"type": "BPE"}).
//
// A word (one pre-token) starts as one symbol per character (with
// continuing_subword_prefix / end_of_word_suffix applied); a character
// missing from the vocabulary becomes its <0xNN> byte tokens when
// byte_fallback is on, else the unk token (consecutive unknowns fused into
// one when fuse_unk is on). Then the adjacent pair with the lowest merge rank
// is merged, the leftmost first among equal ranks, until no pair is in the
// merge table. With ignore_merges, a word found whole in the vocabulary is one
// token without merging.
type bpeModel struct {
	vocab        map[string]int
	merges       map[uint64]mergeInfo // key: left id << 32 | right id
	unk          string
	unkID        int // -1: none
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	byteIDs      [256]int
	mergeList    [][2]string // in rank order, kept for Save

	mu    sync.Mutex
	cache map[string][]int
}

type mergeInfo struct {
	rank  int32
	newID int32
}

// maxID bounds token ids, so that a corrupt file cannot make the id table
// huge (real vocabularies stay below a few hundred thousand).
const maxID = 1 << 24

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// The word cache holds words up to cacheMaxWord bytes, at most cacheLimit
// of them; it is cleared when full.
const (
	cacheLimit   = 1 << 16
	cacheMaxWord = 256
)

type bpeSpec struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

// parseMerges accepts both serializations: ["a b", …] (tokenizers < 0.20)
// and [["a", "b"], …].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("model.merges: not a list: %v", err)
	}
	out := make([][2]string, len(items))
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("model.merges[%d]: %q is not two tokens separated by a space", i, s)
			}
			out[i] = [2]string{a, b}
			continue
		}
		var pair []string
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("model.merges[%d]: want \"a b\" or [\"a\", \"b\"], got %.60s", i, it)
		}
		out[i] = [2]string{pair[0], pair[1]}
	}
	return out, nil
}

func newBPE(spec *bpeSpec) (*bpeModel, error) {
	if spec.Vocab == nil {
		return nil, fmt.Errorf("model.vocab: missing")
	}
	if spec.Dropout != nil && *spec.Dropout != 0 {
		return nil, fmt.Errorf("model.dropout: %v is not supported (only null or 0)", *spec.Dropout)
	}
	m := &bpeModel{vocab: spec.Vocab, unkID: -1, fuseUnk: spec.FuseUnk, byteFallback: spec.ByteFallback,
		ignoreMerges: spec.IgnoreMerges, cache: map[string][]int{}}
	for tok, id := range spec.Vocab {
		if id < 0 || id >= maxID {
			return nil, fmt.Errorf("model.vocab[%q]: id %d out of range [0, %d)", tok, id, maxID)
		}
	}
	if spec.ContinuingSubwordPrefix != nil {
		m.prefix = *spec.ContinuingSubwordPrefix
	}
	if spec.EndOfWordSuffix != nil {
		m.suffix = *spec.EndOfWordSuffix
	}
	if spec.UnkToken != nil {
		m.unk = *spec.UnkToken
		id, ok := spec.Vocab[m.unk]
		if !ok {
			return nil, fmt.Errorf("model.unk_token: %q is not in model.vocab", m.unk)
		}
		m.unkID = id
	}
	for b := 0; b < 256; b++ {
		m.byteIDs[b] = -1
		if id, ok := spec.Vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	merges, err := parseMerges(spec.Merges)
	if err != nil {
		return nil, err
	}
	m.mergeList = merges
	m.merges = make(map[uint64]mergeInfo, len(merges))
	for rank, mg := range merges {
		a, ok := spec.Vocab[mg[0]]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: token %q is not in model.vocab", rank, mg[0])
		}
		b, ok := spec.Vocab[mg[1]]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: token %q is not in model.vocab", rank, mg[1])
		}
		right := mg[1]
		if m.prefix != "" {
			right = strings.TrimPrefix(right, m.prefix)
		}
		n, ok := spec.Vocab[mg[0]+right]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: merged token %q is not in model.vocab", rank, mg[0]+right)
		}
		m.merges[pairKey(a, b)] = mergeInfo{rank: int32(rank), newID: int32(n)}
	}
	return m, nil
}

// tokenize returns the ids of one pre-token. The result must not be
// modified: it may be shared with the cache.
func (m *bpeModel) tokenize(word string) ([]int, error) {
	if word == "" {
		return nil, nil
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return []int{id}, nil
		}
	}
	m.mu.Lock()
	ids, ok := m.cache[word]
	m.mu.Unlock()
	if ok {
		return ids, nil
	}
	ids = m.merge(m.initialSymbols(word))
	if len(word) > cacheMaxWord {
		return ids, nil
	}
	m.mu.Lock()
	if len(m.cache) >= cacheLimit {
		clear(m.cache)
	}
	m.cache[word] = ids
	m.mu.Unlock()
	return ids, nil
}

// initialSymbols splits word into character symbols (ids).
func (m *bpeModel) initialSymbols(word string) []int {
	syms := make([]int, 0, len(word))
	pendingUnk := false // an unk symbol waiting to be emitted (fuse_unk)
	for i, r := range word {
		end := i + len(string(r))
		s := word[i:end]
		if i > 0 && m.prefix != "" {
			s = m.prefix + s
		}
		if end == len(word) && m.suffix != "" {
			s += m.suffix
		}
		if id, ok := m.vocab[s]; ok {
			if pendingUnk {
				syms = append(syms, m.unkID)
				pendingUnk = false
			}
			syms = append(syms, id)
			continue
		}
		if m.byteFallback {
			all := true
			for j := 0; j < len(s); j++ {
				if m.byteIDs[s[j]] < 0 {
					all = false
					break
				}
			}
			if all {
				// As in Hugging Face tokenizers, byte tokens are added
				// without first flushing a pending unk.
				for j := 0; j < len(s); j++ {
					syms = append(syms, m.byteIDs[s[j]])
				}
				continue
			}
		}
		if m.unkID >= 0 {
			if pendingUnk && !m.fuseUnk {
				syms = append(syms, m.unkID)
			}
			pendingUnk = true
		}
	}
	if pendingUnk {
		syms = append(syms, m.unkID)
	}
	return syms
}

type mergeCand struct {
	rank  int32
	pos   int32
	newID int32
}

func candLess(a, b mergeCand) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// merge applies the merges to the symbols: always the pair of lowest rank,
// the leftmost among equals.
func (m *bpeModel) merge(ids []int) []int {
	n := len(ids)
	if n < 2 || len(m.merges) == 0 {
		return ids
	}
	prev := make([]int32, n)
	next := make([]int32, n)
	alive := make([]bool, n)
	for i := range ids {
		prev[i] = int32(i - 1)
		next[i] = int32(i + 1)
		alive[i] = true
	}
	next[n-1] = -1
	h := make([]mergeCand, 0, n)
	push := func(c mergeCand) {
		h = append(h, c)
		i := len(h) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !candLess(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
	}
	pop := func() mergeCand {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		i := 0
		for {
			l := 2*i + 1
			if l >= len(h) {
				break
			}
			c := l
			if r := l + 1; r < len(h) && candLess(h[r], h[l]) {
				c = r
			}
			if !candLess(h[c], h[i]) {
				break
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
		return top
	}
	for i := 0; i+1 < n; i++ {
		if mi, ok := m.merges[pairKey(ids[i], ids[i+1])]; ok {
			push(mergeCand{rank: mi.rank, pos: int32(i), newID: mi.newID})
		}
	}
	for len(h) > 0 {
		top := pop()
		p := top.pos
		if !alive[p] || next[p] < 0 {
			continue
		}
		q := next[p]
		mi, ok := m.merges[pairKey(ids[p], ids[q])]
		if !ok || mi.newID != top.newID {
			continue // stale entry
		}
		ids[p] = int(top.newID)
		alive[q] = false
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if pp := prev[p]; pp >= 0 {
			if mi, ok := m.merges[pairKey(ids[pp], ids[p])]; ok {
				push(mergeCand{rank: mi.rank, pos: pp, newID: mi.newID})
			}
		}
		if nn := next[p]; nn >= 0 {
			if mi, ok := m.merges[pairKey(ids[p], ids[nn])]; ok {
				push(mergeCand{rank: mi.rank, pos: p, newID: mi.newID})
			}
		}
	}
	out := make([]int, 0, n)
	for i := 0; i >= 0; i = int(next[i]) {
		out = append(out, ids[i])
	}
	return out
}
