// Package tokenizer reads Hugging Face tokenizer.json files with a BPE model
// and turns text into the same ids as the Hugging Face tokenizers library,
// and ids back into text.
//
// Two families are supported:
//
//   - byte-level BPE (GPT-2, Llama-3, Qwen2): a ByteLevel pre-tokenizer or a
//     Split with the model's regex followed by ByteLevel, GPT-2's
//     byte-to-unicode table, merges by rank, the ByteLevel decoder;
//   - SentencePiece-style BPE (Llama-2, Mistral): Prepend/Replace
//     normalizers or the Metaspace pre-tokenizer (▁ for spaces),
//     byte_fallback to <0xNN> tokens, fuse_unk, and the Replace,
//     ByteFallback, Fuse, Strip decoders.
//
// Encoding follows the library's pipeline: added tokens (special tokens
// such as <s> or <|endoftext|>) are split out of the raw text first; the
// rest is normalized, pre-tokenized, and each pre-token is given to the BPE
// model; the post-processor (TemplateProcessing) adds BOS and the like when
// asked. WordPiece, Unigram and WordLevel models are refused.
//
// Split patterns are run by a small backtracking regex engine (regex.go)
// with Oniguruma's semantics, because Go's regexp has no look-ahead and the
// GPT-2 family of patterns needs \s+(?!\S); GPT-2's own pattern also has a
// hand-written matcher (gpt2split.go), checked against the engine.
// NFC/NFD/NFKC/NFKD normalizers use tables generated from Unicode data
// (unorm.go). The truncation and padding sections of tokenizer.json are
// ignored, as transformers does unless asked.
//
// TrainByteLevel learns a GPT-2 style byte-level BPE tokenizer from a corpus
// and Save writes it (or a loaded tokenizer) as Hugging Face files.
package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenizer encodes text to ids and decodes ids to text. It is safe for
// concurrent use.
type Tokenizer struct {
	model      *bpeModel
	normalizer normalizer
	pre        preTokenizer
	post       postProcessor
	dec        decoder

	added          []addedToken
	addedByID      map[int]*addedToken
	addedByContent map[string]int
	rawMatch       *addedMatcher // added tokens with normalized=false
	normMatch      *addedMatcher // added tokens with normalized=true

	idToToken []string
	idKnown   []bool

	bos, eos         int
	pad              int // -1: none
	chatTemplate     string
	cleanUpSpaces    bool
	tokenizerJSON    []byte // as read, for Save
	tokenizerConfig  []byte // as read, for Save (nil: none)
	specialTokensMap []byte // special_tokens_map.json as read (nil: none)
	chatTemplateRaw  []byte // chat_template.jinja as read (nil: none)
	ggufPre          string // tokenizer.ggml.pre of a byte-level BPE read from a GGUF ("" otherwise)
}

type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type fileSpec struct {
	AddedTokens   []json.RawMessage `json:"added_tokens"`
	Normalizer    json.RawMessage   `json:"normalizer"`
	PreTokenizer  json.RawMessage   `json:"pre_tokenizer"`
	PostProcessor json.RawMessage   `json:"post_processor"`
	Decoder       json.RawMessage   `json:"decoder"`
	Model         json.RawMessage   `json:"model"`
}

// Load reads a tokenizer. path is a tokenizer.json file, a model
// directory holding one, or a .gguf file with a byte-level or SentencePiece-style BPE tokenizer in
// its tokenizer.ggml.* metadata (see loadGGUF). tokenizer_config.json (bos_token, eos_token,
// add_bos_token, add_eos_token, chat_template, clean_up_tokenization_spaces),
// special_tokens_map.json (bos_token, eos_token) and chat_template.jinja are
// read too when they sit beside tokenizer.json.
func Load(path string) (*Tokenizer, error) {
	if strings.EqualFold(filepath.Ext(path), ".gguf") {
		return loadGGUF(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	dir, file := filepath.Dir(path), path
	readSidecars := filepath.Base(path) == "tokenizer.json"
	if st.IsDir() {
		dir, file = path, filepath.Join(path, "tokenizer.json")
		readSidecars = true
		if _, err := os.Stat(file); err != nil {
			if _, err2 := os.Stat(filepath.Join(path, "tokenizer.model")); err2 == nil {
				return nil, fmt.Errorf("tokenizer: %s has tokenizer.model (SentencePiece) but no tokenizer.json; convert it with Hugging Face transformers first", path)
			}
			return nil, fmt.Errorf("tokenizer: %s has no tokenizer.json", path)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	sc := sidecars{
		cfgName: filepath.Join(dir, "tokenizer_config.json"),
		stmName: filepath.Join(dir, "special_tokens_map.json"),
	}
	if readSidecars {
		if sc.cfg, err = readOptional(sc.cfgName); err != nil {
			return nil, err
		}
		if sc.stm, err = readOptional(sc.stmName); err != nil {
			return nil, err
		}
		if sc.tmpl, err = readOptional(filepath.Join(dir, "chat_template.jinja")); err != nil {
			return nil, err
		}
	}
	return parseFiles(data, file, sc)
}

// sidecars are the optional files read beside tokenizer.json (nil: absent).
type sidecars struct {
	cfg, stm, tmpl   []byte
	cfgName, stmName string
}

func readOptional(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return b, nil
}

// parse builds a tokenizer from the bytes of tokenizer.json (named name in
// errors) and, if cfg is not nil, tokenizer_config.json (named cfgName).
func parse(data []byte, name string, cfg []byte, cfgName string, tmpl []byte) (*Tokenizer, error) {
	return parseFiles(data, name, sidecars{cfg: cfg, cfgName: cfgName, tmpl: tmpl})
}

// parseFiles builds a tokenizer from tokenizer.json and its sidecar files.
// BOS and EOS come from tokenizer_config.json, else special_tokens_map.json,
// else are guessed from the names of the special tokens; the padding token
// comes from those files or is none.
func parseFiles(data []byte, name string, sc sidecars) (*Tokenizer, error) {
	t, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t.tokenizerJSON = data
	if err := t.applySidecars(sc); err != nil {
		return nil, err
	}
	return t, nil
}

// applySidecars sets what the sidecar files say on a tokenizer built from
// tokenizer.json; errors name the sidecar file.
func (t *Tokenizer) applySidecars(sc sidecars) error {
	t.chatTemplateRaw = sc.tmpl
	if sc.tmpl != nil {
		t.chatTemplate = string(sc.tmpl)
	}
	t.bos, t.eos = t.guessBOSEOS()
	t.pad = -1
	if sc.stm != nil {
		if err := t.applyConfig(sc.stm, false); err != nil {
			return fmt.Errorf("%s: %w", sc.stmName, err)
		}
		t.specialTokensMap = sc.stm
	}
	if sc.cfg != nil {
		if err := t.applyConfig(sc.cfg, true); err != nil {
			return fmt.Errorf("%s: %w", sc.cfgName, err)
		}
		t.tokenizerConfig = sc.cfg
	}
	return nil
}

func parseTokenizerJSON(data []byte) (*Tokenizer, error) {
	var spec fileSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if len(spec.Model) == 0 || string(spec.Model) == "null" {
		return nil, fmt.Errorf("model: missing")
	}
	var mt struct {
		Type   string          `json:"type"`
		Merges json.RawMessage `json:"merges"`
	}
	if err := json.Unmarshal(spec.Model, &mt); err != nil {
		return nil, fmt.Errorf("model: %v", err)
	}
	if mt.Type == "" && len(mt.Merges) > 0 {
		mt.Type = "BPE"
	}
	switch mt.Type {
	case "BPE":
	case "":
		return nil, fmt.Errorf("model.type: missing")
	case "WordPiece", "Unigram", "WordLevel":
		return nil, fmt.Errorf("model.type: %q tokenizers are not supported; golora reads BPE tokenizers only (byte-level as in GPT-2, Llama-3, Qwen2, or SentencePiece-style as in Llama-2, Mistral)", mt.Type)
	default:
		return nil, fmt.Errorf("model.type: unknown model type %q (only BPE is supported)", mt.Type)
	}
	var bs bpeSpec
	if err := json.Unmarshal(spec.Model, &bs); err != nil {
		return nil, fmt.Errorf("model: %v", err)
	}
	model, err := newBPE(&bs)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{model: model, addedByID: map[int]*addedToken{}}
	if t.normalizer, err = parseNormalizer(spec.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(spec.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if t.post, err = parsePostProcessor(spec.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	if t.dec, err = parseDecoder(spec.Decoder, "decoder"); err != nil {
		return nil, err
	}
	for i, raw := range spec.AddedTokens {
		a := addedToken{ID: -1, Normalized: true}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("added_tokens[%d]: %v", i, err)
		}
		if a.ID < 0 || a.ID >= maxID {
			return nil, fmt.Errorf("added_tokens[%d].id: missing or out of range [0, %d)", i, maxID)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d].content: empty", i)
		}
		if !utf8.ValidString(a.Content) {
			return nil, fmt.Errorf("added_tokens[%d].content: not valid UTF-8", i)
		}
		t.added = append(t.added, a)
	}
	t.addedByContent = make(map[string]int, len(t.added))
	for i := range t.added {
		t.addedByID[t.added[i].ID] = &t.added[i]
		if _, dup := t.addedByContent[t.added[i].Content]; !dup {
			t.addedByContent[t.added[i].Content] = t.added[i].ID
		}
	}
	if err := t.buildMatchers(); err != nil {
		return nil, err
	}
	t.buildIDTable()
	return t, nil
}

func (t *Tokenizer) buildIDTable() {
	size := 0
	for _, id := range t.model.vocab {
		size = max(size, id+1)
	}
	for _, a := range t.added {
		size = max(size, a.ID+1)
	}
	t.idToToken = make([]string, size)
	t.idKnown = make([]bool, size)
	// Deterministic choice when two tokens share an id: the smaller string.
	toks := make([]string, 0, len(t.model.vocab))
	for tok := range t.model.vocab {
		toks = append(toks, tok)
	}
	sort.Strings(toks)
	for i := len(toks) - 1; i >= 0; i-- {
		id := t.model.vocab[toks[i]]
		t.idToToken[id] = toks[i]
		t.idKnown[id] = true
	}
	for _, a := range t.added {
		t.idToToken[a.ID] = a.Content
		t.idKnown[a.ID] = true
	}
}

func (t *Tokenizer) buildMatchers() error {
	var raw, norm []matchToken
	for i := range t.added {
		a := &t.added[i]
		if !a.Normalized {
			raw = append(raw, matchToken{content: a.Content, tok: a})
			continue
		}
		c := a.Content
		if t.normalizer != nil {
			var err error
			if c, err = t.normalizer.normalize(c); err != nil {
				return fmt.Errorf("added_tokens: normalizing %q: %w", a.Content, err)
			}
		}
		if c != "" {
			norm = append(norm, matchToken{content: c, tok: a})
		}
	}
	t.rawMatch = newAddedMatcher(raw)
	t.normMatch = newAddedMatcher(norm)
	return nil
}

// configToken reads a special-token entry of tokenizer_config.json: a
// string, an AddedToken object {"content": …}, or null.
func configToken(raw json.RawMessage, field string) (string, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", false, fmt.Errorf("%s: want a string or {\"content\": …}", field)
	}
	return *obj.Content, true, nil
}

// applyConfig reads bos_token, eos_token and pad_token from
// tokenizer_config.json or special_tokens_map.json and, when full (tokenizer_config.json), also
// add_bos_token, add_eos_token, chat_template and
// clean_up_tokenization_spaces.
func (t *Tokenizer) applyConfig(data []byte, full bool) error {
	var cfg struct {
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
		Pad          json.RawMessage `json:"pad_token"`
		AddBOS       *bool           `json:"add_bos_token"`
		AddEOS       *bool           `json:"add_eos_token"`
		ChatTemplate json.RawMessage `json:"chat_template"`
		CleanUp      *bool           `json:"clean_up_tokenization_spaces"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	resolve := func(raw json.RawMessage, field string) (int, error) {
		tok, ok, err := configToken(raw, field)
		if err != nil || !ok {
			return -1, err
		}
		id, found := t.TokenID(tok)
		if !found {
			return -1, fmt.Errorf("%s: %q is not in the vocabulary", field, tok)
		}
		return id, nil
	}
	bos, err := resolve(cfg.BOS, "bos_token")
	if err != nil {
		return err
	}
	eos, err := resolve(cfg.EOS, "eos_token")
	if err != nil {
		return err
	}
	pad, err := resolve(cfg.Pad, "pad_token")
	if err != nil {
		return err
	}
	if cfg.BOS != nil { // present, possibly null
		t.bos = bos
	}
	if cfg.EOS != nil {
		t.eos = eos
	}
	if cfg.Pad != nil {
		t.pad = pad
	}
	if !full {
		return nil
	}
	// transformers rebuilds the post-processor from these flags
	// (LlamaTokenizerFast.update_post_processor).
	if cfg.AddBOS != nil || cfg.AddEOS != nil {
		var tp templatePostProcessor
		if cfg.AddBOS != nil && *cfg.AddBOS {
			if t.bos < 0 {
				return fmt.Errorf("add_bos_token: true but bos_token is not set")
			}
			tp.items = append(tp.items, []int{t.bos})
		}
		tp.items = append(tp.items, nil)
		if cfg.AddEOS != nil && *cfg.AddEOS {
			if t.eos < 0 {
				return fmt.Errorf("add_eos_token: true but eos_token is not set")
			}
			tp.items = append(tp.items, []int{t.eos})
		}
		t.post = tp
	}
	if cfg.CleanUp != nil {
		t.cleanUpSpaces = *cfg.CleanUp
	}
	if len(cfg.ChatTemplate) > 0 && string(cfg.ChatTemplate) != "null" {
		var s string
		if err := json.Unmarshal(cfg.ChatTemplate, &s); err == nil {
			t.chatTemplate = s
		} else {
			var list []struct {
				Name     string `json:"name"`
				Template string `json:"template"`
			}
			if err := json.Unmarshal(cfg.ChatTemplate, &list); err != nil {
				return fmt.Errorf("chat_template: want a string or a list of {name, template}")
			}
			for i, e := range list {
				if e.Name == "default" || i == 0 {
					t.chatTemplate = e.Template
				}
			}
		}
	}
	return nil
}

// guessBOSEOS picks BOS and EOS by name among the special added tokens,
// for a tokenizer.json without tokenizer_config.json.
func (t *Tokenizer) guessBOSEOS() (bos, eos int) {
	find := func(names ...string) int {
		for _, n := range names {
			for _, a := range t.added {
				if a.Special && a.Content == n {
					return a.ID
				}
			}
		}
		return -1
	}
	bos = find("<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "<|endoftext|>")
	eos = find("</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>")
	return bos, eos
}

// Encode turns text into token ids. With addSpecial the post-processor adds
// the model's special tokens (for example BOS for Llama). Text that is not
// valid UTF-8 is refused.
func (t *Tokenizer) Encode(text string, addSpecial bool) ([]int, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("tokenizer: text is not valid UTF-8 (byte offset %d)", invalidOffset(text))
	}
	var ids []int
	err := t.preTokens(text, func(word string, id int) error {
		if id >= 0 {
			ids = append(ids, id)
			return nil
		}
		w, err := t.model.tokenize(word)
		ids = append(ids, w...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if addSpecial && t.post != nil {
		ids = t.post.process(ids)
	}
	if ids == nil {
		ids = []int{}
	}
	return ids, nil
}

// preTokens calls fn, in order, with each added token of text (its id, word
// "") and each pre-token the BPE model is given (id -1): the pieces between
// added tokens, normalized and pre-tokenized.
func (t *Tokenizer) preTokens(text string, fn func(word string, id int) error) error {
	return t.pieces(text, func(p piece) error {
		if p.id >= 0 {
			return fn("", p.id)
		}
		if t.pre == nil {
			return fn(p.text, -1)
		}
		var werr error
		err := t.pre.preTokenize(p.text, p.atStart, func(s string, _ bool) {
			if werr == nil {
				werr = fn(s, -1)
			}
		})
		if err != nil {
			return err
		}
		return werr
	})
}

func invalidOffset(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// pieces splits out added tokens, then normalizes the rest, calling fn on
// each non-empty piece in order.
func (t *Tokenizer) pieces(text string, fn func(piece) error) error {
	for _, p := range t.rawMatch.split(text, true) {
		if p.id >= 0 {
			if err := fn(p); err != nil {
				return err
			}
			continue
		}
		s := p.text
		if t.normalizer != nil {
			var err error
			if s, err = t.normalizer.normalize(s); err != nil {
				return err
			}
		}
		for _, q := range t.normMatch.split(s, p.atStart) {
			if q.id < 0 && q.text == "" {
				continue
			}
			if err := fn(q); err != nil {
				return err
			}
		}
	}
	return nil
}

// Decode turns ids back into text. With skipSpecial, special added tokens
// (BOS, EOS, …) are left out. An id outside the vocabulary is an error.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (string, error) {
	toks := make([]string, 0, len(ids))
	for i, id := range ids {
		if id < 0 || id >= len(t.idKnown) || !t.idKnown[id] {
			return "", fmt.Errorf("tokenizer: decode: ids[%d] = %d is not in the vocabulary (size %d)", i, id, t.VocabSize())
		}
		if a, ok := t.addedByID[id]; ok && skipSpecial && a.Special {
			continue
		}
		toks = append(toks, t.idToToken[id])
	}
	var out string
	if t.dec == nil {
		out = strings.Join(joinDecoder{}.decodeChain(toks), "")
	} else {
		out = strings.Join(t.dec.decodeChain(toks), "")
	}
	if t.cleanUpSpaces {
		out = cleanUpTokenization(out)
	}
	return out, nil
}

// cleanUpTokenization is transformers' clean_up_tokenization: it removes the
// space before punctuation and English contractions.
func cleanUpTokenization(s string) string {
	for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// VocabSize is the number of ids, added tokens included: the largest id + 1.
func (t *Tokenizer) VocabSize() int { return len(t.idToToken) }

// BOS is the id of the beginning-of-sequence token, or -1 if there is none.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS is the id of the end-of-sequence token, or -1 if there is none.
func (t *Tokenizer) EOS() int { return t.eos }

// Pad is the id of the padding token (tokenizer_config.json's pad_token),
// or -1 if there is none.
func (t *Tokenizer) Pad() int { return t.pad }

// TokenID returns the id of a token string (added tokens first, then the
// model's vocabulary).
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	if id, ok := t.addedByContent[tok]; ok {
		return id, true
	}
	id, ok := t.model.vocab[tok]
	return id, ok
}

// Token returns the string of token id as stored in the vocabulary (for
// byte-level models the byte-level form, e.g. "Ġthe"), or "" if the id is
// unknown.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.idToToken) {
		return ""
	}
	return t.idToToken[id]
}

// IsSpecial reports whether id is a special added token (such as BOS/EOS).
func (t *Tokenizer) IsSpecial(id int) bool {
	a, ok := t.addedByID[id]
	return ok && a.Special
}

// ChatTemplate returns the raw chat_template of tokenizer_config.json (or
// of chat_template.jinja), or "" if there is none.
func (t *Tokenizer) ChatTemplate() string { return t.chatTemplate }

// GGUFPre is the tokenizer.ggml.pre name (llama.cpp's pre-tokenizer) of a
// byte-level BPE tokenizer read from a GGUF file, "" for one read from a
// Hugging Face directory or a SentencePiece-style one.
func (t *Tokenizer) GGUFPre() string { return t.ggufPre }

// ---- added tokens ----

type matchToken struct {
	content string
	tok     *addedToken
}

// addedMatcher finds added tokens in text, leftmost-longest as the
// Aho-Corasick automaton of Hugging Face tokenizers does.
type addedMatcher struct {
	byFirst [256][]matchToken // by first byte, longest first
	empty   bool
}

func newAddedMatcher(toks []matchToken) *addedMatcher {
	m := &addedMatcher{empty: len(toks) == 0}
	for _, t := range toks {
		m.byFirst[t.content[0]] = append(m.byFirst[t.content[0]], t)
	}
	for _, l := range m.byFirst {
		sort.SliceStable(l, func(i, j int) bool { return len(l[i].content) > len(l[j].content) })
	}
	return m
}

func (m *addedMatcher) find(s string, from int) (int, int, *addedToken) {
	if m.empty {
		return -1, -1, nil
	}
	for i := from; i < len(s); i++ {
		for _, c := range m.byFirst[s[i]] {
			if strings.HasPrefix(s[i:], c.content) {
				return i, i + len(c.content), c.tok
			}
		}
	}
	return -1, -1, nil
}

func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || unicode.Is(unicode.Pc, r) || r == '\u200c' || r == '\u200d'
}

// split cuts s into ordinary pieces and added-token pieces, applying the
// tokens' single_word, lstrip and rstrip options like Hugging Face's
// AddedVocabulary.find_matches.
func (m *addedMatcher) split(s string, atStart bool) []piece {
	var out []piece
	pos, scan := 0, 0
	for {
		st, en, tok := m.find(s, scan)
		if tok == nil {
			break
		}
		scan = en
		if tok.SingleWord {
			startOK := st == 0
			if !startOK {
				r, _ := utf8.DecodeLastRuneInString(s[:st])
				startOK = !isWordChar(r)
			}
			stopOK := en == len(s)
			if !stopOK {
				r, _ := utf8.DecodeRuneInString(s[en:])
				stopOK = !isWordChar(r)
			}
			if !startOK || !stopOK {
				continue
			}
		}
		if tok.LStrip {
			st = max(len(strings.TrimRightFunc(s[:st], unicode.IsSpace)), pos)
		}
		if tok.RStrip {
			en = len(s) - len(strings.TrimLeftFunc(s[en:], unicode.IsSpace))
		}
		st = max(st, pos)
		if pos < st {
			out = append(out, piece{text: s[pos:st], atStart: atStart && pos == 0, id: -1})
		}
		out = append(out, piece{text: s[st:en], id: tok.ID})
		pos = en
		scan = max(scan, pos)
	}
	if pos < len(s) || (pos == 0 && len(s) == 0) {
		out = append(out, piece{text: s[pos:], atStart: atStart && pos == 0, id: -1})
	}
	return out
}

// parseSequence parses the list under key of a "Sequence" component of
// tokenizer.json with parse, naming each entry field.key[i] in errors and
// dropping entries that parse to nil.
func parseSequence[T comparable](raw json.RawMessage, field, key string, parse func(json.RawMessage, string) (T, error)) ([]T, error) {
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	var items []json.RawMessage
	if list, ok := spec[key]; ok {
		if err := json.Unmarshal(list, &items); err != nil {
			return nil, fmt.Errorf("%s.%s: %v", field, key, err)
		}
	}
	var zero T
	var out []T
	for i, r := range items {
		x, err := parse(r, fmt.Sprintf("%s.%s[%d]", field, key, i))
		if err != nil {
			return nil, err
		}
		if x != zero {
			out = append(out, x)
		}
	}
	return out, nil
}
