package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/golora/golora/internal/atomicfile"
)

// TrainByteLevel learns a GPT-2 style byte-level BPE tokenizer from text.
//
// The text is cut at the special tokens, split with GPT-2's pattern and
// mapped to bytes; ids 0–255 are the 256 bytes (id b is byte b), then come
// the merges in the order learned, then the special tokens, so that
// VocabSize() == vocabSize. Each step merges the most frequent adjacent pair
// (ties: the smaller pair of ids), with pair counts updated incrementally
// from the words that contain the merged pair, so training on a few MB takes
// seconds. Training stops early when no pair is left.
//
// The special tokens become special added tokens. BOS and EOS are "<s>"
// and "</s>" (or "<|begin_of_text|>" and "<|end_of_text|>") when present,
// else both are the first special token (as GPT-2's <|endoftext|>).
func TrainByteLevel(text []byte, vocabSize int, specials []string) (*Tokenizer, error) {
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("tokenizer: train: corpus is not valid UTF-8 (byte offset %d)", invalidOffset(string(text)))
	}
	seen := map[string]bool{}
	for i, s := range specials {
		if s == "" || !utf8.ValidString(s) {
			return nil, fmt.Errorf("tokenizer: train: specials[%d] is empty or not valid UTF-8", i)
		}
		if seen[s] {
			return nil, fmt.Errorf("tokenizer: train: specials[%d] %q given twice", i, s)
		}
		seen[s] = true
	}
	if vocabSize < 256+len(specials) {
		return nil, fmt.Errorf("tokenizer: train: vocabSize %d is below 256 bytes + %d special tokens", vocabSize, len(specials))
	}

	// Word counts, after cutting out the special tokens.
	counts := map[string]int{}
	var toks []matchToken
	for _, s := range specials {
		toks = append(toks, matchToken{content: s, tok: &addedToken{ID: 0, Content: s}})
	}
	am := newAddedMatcher(toks)
	for _, p := range am.split(string(text), true) {
		if p.id >= 0 || p.text == "" {
			continue
		}
		for _, m := range gpt2Split(p.text) {
			counts[p.text[m[0]:m[1]]]++
		}
	}

	merges := learnMerges(counts, vocabSize-256-len(specials))

	// Token strings: bytes, then merges.
	tokens := make([]string, 256, 256+len(merges)+len(specials))
	for b := 0; b < 256; b++ {
		tokens[b] = string(byteToRune[b])
	}
	mergeStrs := make([][2]string, len(merges))
	for i, m := range merges {
		mergeStrs[i] = [2]string{tokens[m[0]], tokens[m[1]]}
		tokens = append(tokens, tokens[m[0]]+tokens[m[1]])
	}
	nModel := len(tokens)
	added := make([]addedToken, len(specials))
	for i, s := range specials {
		added[i] = addedToken{ID: nModel + i, Content: s, Special: true}
	}
	tj, err := byteLevelJSON(tokens, mergeStrs, added)
	if err != nil {
		return nil, err
	}
	// BOS/EOS by name, else the first special token.
	bosTok, eosTok := "", ""
	for _, pair := range [][2]string{{"<s>", "</s>"}, {"<|begin_of_text|>", "<|end_of_text|>"}} {
		if seen[pair[0]] && bosTok == "" {
			bosTok = pair[0]
		}
		if seen[pair[1]] && eosTok == "" {
			eosTok = pair[1]
		}
	}
	if eosTok == "" && len(specials) > 0 {
		eosTok = specials[0]
	}
	if bosTok == "" {
		bosTok = eosTok
	}
	cfg, err := tokenizerConfigJSON(added, bosTok, eosTok)
	if err != nil {
		return nil, err
	}
	return parse(tj, "trained tokenizer.json", cfg, "trained tokenizer_config.json", nil)
}

// learnMerges runs BPE training on byte sequences with their counts and
// returns up to n merges as pairs of ids (bytes are 0–255, merge i makes id
// 256+i).
func learnMerges(counts map[string]int, n int) [][2]int32 {
	type word struct {
		syms  []int32
		count int64
	}
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	sort.Strings(keys) // deterministic word order
	words := make([]word, len(keys))
	pairCount := map[uint64]int64{}
	where := map[uint64][]int32{}
	for wi, k := range keys {
		syms := make([]int32, len(k))
		for i := 0; i < len(k); i++ {
			syms[i] = int32(k[i])
		}
		c := int64(counts[k])
		words[wi] = word{syms, c}
		for i := 0; i+1 < len(syms); i++ {
			p := pairKey(int(syms[i]), int(syms[i+1]))
			pairCount[p] += c
			if w := where[p]; len(w) == 0 || w[len(w)-1] != int32(wi) {
				where[p] = append(w, int32(wi))
			}
		}
	}
	h := &pairHeap{}
	for p, c := range pairCount {
		h.items = append(h.items, pairItem{c, p})
	}
	h.init()

	stamp := make([]int32, len(words))
	for i := range stamp {
		stamp[i] = -1
	}
	var merges [][2]int32
	delta := map[uint64]int64{}
	for len(merges) < n && len(h.items) > 0 {
		top := h.pop()
		cur := pairCount[top.pair]
		if cur != top.count {
			if cur > 0 {
				h.push(pairItem{cur, top.pair})
			}
			continue
		}
		if cur <= 0 {
			continue
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		id := int32(256 + len(merges))
		merges = append(merges, [2]int32{a, b})
		clear(delta)
		step := int32(len(merges))
		for _, wi := range where[top.pair] {
			if stamp[wi] == step {
				continue
			}
			stamp[wi] = step
			w := &words[wi]
			s := w.syms
			out := s[:0]
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == a && s[i+1] == b {
					if len(out) > 0 {
						prev := out[len(out)-1]
						delta[pairKey(int(prev), int(a))] -= w.count
						delta[pairKey(int(prev), int(id))] += w.count
						addWhere(where, pairKey(int(prev), int(id)), int32(wi))
					}
					if i+2 < len(s) {
						next := s[i+2]
						delta[pairKey(int(b), int(next))] -= w.count
						delta[pairKey(int(id), int(next))] += w.count
						addWhere(where, pairKey(int(id), int(next)), int32(wi))
					}
					out = append(out, id)
					i++
					continue
				}
				out = append(out, s[i])
			}
			w.syms = out
		}
		delete(pairCount, top.pair)
		delete(where, top.pair)
		// The heap's order (count, then pair) is total, so the order of the
		// pushes does not change the result.
		for p, d := range delta {
			if d == 0 || p == top.pair {
				continue
			}
			c := pairCount[p] + d
			if c <= 0 {
				delete(pairCount, p)
				continue
			}
			pairCount[p] = c
			if d > 0 {
				h.push(pairItem{c, p})
			}
		}
	}
	return merges
}

func addWhere(where map[uint64][]int32, p uint64, wi int32) {
	if w := where[p]; len(w) == 0 || w[len(w)-1] != wi {
		where[p] = append(w, wi)
	}
}

type pairItem struct {
	count int64
	pair  uint64
}

// pairHeap is a max-heap on count; among equal counts the smaller pair
// comes first.
type pairHeap struct{ items []pairItem }

func (h *pairHeap) less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.count != b.count {
		return a.count > b.count
	}
	return a.pair < b.pair
}

func (h *pairHeap) init() {
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *pairHeap) push(it pairItem) {
	h.items = append(h.items, it)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *pairHeap) pop() pairItem {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	h.down(0)
	return top
}

func (h *pairHeap) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h.items[i], h.items[c] = h.items[c], h.items[i]
		i = c
	}
}

// marshalNoEscape is json.Marshal without HTML escaping (so "<s>" stays
// readable).
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// byteLevelJSON writes a GPT-2 style tokenizer.json: BPE model with the
// vocabulary in id order and merges as "a b" strings, ByteLevel
// pre-tokenizer, post-processor and decoder, and the added tokens.
func byteLevelJSON(tokens []string, merges [][2]string, added []addedToken) ([]byte, error) {
	var b bytes.Buffer
	w := func(s string) { b.WriteString(s) }
	str := func(s string) {
		j, _ := marshalNoEscape(s)
		b.Write(j)
	}
	w("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, a := range added {
		if i > 0 {
			w(",")
		}
		j, err := marshalNoEscape(a)
		if err != nil {
			return nil, err
		}
		w("\n    ")
		b.Write(j)
	}
	if len(added) > 0 {
		w("\n  ")
	}
	w("],\n  \"normalizer\": null,\n")
	w("  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n")
	w("  \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true},\n")
	w("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n")
	w("  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n")
	w("    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n")
	w("    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"vocab\": {")
	for id, t := range tokens {
		if id > 0 {
			w(",")
		}
		w("\n      ")
		str(t)
		w(": " + strconv.Itoa(id))
	}
	w("\n    },\n    \"merges\": [")
	for i, m := range merges {
		if i > 0 {
			w(",")
		}
		w("\n      ")
		str(m[0] + " " + m[1])
	}
	w("\n    ]\n  }\n}\n")
	return b.Bytes(), nil
}

// tokenizerConfigJSON writes the tokenizer_config.json of a trained tokenizer.
func tokenizerConfigJSON(added []addedToken, bos, eos string) ([]byte, error) {
	type atd struct {
		Content    string `json:"content"`
		LStrip     bool   `json:"lstrip"`
		Normalized bool   `json:"normalized"`
		RStrip     bool   `json:"rstrip"`
		SingleWord bool   `json:"single_word"`
		Special    bool   `json:"special"`
	}
	dec := map[string]atd{}
	for _, a := range added {
		dec[strconv.Itoa(a.ID)] = atd{Content: a.Content, Special: a.Special}
	}
	cfg := map[string]any{
		"add_bos_token":                false,
		"add_eos_token":                false,
		"added_tokens_decoder":         dec,
		"clean_up_tokenization_spaces": false,
		"tokenizer_class":              "PreTrainedTokenizerFast",
	}
	tok := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	cfg["bos_token"] = tok(bos)
	cfg["eos_token"] = tok(eos)
	cfg["unk_token"] = nil
	j, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	// MarshalIndent escapes HTML characters; undo that for readability.
	j = bytes.ReplaceAll(j, []byte(`\u003c`), []byte("<"))
	j = bytes.ReplaceAll(j, []byte(`\u003e`), []byte(">"))
	j = bytes.ReplaceAll(j, []byte(`\u0026`), []byte("&"))
	return append(j, '\n'), nil
}

// Save writes tokenizer.json and tokenizer_config.json (and
// special_tokens_map.json and chat_template.jinja when the tokenizer was
// loaded with them) into dir,
// creating dir if needed. Each file is written atomically. A loaded
// tokenizer writes back the files it was read from; a trained one writes
// the files TrainByteLevel made, which the Hugging Face libraries load.
func (t *Tokenizer) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	write := func(name string, data []byte) error {
		return atomicfile.Write(filepath.Join(dir, name), func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		})
	}
	if err := write("tokenizer.json", t.tokenizerJSON); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	if t.tokenizerConfig != nil {
		if err := write("tokenizer_config.json", t.tokenizerConfig); err != nil {
			return fmt.Errorf("tokenizer: save: %w", err)
		}
	}
	if t.specialTokensMap != nil {
		if err := write("special_tokens_map.json", t.specialTokensMap); err != nil {
			return fmt.Errorf("tokenizer: save: %w", err)
		}
	}
	if t.chatTemplateRaw != nil {
		if err := write("chat_template.jinja", t.chatTemplateRaw); err != nil {
			return fmt.Errorf("tokenizer: save: %w", err)
		}
	}
	return nil
}
