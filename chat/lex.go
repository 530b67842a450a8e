package chat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lexer splits a template into text and tags with the whitespace rules
// transformers configures (trim_blocks=True, lstrip_blocks=True):
//
//   - a single trailing newline of the template is dropped;
//   - "{%-" / "{{-" / "{#-" remove all whitespace before the tag,
//     "-%}" / "-}}" / "-#}" all whitespace after it;
//   - lstrip_blocks: spaces and tabs between the start of a line and a
//     "{%" or "{#" tag are removed (not before "{{", not with "{%+");
//   - trim_blocks: the first newline right after "%}" or "#}" is removed
//     (not after "+%}").

// tokKind is the kind of an expression token inside a tag.
type tokKind int

const (
	tkName tokKind = iota
	tkString
	tkInt
	tkFloat
	tkOp  // operator or punctuation, text in s
	tkEnd // end of the tag
)

// token is one expression token inside a tag; pos is its byte offset in the
// template source.
type token struct {
	kind tokKind
	s    string // name, decoded string, operator, or number text
	i    int64
	f    float64
	pos  int
}

// piece is a run of text or one tag.
type piece struct {
	text   string // for text pieces
	isText bool
	block  bool    // "{% %}" (else "{{ }}")
	toks   []token // tag contents, ending with a tkEnd token
	pos    int     // offset of the tag's opening brace (or of the text)
}

// maxTagTokens bounds the tokens of one tag (a guard for hostile input).
const maxTagTokens = 1 << 16

// lex splits src into pieces; comments are dropped.
func lex(src string) ([]piece, error) {
	src = strings.TrimSuffix(src, "\n")
	var out []piece
	i := 0
	lineStarting := true
	for {
		j := nextTag(src, i)
		if j < 0 {
			if i < len(src) {
				out = append(out, piece{text: src[i:], isText: true, pos: i})
			}
			return out, nil
		}
		text := src[i:j]
		kind := src[j+1]
		mod := byte(0)
		if j+2 < len(src) && (src[j+2] == '-' || src[j+2] == '+') {
			mod = src[j+2]
		}
		switch {
		case mod == '-':
			text = strings.TrimRightFunc(text, unicode.IsSpace)
		case mod != '+' && kind != '{':
			// lstrip_blocks
			l := strings.LastIndexByte(text, '\n') + 1
			if (l > 0 || lineStarting) && strings.Trim(text[l:], " \t") == "" {
				text = text[:l]
			}
		}
		if text != "" {
			out = append(out, piece{text: text, isText: true, pos: i})
		}
		start := j + 2
		if mod != 0 {
			start++
		}
		var end int       // offset just past the closing delimiter
		var closeMod byte // '-' or '+' or 0 before the closing delimiter
		if kind == '#' {
			k := strings.Index(src[start:], "#}")
			if k < 0 {
				return nil, errAt(src, j, "unclosed comment: missing \"#}\"")
			}
			k += start
			if k > start && (src[k-1] == '-' || src[k-1] == '+') {
				closeMod = src[k-1]
			}
			end = k + 2
		} else {
			closer := "}}"
			if kind == '%' {
				closer = "%}"
			}
			toks, e, cm, err := lexTag(src, start, j, closer)
			if err != nil {
				return nil, err
			}
			end, closeMod = e, cm
			out = append(out, piece{block: kind == '%', toks: toks, pos: j})
		}
		i = end
		lineStarting = false
		switch {
		case closeMod == '-':
			k := i
			for k < len(src) {
				r, n := utf8.DecodeRuneInString(src[k:])
				if !unicode.IsSpace(r) {
					break
				}
				lineStarting = r == '\n'
				k += n
			}
			i = k
		case kind != '{' && closeMod != '+' && i < len(src) && src[i] == '\n':
			i++
			lineStarting = true
		}
	}
}

// nextTag returns the offset of the next "{{", "{%" or "{#" at or after i,
// or -1.
func nextTag(src string, i int) int {
	for {
		k := strings.IndexByte(src[i:], '{')
		if k < 0 || i+k+1 >= len(src) {
			return -1
		}
		k += i
		switch src[k+1] {
		case '{', '%', '#':
			return k
		}
		i = k + 1
	}
}

// lexTag tokenizes a tag body starting at offset i up to its closer ("}}"
// or "%}", optionally preceded by '-' or '+'), which is recognized only
// outside brackets, as in Jinja. open is the tag's offset, for errors.
func lexTag(src string, i, open int, closer string) (toks []token, end int, closeMod byte, err error) {
	var brackets []int // offsets of open brackets
	for {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if i >= len(src) {
			if n := len(brackets); n > 0 {
				return nil, 0, 0, errAt(src, brackets[n-1], "unclosed '%c' in tag", src[brackets[n-1]])
			}
			return nil, 0, 0, errAt(src, open, "unclosed tag: missing %q", closer)
		}
		if len(toks) > maxTagTokens {
			return nil, 0, 0, errAt(src, open, "tag too long")
		}
		if len(brackets) == 0 {
			if strings.HasPrefix(src[i:], closer) {
				toks = append(toks, token{kind: tkEnd, pos: i})
				return toks, i + 2, 0, nil
			}
			if (src[i] == '-' || src[i] == '+') && strings.HasPrefix(src[i+1:], closer) {
				toks = append(toks, token{kind: tkEnd, pos: i})
				return toks, i + 3, src[i], nil
			}
		}
		c := src[i]
		switch {
		case c == '_' || isLetter(c):
			k := i + 1
			for k < len(src) && (src[k] == '_' || isLetter(src[k]) || isDigit(src[k])) {
				k++
			}
			toks = append(toks, token{kind: tkName, s: src[i:k], pos: i})
			i = k
		case isDigit(c):
			t, k, err := lexNumber(src, i)
			if err != nil {
				return nil, 0, 0, err
			}
			toks = append(toks, t)
			i = k
		case c == '\'' || c == '"':
			s, k, err := lexString(src, i)
			if err != nil {
				return nil, 0, 0, err
			}
			toks = append(toks, token{kind: tkString, s: s, pos: i})
			i = k
		default:
			op := ""
			for _, o := range []string{"//", "**", "==", "!=", "<=", ">="} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				if !strings.ContainsRune("+-*/%~<>=()[]{},.:|", rune(c)) {
					r, _ := utf8.DecodeRuneInString(src[i:])
					return nil, 0, 0, errAt(src, i, "unexpected character %q", r)
				}
				op = src[i : i+1]
			}
			switch op {
			case "(", "[", "{":
				brackets = append(brackets, i)
			case ")", "]", "}":
				n := len(brackets)
				if n == 0 || src[brackets[n-1]] != map[string]byte{")": '(', "]": '[', "}": '{'}[op] {
					return nil, 0, 0, errAt(src, i, "unexpected '%s'", op)
				}
				brackets = brackets[:n-1]
			}
			toks = append(toks, token{kind: tkOp, s: op, pos: i})
			i += len(op)
		}
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// lexNumber reads an integer or float literal (underscores allowed between
// digits, as in Jinja) at offset i.
func lexNumber(src string, i int) (token, int, error) {
	k := i
	digits := func() {
		for k < len(src) && (isDigit(src[k]) || src[k] == '_' && k+1 < len(src) && isDigit(src[k+1]) && isDigit(src[k-1])) {
			k++
		}
	}
	digits()
	isFloat := false
	if k+1 < len(src) && src[k] == '.' && isDigit(src[k+1]) {
		isFloat = true
		k++
		digits()
	}
	if k < len(src) && (src[k] == 'e' || src[k] == 'E') {
		m := k + 1
		if m < len(src) && (src[m] == '+' || src[m] == '-') {
			m++
		}
		if m < len(src) && isDigit(src[m]) {
			isFloat = true
			k = m
			digits()
		}
	}
	text := strings.ReplaceAll(src[i:k], "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return token{}, 0, errAt(src, i, "bad number %q", src[i:k])
		}
		return token{kind: tkFloat, f: f, s: text, pos: i}, k, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return token{}, 0, errAt(src, i, "integer %q out of range", src[i:k])
	}
	return token{kind: tkInt, i: n, s: text, pos: i}, k, nil
}

// lexString reads a quoted string literal at offset i and decodes its
// escapes as Python's "unicode-escape" codec does (unknown escapes are kept
// verbatim).
func lexString(src string, i int) (string, int, error) {
	q := src[i]
	var b strings.Builder
	k := i + 1
	for {
		if k >= len(src) {
			return "", 0, errAt(src, i, "unterminated string literal")
		}
		c := src[k]
		if c == q {
			return b.String(), k + 1, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			k++
			continue
		}
		if k+1 >= len(src) {
			return "", 0, errAt(src, i, "unterminated string literal")
		}
		e := src[k+1]
		k += 2
		switch e {
		case '\\', '\'', '"':
			b.WriteByte(e)
		case '\n':
			// line continuation
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := int(e - '0')
			for m := 0; m < 2 && k < len(src) && src[k] >= '0' && src[k] <= '7'; m++ {
				n = n*8 + int(src[k]-'0')
				k++
			}
			b.WriteRune(rune(n))
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if k+width > len(src) {
				return "", 0, errAt(src, k-2, "truncated \\%c escape", e)
			}
			n, err := strconv.ParseUint(src[k:k+width], 16, 32)
			if err != nil || n > unicode.MaxRune {
				return "", 0, errAt(src, k-2, "bad \\%c escape", e)
			}
			b.WriteRune(rune(n))
			k += width
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
}

// SyntaxError is a template the package cannot parse: bad syntax, or a
// construct outside the supported subset of Jinja. Line and Col (1-based,
// Col in bytes) locate it in the template source.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

// Error implements the error interface.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("chat template line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// errAt builds a SyntaxError at byte offset off of src.
func errAt(src string, off int, format string, args ...any) *SyntaxError {
	line, col := lineCol(src, off)
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(src string, off int) (int, int) {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	line := 1 + strings.Count(src[:off], "\n")
	col := off - strings.LastIndexByte(src[:off], '\n')
	return line, col
}
