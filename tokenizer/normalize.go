package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// normalizer rewrites the text of one piece before pre-tokenization.
type normalizer interface {
	normalize(s string) (string, error)
}

type typed struct {
	Type string `json:"type"`
}

// patternSpec is {"String": "..."} or {"Regex": "..."}.
type patternSpec struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// pattern finds the delimiters of Split and Replace.
type pattern struct {
	lit string // literal, when re is nil
	re  *regex
}

func compilePattern(ps patternSpec, field string) (*pattern, error) {
	switch {
	case ps.String != nil:
		return &pattern{lit: *ps.String}, nil
	case ps.Regex != nil:
		re, err := compileRegex(*ps.Regex)
		if err != nil {
			return nil, fmt.Errorf("%s.Regex: %w", field, err)
		}
		return &pattern{re: re}, nil
	}
	return nil, fmt.Errorf("%s: want {\"String\": …} or {\"Regex\": …}", field)
}

// findAll returns the non-overlapping matches of the pattern in s.
func (p *pattern) findAll(s string) ([][2]int, error) {
	if p.re != nil {
		return p.re.findAll(s)
	}
	if p.lit == "" {
		return nil, nil
	}
	var out [][2]int
	for i := 0; ; {
		j := strings.Index(s[i:], p.lit)
		if j < 0 {
			return out, nil
		}
		out = append(out, [2]int{i + j, i + j + len(p.lit)})
		i += j + len(p.lit)
	}
}

type seqNormalizer []normalizer

func (s seqNormalizer) normalize(x string) (string, error) {
	var err error
	for _, n := range s {
		if x, err = n.normalize(x); err != nil {
			return "", err
		}
	}
	return x, nil
}

type prependNormalizer string

func (p prependNormalizer) normalize(s string) (string, error) {
	if s == "" {
		return s, nil
	}
	return string(p) + s, nil
}

type replaceNormalizer struct {
	pat     *pattern
	content string
}

func (r replaceNormalizer) normalize(s string) (string, error) {
	if r.pat.re == nil {
		if r.pat.lit == "" {
			return s, nil
		}
		return strings.ReplaceAll(s, r.pat.lit, r.content), nil
	}
	ms, err := r.pat.findAll(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m[0]])
		b.WriteString(r.content)
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

type lowercaseNormalizer struct{}

// normalize lowercases rune by rune with the full (unconditional) Unicode
// mapping, as Rust's char::to_lowercase does: only U+0130 maps to two runes.
func (lowercaseNormalizer) normalize(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == '\u0130' {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String(), nil
}

type stripNormalizer struct{ left, right bool }

func (n stripNormalizer) normalize(s string) (string, error) {
	if n.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s, nil
}

type unicodeNormalizer struct{ form normForm }

func (n unicodeNormalizer) normalize(s string) (string, error) {
	return normalizeUnicode(n.form, s), nil
}

// stripAccentsNormalizer removes non-spacing marks (meant to follow NFD).
type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) normalize(s string) (string, error) {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s), nil
}

func parseNormalizer(raw json.RawMessage, field string) (normalizer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var t typed
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	switch t.Type {
	case "Sequence":
		seq, err := parseSequence(raw, field, "normalizers", parseNormalizer)
		return seqNormalizer(seq), err
	case "Prepend":
		var spec struct {
			Prepend *string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil || spec.Prepend == nil {
			return nil, fmt.Errorf("%s.prepend: missing or not a string", field)
		}
		return prependNormalizer(*spec.Prepend), nil
	case "Replace":
		p, content, err := parseReplace(raw, field)
		if err != nil {
			return nil, err
		}
		return replaceNormalizer{pat: p, content: content}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "Strip":
		var spec struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, fmt.Errorf("%s: %v", field, err)
		}
		return stripNormalizer{left: spec.Left, right: spec.Right}, nil
	case "NFC":
		return unicodeNormalizer{formNFC}, nil
	case "NFD":
		return unicodeNormalizer{formNFD}, nil
	case "NFKC":
		return unicodeNormalizer{formNFKC}, nil
	case "NFKD":
		return unicodeNormalizer{formNFKD}, nil
	case "StripAccents":
		return stripAccentsNormalizer{}, nil
	case "":
		return nil, fmt.Errorf("%s.type: missing", field)
	}
	return nil, fmt.Errorf("%s.type: normalizer %q is not supported", field, t.Type)
}

// parseReplace reads the pattern and content of a "Replace" normalizer or
// decoder, which share their layout.
func parseReplace(raw json.RawMessage, field string) (*pattern, string, error) {
	var spec struct {
		Pattern patternSpec `json:"pattern"`
		Content *string     `json:"content"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, "", fmt.Errorf("%s: %v", field, err)
	}
	if spec.Content == nil {
		return nil, "", fmt.Errorf("%s.content: missing", field)
	}
	p, err := compilePattern(spec.Pattern, field+".pattern")
	if err != nil {
		return nil, "", err
	}
	return p, *spec.Content, nil
}
