package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder turns token strings back into text, step by step as Hugging
// Face's decode_chain: each step maps a list of strings to a new list, and
// the final list is concatenated.
type decoder interface {
	decodeChain(toks []string) []string
}

type seqDecoder []decoder

func (s seqDecoder) decodeChain(toks []string) []string {
	for _, d := range s {
		toks = d.decodeChain(toks)
	}
	return toks
}

// byteLevelDecoder maps the byte-level runes back to bytes and the bytes to
// UTF-8 text (invalid sequences become U+FFFD).
type byteLevelDecoder struct{}

func (byteLevelDecoder) decodeChain(toks []string) []string {
	var b []byte
	for _, t := range toks {
		b = byteLevelDecodeToken(b, t)
	}
	return []string{lossyUTF8(b)}
}

type replaceDecoder struct {
	pat     *pattern
	content string
}

func (r replaceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	n := replaceNormalizer(r)
	for i, t := range toks {
		s, err := n.normalize(t)
		if err != nil {
			s = t
		}
		out[i] = s
	}
	return out
}

// parseByteToken recognizes <0xNN>.
func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}

// byteFallbackDecoder joins runs of <0xNN> tokens into their UTF-8 text; a
// run that is not valid UTF-8 becomes one U+FFFD per byte.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decodeChain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type fuseDecoder struct{}

func (fuseDecoder) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }

// stripDecoder removes up to start leading and stop trailing occurrences of
// content from each token.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (s stripDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		a := 0
		for a < len(rs) && a < s.start && rs[a] == s.content {
			a++
		}
		b := len(rs)
		for n := 0; b > a && n < s.stop && rs[b-1] == s.content; n++ {
			b--
		}
		out[i] = string(rs[a:b])
	}
	return out
}

// metaspaceDecoder turns the replacement rune back into spaces; in the first
// token it is dropped unless the prepend scheme is "never".
type metaspaceDecoder struct {
	replacement rune
	dropFirst   bool
}

func (m metaspaceDecoder) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var b strings.Builder
		for _, r := range t {
			if r == m.replacement {
				if i == 0 && m.dropFirst {
					continue
				}
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
		out[i] = b.String()
	}
	return out
}

// joinDecoder is used when tokenizer.json has no decoder: tokens are joined
// with spaces.
type joinDecoder struct{}

func (joinDecoder) decodeChain(toks []string) []string { return []string{strings.Join(toks, " ")} }

func parseDecoder(raw json.RawMessage, field string) (decoder, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var t typed
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	switch t.Type {
	case "Sequence":
		seq, err := parseSequence(raw, field, "decoders", parseDecoder)
		return seqDecoder(seq), err
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "Replace":
		p, content, err := parseReplace(raw, field)
		if err != nil {
			return nil, err
		}
		return replaceDecoder{pat: p, content: content}, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		var spec struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, fmt.Errorf("%s: %v", field, err)
		}
		if utf8.RuneCountInString(spec.Content) != 1 {
			return nil, fmt.Errorf("%s.content: %q is not one character", field, spec.Content)
		}
		if spec.Start < 0 || spec.Stop < 0 {
			return nil, fmt.Errorf("%s: negative start or stop", field)
		}
		r, _ := utf8.DecodeRuneInString(spec.Content)
		return stripDecoder{content: r, start: spec.Start, stop: spec.Stop}, nil
	case "Metaspace":
		pt, err := parsePreTokenizer(raw, field)
		if err != nil {
			return nil, err
		}
		m := pt.(metaspacePreTokenizer)
		r, _ := utf8.DecodeRuneInString(m.replacement)
		return metaspaceDecoder{replacement: r, dropFirst: m.scheme != prependNever}, nil
	case "":
		return nil, fmt.Errorf("%s.type: missing", field)
	}
	return nil, fmt.Errorf("%s.type: decoder %q is not supported", field, t.Type)
}
