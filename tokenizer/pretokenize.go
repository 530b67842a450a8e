package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is a span of text on its way through the pipeline.
type piece struct {
	text    string
	atStart bool // begins at offset 0 of the original input
	id      int  // added-token id, or -1 for ordinary text
}

// preTokenizer splits (and may rewrite) pieces into pre-tokens. Each
// pre-token is then given to the model on its own.
type preTokenizer interface {
	preTokenize(text string, atStart bool, emit func(text string, atStart bool)) error
}

// splitBehavior says what becomes of the delimiters a Split finds.
type splitBehavior int

const (
	behRemoved splitBehavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

func parseBehavior(s, field string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return behRemoved, nil
	case "Isolated":
		return behIsolated, nil
	case "MergedWithPrevious":
		return behMergedWithPrevious, nil
	case "MergedWithNext":
		return behMergedWithNext, nil
	case "Contiguous":
		return behContiguous, nil
	}
	return 0, fmt.Errorf("%s: unknown split behavior %q", field, s)
}

type span struct {
	start, end int
	match      bool
}

// splitSpans turns delimiter matches into the pieces of s that a Split with
// the given behavior keeps, following Hugging Face's NormalizedString.split.
func splitSpans(s string, matches [][2]int, beh splitBehavior, invert bool) []span {
	var spans []span
	prev := 0
	for _, m := range matches {
		if prev < m[0] {
			spans = append(spans, span{prev, m[0], false})
		}
		spans = append(spans, span{m[0], m[1], true})
		prev = m[1]
	}
	if prev < len(s) {
		spans = append(spans, span{prev, len(s), false})
	}
	if invert {
		for i := range spans {
			spans[i].match = !spans[i].match
		}
	}
	var out []span
	switch beh {
	case behIsolated:
		out = spans
	case behRemoved:
		for _, sp := range spans {
			if !sp.match {
				out = append(out, sp)
			}
		}
	case behMergedWithPrevious:
		prevMatch := false
		for _, sp := range spans {
			if sp.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].end = sp.end
			} else {
				out = append(out, span{sp.start, sp.end, false})
			}
			prevMatch = sp.match
		}
	case behMergedWithNext:
		prevMatch := false
		for i := len(spans) - 1; i >= 0; i-- {
			sp := spans[i]
			if sp.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].start = sp.start
			} else {
				out = append(out, span{sp.start, sp.end, false})
			}
			prevMatch = sp.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case behContiguous:
		started := false
		prevMatch := false
		for _, sp := range spans {
			if started && sp.match == prevMatch {
				out[len(out)-1].end = sp.end
			} else {
				out = append(out, span{sp.start, sp.end, false})
			}
			started = true
			prevMatch = sp.match
		}
	}
	return out
}

func emitSpans(s string, atStart bool, spans []span, emit func(string, bool)) {
	for _, sp := range spans {
		if sp.end > sp.start {
			emit(s[sp.start:sp.end], atStart && sp.start == 0)
		}
	}
}

type seqPreTokenizer []preTokenizer

func (seq seqPreTokenizer) preTokenize(text string, atStart bool, emit func(string, bool)) error {
	type p struct {
		s  string
		at bool
	}
	cur := []p{{text, atStart}}
	for _, pt := range seq {
		var nxt []p
		for _, c := range cur {
			if err := pt.preTokenize(c.s, c.at, func(s string, at bool) { nxt = append(nxt, p{s, at}) }); err != nil {
				return err
			}
		}
		cur = nxt
	}
	for _, c := range cur {
		emit(c.s, c.at)
	}
	return nil
}

// gpt2Pattern is the split pattern of GPT-2, used by ByteLevel with
// use_regex. gpt2Split implements it by hand; gpt2Regex is the same
// pattern run by the regex engine, kept to check one against the other.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

var gpt2Regex = mustCompile(gpt2Pattern)

func mustCompile(src string) *regex {
	re, err := compileRegex(src)
	if err != nil {
		panic(err)
	}
	return re
}

// byteLevelPreTokenizer is GPT-2's pre-tokenizer: an optional leading
// space, the GPT-2 split, then every byte mapped to its printable rune.
type byteLevelPreTokenizer struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b byteLevelPreTokenizer) preTokenize(text string, atStart bool, emit func(string, bool)) error {
	if b.addPrefixSpace && !strings.HasPrefix(text, " ") {
		text = " " + text
	}
	if !b.useRegex {
		emit(byteLevelEncode(text), atStart)
		return nil
	}
	for _, m := range gpt2Split(text) { // the matches cover the text
		emit(byteLevelEncode(text[m[0]:m[1]]), atStart && m[0] == 0)
	}
	return nil
}

type splitPreTokenizer struct {
	pat    *pattern
	beh    splitBehavior
	invert bool
}

func (p splitPreTokenizer) preTokenize(text string, atStart bool, emit func(string, bool)) error {
	ms, err := p.pat.findAll(text)
	if err != nil {
		return err
	}
	emitSpans(text, atStart, splitSpans(text, ms, p.beh, p.invert), emit)
	return nil
}

type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspacePreTokenizer replaces spaces by the replacement rune (▁),
// prepends one according to the scheme and, with split, cuts the text
// before each replacement rune.
type metaspacePreTokenizer struct {
	replacement string
	scheme      prependScheme
	split       bool
}

func (m metaspacePreTokenizer) preTokenize(text string, atStart bool, emit func(string, bool)) error {
	text = strings.ReplaceAll(text, " ", m.replacement)
	switch m.scheme {
	case prependAlways:
		if !strings.HasPrefix(text, m.replacement) {
			text = m.replacement + text
		}
	case prependFirst:
		if !strings.HasPrefix(text, m.replacement) && atStart {
			text = m.replacement + text
		}
	}
	if !m.split {
		emit(text, atStart)
		return nil
	}
	ms, _ := (&pattern{lit: m.replacement}).findAll(text)
	emitSpans(text, atStart, splitSpans(text, ms, behMergedWithNext, false), emit)
	return nil
}

// funcSplitPreTokenizer splits on runes chosen by a predicate.
type funcSplitPreTokenizer struct {
	is  func(rune) bool
	beh splitBehavior
}

func (f funcSplitPreTokenizer) preTokenize(text string, atStart bool, emit func(string, bool)) error {
	var ms [][2]int
	for i, r := range text {
		if f.is(r) {
			ms = append(ms, [2]int{i, i + utf8.RuneLen(r)})
		}
	}
	emitSpans(text, atStart, splitSpans(text, ms, f.beh, false), emit)
	return nil
}

var whitespaceRegex = mustCompile(`\w+|[^\w\s]+`)

func isPunct(r rune) bool {
	return r < utf8.RuneSelf && (r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~') ||
		unicode.IsPunct(r)
}

func parsePreTokenizer(raw json.RawMessage, field string) (preTokenizer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var t typed
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	bad := func(err error) (preTokenizer, error) { return nil, fmt.Errorf("%s: %v", field, err) }
	switch t.Type {
	case "Sequence":
		seq, err := parseSequence(raw, field, "pretokenizers", parsePreTokenizer)
		return seqPreTokenizer(seq), err
	case "ByteLevel":
		spec := struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}{}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return bad(err)
		}
		b := byteLevelPreTokenizer{addPrefixSpace: true, useRegex: true}
		if spec.AddPrefixSpace != nil {
			b.addPrefixSpace = *spec.AddPrefixSpace
		}
		if spec.UseRegex != nil {
			b.useRegex = *spec.UseRegex
		}
		return b, nil
	case "Split":
		var spec struct {
			Pattern  patternSpec `json:"pattern"`
			Behavior string      `json:"behavior"`
			Invert   bool        `json:"invert"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return bad(err)
		}
		pat, err := compilePattern(spec.Pattern, field+".pattern")
		if err != nil {
			return nil, err
		}
		beh, err := parseBehavior(spec.Behavior, field+".behavior")
		if err != nil {
			return nil, err
		}
		return splitPreTokenizer{pat: pat, beh: beh, invert: spec.Invert}, nil
	case "Metaspace":
		var spec struct {
			Replacement    *string `json:"replacement"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
			PrependScheme  *string `json:"prepend_scheme"`
			Split          *bool   `json:"split"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return bad(err)
		}
		m := metaspacePreTokenizer{replacement: "\u2581", scheme: prependAlways, split: true}
		if spec.Replacement != nil {
			if utf8.RuneCountInString(*spec.Replacement) != 1 {
				return nil, fmt.Errorf("%s.replacement: %q is not one character", field, *spec.Replacement)
			}
			m.replacement = *spec.Replacement
		}
		if spec.AddPrefixSpace != nil && !*spec.AddPrefixSpace {
			m.scheme = prependNever
		}
		if spec.PrependScheme != nil {
			switch *spec.PrependScheme {
			case "always":
				m.scheme = prependAlways
			case "first":
				m.scheme = prependFirst
			case "never":
				m.scheme = prependNever
			default:
				return nil, fmt.Errorf("%s.prepend_scheme: unknown value %q", field, *spec.PrependScheme)
			}
		}
		if spec.Split != nil {
			m.split = *spec.Split
		}
		return m, nil
	case "Digits":
		var spec struct {
			IndividualDigits bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return bad(err)
		}
		beh := behContiguous
		if spec.IndividualDigits {
			beh = behIsolated
		}
		return funcSplitPreTokenizer{is: unicode.IsNumber, beh: beh}, nil
	case "WhitespaceSplit":
		return funcSplitPreTokenizer{is: unicode.IsSpace, beh: behRemoved}, nil
	case "Whitespace":
		return splitPreTokenizer{pat: &pattern{re: whitespaceRegex}, beh: behRemoved, invert: true}, nil
	case "Punctuation":
		var spec struct {
			Behavior *string `json:"behavior"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return bad(err)
		}
		beh := behIsolated
		if spec.Behavior != nil {
			var err error
			if beh, err = parseBehavior(*spec.Behavior, field+".behavior"); err != nil {
				return nil, err
			}
		}
		return funcSplitPreTokenizer{is: isPunct, beh: beh}, nil
	case "CharDelimiterSplit":
		var spec struct {
			Delimiter string `json:"delimiter"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return bad(err)
		}
		if utf8.RuneCountInString(spec.Delimiter) != 1 {
			return nil, fmt.Errorf("%s.delimiter: %q is not one character", field, spec.Delimiter)
		}
		d, _ := utf8.DecodeRuneInString(spec.Delimiter)
		return funcSplitPreTokenizer{is: func(r rune) bool { return r == d }, beh: behRemoved}, nil
	case "":
		return nil, fmt.Errorf("%s.type: missing", field)
	}
	return nil, fmt.Errorf("%s.type: pre-tokenizer %q is not supported", field, t.Type)
}
