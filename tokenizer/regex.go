package tokenizer

// A small backtracking regular-expression engine for the pre-tokenizer
// patterns found in tokenizer.json files.
//
// Hugging Face tokenizers compiles those patterns with Oniguruma, a
// Perl-style backtracking engine: alternatives are tried left to right and
// the first that lets the whole pattern match wins (leftmost-first), and
// look-ahead such as GPT-2's \s+(?!\S) is allowed. Go's regexp has neither
// look-ahead nor (in every case) the same choice among alternatives, so the
// patterns are run here instead.
//
// Supported syntax: literals and escapes (\t \n \r \f \v \a \e \xHH \x{H…}
// \uHHHH, escaped punctuation), classes [...] with ranges, negation and
// nested escapes, \s \S \d \D \w \W \h \H, \p{…} \P{…} \p{^…} with Unicode
// general categories, scripts and binary properties, '.', anchors ^ $ \A \z
// \Z \b \B, groups (…) (?:…) (?>…), inline flags (?i) (?-i) (?i:…) and (?m)
// (dot matches newline, as in Oniguruma's Ruby syntax), look-ahead (?=…)
// (?!…), and the quantifiers * + ? {n} {n,} {,m} {n,m} in greedy, lazy (…?)
// and possessive (…+) forms. Look-behind and back-references are refused.
// Character classes follow Oniguruma's Unicode definitions: \s is
// White_Space (including U+0085), \d is Nd, \w is L, M, N and Pc.

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// regex is a compiled pattern.
type regex struct {
	src  string
	prog []inst
	subs [][]inst // sub-programs of look-aheads and atomic groups
	pool sync.Pool
}

type opcode uint8

const (
	opRune   opcode = iota // match rune r (runes: case-fold orbit when non-nil)
	opClass                // match one rune in class
	opAny                  // any rune but '\n'
	opAnyNL                // any rune
	opSplit                // try x, then y
	opJmp                  // go to x
	opAssert               // zero-width assertion kind
	opLook                 // look-ahead sub-program x; y != 0 means negative
	opAtomic               // run sub-program x once, keep its first match
	opMatch                // success
)

const (
	assertLineStart = iota
	assertLineEnd
	assertTextStart
	assertTextEnd
	assertTextEndNL // \Z: end, or before a final newline
	assertWord
	assertNotWord
)

type inst struct {
	op    opcode
	r     rune
	runes []rune // case-insensitive alternatives of r
	cls   *charClass
	x, y  int
}

// maxRepeat bounds counted repetition, which is expanded when compiling,
// and maxProgram the size of the compiled program.
const (
	maxRepeat  = 1000
	maxProgram = 1 << 18
)

// maxSteps bounds the work of one match attempt so that a pathological
// pattern fails with an error instead of hanging.
const maxSteps = 1 << 26

// compileRegex parses and compiles src.
func compileRegex(src string) (*regex, error) {
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("regex %q: not valid UTF-8", src)
	}
	p := &parser{src: src}
	n, err := p.parseAlt()
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	if p.pos < len(p.src) {
		return nil, fmt.Errorf("regex %q: unexpected ')' at offset %d", src, p.pos)
	}
	re := &regex{src: src}
	c := &compiler{re: re}
	prog, err := c.program(n)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	re.prog = prog
	return re, nil
}

// ---- syntax tree ----

type nodeKind uint8

const (
	nEmpty nodeKind = iota
	nRune
	nClass
	nAny
	nConcat
	nAlt
	nRepeat
	nLook
	nAtomic
	nAssert
)

type node struct {
	kind       nodeKind
	r          rune
	fold       bool
	dotNL      bool
	cls        *charClass
	subs       []*node
	min, max   int // max < 0: unbounded
	greedy     bool
	possessive bool
	negate     bool
	assert     int
}

// ---- parser ----

type parser struct {
	src   string
	pos   int
	fold  bool // (?i) in effect
	dotNL bool // (?m) in effect
	depth int
	last  int // size of the rune next returned last
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() rune {
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *parser) next() rune {
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	p.last = n
	return r
}

// unread steps back over the rune next just returned.
func (p *parser) unread() { p.pos -= p.last; p.last = 0 }

func (p *parser) parseAlt() (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 200 {
		return nil, fmt.Errorf("nesting too deep")
	}
	saveFold, saveDot := p.fold, p.dotNL
	defer func() { p.fold, p.dotNL = saveFold, saveDot }()
	var alts []*node
	for {
		c, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		if p.eof() || p.peek() != '|' {
			break
		}
		p.next()
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{kind: nAlt, subs: alts}, nil
}

func (p *parser) parseConcat() (*node, error) {
	var items []*node
	for !p.eof() {
		c := p.peek()
		if c == '|' || c == ')' {
			break
		}
		atom, err := p.parseAtom()
		if err != nil {
			return nil, err
		}
		if atom == nil { // a flag group such as (?i) with no content
			continue
		}
		atom, err = p.parseQuantifiers(atom)
		if err != nil {
			return nil, err
		}
		items = append(items, atom)
	}
	switch len(items) {
	case 0:
		return &node{kind: nEmpty}, nil
	case 1:
		return items[0], nil
	}
	return &node{kind: nConcat, subs: items}, nil
}

func (p *parser) parseQuantifiers(atom *node) (*node, error) {
	for !p.eof() {
		start := p.pos
		min, max := -1, -1
		switch p.peek() {
		case '*':
			p.next()
			min, max = 0, -1
		case '+':
			p.next()
			min, max = 1, -1
		case '?':
			p.next()
			min, max = 0, 1
		case '{':
			lo, hi, ok := p.parseBraces()
			if !ok {
				p.pos = start
				return atom, nil // a literal '{', as in Oniguruma
			}
			min, max = lo, hi
		default:
			return atom, nil
		}
		if atom.kind == nAssert || atom.kind == nLook {
			return nil, fmt.Errorf("quantifier after an assertion at offset %d", start)
		}
		greedy, possessive := true, false
		if !p.eof() {
			switch p.peek() {
			case '?':
				p.next()
				greedy = false
			case '+':
				if p.src[start] != '{' { // {n,m}+ is not possessive in Oniguruma
					p.next()
					possessive = true
				}
			}
		}
		if max >= 0 && min > max {
			return nil, fmt.Errorf("bad repetition {%d,%d} at offset %d", min, max, start)
		}
		if min > maxRepeat || max > maxRepeat {
			return nil, fmt.Errorf("repetition count over %d at offset %d", maxRepeat, start)
		}
		atom = &node{kind: nRepeat, subs: []*node{atom}, min: min, max: max, greedy: greedy, possessive: possessive}
	}
	return atom, nil
}

// parseBraces reads {n}, {n,}, {,m} or {n,m}; ok is false when the text is
// not a valid interval (then '{' is a literal).
func (p *parser) parseBraces() (lo, hi int, ok bool) {
	end := strings.IndexByte(p.src[p.pos:], '}')
	if end < 0 {
		return 0, 0, false
	}
	body := p.src[p.pos+1 : p.pos+end]
	num := func(s string) (int, bool) {
		if s == "" || len(s) > 6 {
			return 0, false
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
		v, err := strconv.Atoi(s)
		return v, err == nil
	}
	if i := strings.IndexByte(body, ','); i >= 0 {
		a, b := body[:i], body[i+1:]
		switch {
		case a == "" && b == "":
			return 0, 0, false
		case a == "":
			hi, ok = num(b)
			lo = 0
		case b == "":
			lo, ok = num(a)
			hi = -1
		default:
			var ok2 bool
			lo, ok = num(a)
			hi, ok2 = num(b)
			ok = ok && ok2
		}
	} else {
		lo, ok = num(body)
		hi = lo
	}
	if !ok {
		return 0, 0, false
	}
	p.pos += end + 1
	return lo, hi, true
}

func (p *parser) parseAtom() (*node, error) {
	start := p.pos
	c := p.next()
	switch c {
	case '(':
		return p.parseGroup(start)
	case '[':
		cls, err := p.parseClass()
		if err != nil {
			return nil, err
		}
		return &node{kind: nClass, cls: cls}, nil
	case '.':
		return &node{kind: nAny, dotNL: p.dotNL}, nil
	case '^':
		return &node{kind: nAssert, assert: assertLineStart}, nil
	case '$':
		return &node{kind: nAssert, assert: assertLineEnd}, nil
	case '*', '+', '?':
		return nil, fmt.Errorf("quantifier %q without operand at offset %d", c, start)
	case '\\':
		return p.parseEscape(start)
	}
	return p.literal(c), nil
}

func (p *parser) literal(r rune) *node {
	return &node{kind: nRune, r: r, fold: p.fold && hasFold(r)}
}

func hasFold(r rune) bool { return unicode.SimpleFold(r) != r }

func (p *parser) parseGroup(start int) (*node, error) {
	if p.eof() {
		return nil, fmt.Errorf("missing ')' for group at offset %d", start)
	}
	if p.peek() != '?' {
		return p.groupBody(start, func(n *node) *node { return n })
	}
	p.next()
	if p.eof() {
		return nil, fmt.Errorf("incomplete group at offset %d", start)
	}
	switch c := p.next(); c {
	case ':':
		return p.groupBody(start, func(n *node) *node { return n })
	case '=', '!':
		neg := c == '!'
		return p.groupBody(start, func(n *node) *node { return &node{kind: nLook, subs: []*node{n}, negate: neg} })
	case '>':
		return p.groupBody(start, func(n *node) *node { return &node{kind: nAtomic, subs: []*node{n}} })
	case '<':
		if !p.eof() && (p.peek() == '=' || p.peek() == '!') {
			return nil, fmt.Errorf("look-behind (?<%c…) at offset %d is not supported", p.peek(), start)
		}
		// named group (?<name>…)
		end := strings.IndexByte(p.src[p.pos:], '>')
		if end < 0 {
			return nil, fmt.Errorf("bad group name at offset %d", start)
		}
		p.pos += end + 1
		return p.groupBody(start, func(n *node) *node { return n })
	case '#':
		end := strings.IndexByte(p.src[p.pos:], ')')
		if end < 0 {
			return nil, fmt.Errorf("unterminated comment at offset %d", start)
		}
		p.pos += end + 1
		return nil, nil
	default:
		// flags: (?imx-imx) or (?imx-imx:…)
		p.unread()
		fold, dot := p.fold, p.dotNL
		on := true
		for !p.eof() {
			f := p.next()
			switch f {
			case 'i':
				fold = on
			case 'm':
				dot = on
			case 'x':
				if on {
					return nil, fmt.Errorf("extended mode (?x) at offset %d is not supported", start)
				}
			case '-':
				if !on {
					return nil, fmt.Errorf("bad flags at offset %d", start)
				}
				on = false
			case ')':
				// applies to the rest of the enclosing group
				p.fold, p.dotNL = fold, dot
				return nil, nil
			case ':':
				saveFold, saveDot := p.fold, p.dotNL
				p.fold, p.dotNL = fold, dot
				n, err := p.groupBody(start, func(n *node) *node { return n })
				p.fold, p.dotNL = saveFold, saveDot
				return n, err
			default:
				return nil, fmt.Errorf("unsupported group syntax (?%c at offset %d", f, start)
			}
		}
		return nil, fmt.Errorf("missing ')' for group at offset %d", start)
	}
}

func (p *parser) groupBody(start int, wrap func(*node) *node) (*node, error) {
	n, err := p.parseAlt()
	if err != nil {
		return nil, err
	}
	if p.eof() || p.peek() != ')' {
		return nil, fmt.Errorf("missing ')' for group at offset %d", start)
	}
	p.next()
	return wrap(n), nil
}

func (p *parser) parseEscape(start int) (*node, error) {
	if p.eof() {
		return nil, fmt.Errorf("trailing backslash")
	}
	c := p.next()
	switch c {
	case 'A':
		return &node{kind: nAssert, assert: assertTextStart}, nil
	case 'z':
		return &node{kind: nAssert, assert: assertTextEnd}, nil
	case 'Z':
		return &node{kind: nAssert, assert: assertTextEndNL}, nil
	case 'b':
		return &node{kind: nAssert, assert: assertWord}, nil
	case 'B':
		return &node{kind: nAssert, assert: assertNotWord}, nil
	}
	p.unread()
	cls, r, err := p.escapeItem(start, false)
	if err != nil {
		return nil, err
	}
	if cls != nil {
		if p.fold {
			cls.fold = true
		}
		return &node{kind: nClass, cls: cls}, nil
	}
	return p.literal(r), nil
}

// escapeItem reads the escape after a backslash: either a class (\s, \p{L},
// …) or a single rune.
func (p *parser) escapeItem(start int, inClass bool) (*charClass, rune, error) {
	c := p.next()
	switch c {
	case 's', 'S':
		return &charClass{tables: []*unicode.RangeTable{unicode.White_Space}, negate: c == 'S'}, 0, nil
	case 'd', 'D':
		return &charClass{tables: []*unicode.RangeTable{unicode.Nd}, negate: c == 'D'}, 0, nil
	case 'w', 'W':
		return &charClass{tables: wordTables, negate: c == 'W'}, 0, nil
	case 'h', 'H':
		return &charClass{ranges: []rune{'0', '9', 'A', 'F', 'a', 'f'}, negate: c == 'H'}, 0, nil
	case 'p', 'P':
		neg := c == 'P'
		if p.eof() || p.peek() != '{' {
			// single-letter form \pL
			if p.eof() {
				return nil, 0, fmt.Errorf("bad \\%c at offset %d", c, start)
			}
			name := string(p.next())
			t, err := lookupProperty(name)
			if err != nil {
				return nil, 0, fmt.Errorf("%w at offset %d", err, start)
			}
			return &charClass{tables: t, negate: neg}, 0, nil
		}
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return nil, 0, fmt.Errorf("unterminated \\%c{ at offset %d", c, start)
		}
		name := p.src[p.pos+1 : p.pos+end]
		p.pos += end + 1
		if strings.HasPrefix(name, "^") {
			neg = !neg
			name = name[1:]
		}
		t, err := lookupProperty(name)
		if err != nil {
			return nil, 0, fmt.Errorf("%w at offset %d", err, start)
		}
		return &charClass{tables: t, negate: neg}, 0, nil
	case 't':
		return nil, '\t', nil
	case 'n':
		return nil, '\n', nil
	case 'r':
		return nil, '\r', nil
	case 'f':
		return nil, '\f', nil
	case 'v':
		return nil, '\v', nil
	case 'a':
		return nil, '\a', nil
	case 'e':
		return nil, 0x1b, nil
	case 'b':
		if inClass {
			return nil, '\b', nil
		}
	case 'x':
		if !p.eof() && p.peek() == '{' {
			end := strings.IndexByte(p.src[p.pos:], '}')
			if end < 0 {
				return nil, 0, fmt.Errorf("unterminated \\x{ at offset %d", start)
			}
			v, err := strconv.ParseUint(p.src[p.pos+1:p.pos+end], 16, 32)
			if err != nil || v > unicode.MaxRune {
				return nil, 0, fmt.Errorf("bad \\x{…} at offset %d", start)
			}
			p.pos += end + 1
			return nil, rune(v), nil
		}
		return p.hexRune(start, 2)
	case 'u':
		return p.hexRune(start, 4)
	case '0':
		return nil, 0, nil
	}
	if c >= '1' && c <= '9' {
		return nil, 0, fmt.Errorf("back-reference \\%c at offset %d is not supported", c, start)
	}
	if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return nil, 0, fmt.Errorf("unsupported escape \\%c at offset %d", c, start)
	}
	return nil, c, nil // escaped punctuation or any other rune stands for itself
}

func (p *parser) hexRune(start, n int) (*charClass, rune, error) {
	if p.pos+n > len(p.src) {
		return nil, 0, fmt.Errorf("bad hex escape at offset %d", start)
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
	if err != nil {
		return nil, 0, fmt.Errorf("bad hex escape at offset %d", start)
	}
	p.pos += n
	return nil, rune(v), nil
}

// parseClass reads a bracket class; the '[' has been consumed.
func (p *parser) parseClass() (*charClass, error) {
	start := p.pos - 1
	cls := &charClass{fold: p.fold}
	if !p.eof() && p.peek() == '^' {
		p.next()
		cls.negate = true
	}
	first := true
	for {
		if p.eof() {
			return nil, fmt.Errorf("missing ']' for class at offset %d", start)
		}
		c := p.peek()
		if c == ']' && !first {
			p.next()
			return cls, nil
		}
		first = false
		if c == '[' {
			if strings.HasPrefix(p.src[p.pos:], "[:") {
				return nil, fmt.Errorf("POSIX bracket in class at offset %d is not supported", p.pos)
			}
			p.next()
			sub, err := p.parseClass()
			if err != nil {
				return nil, err
			}
			cls.subs = append(cls.subs, sub)
			continue
		}
		if strings.HasPrefix(p.src[p.pos:], "&&") {
			return nil, fmt.Errorf("class intersection && at offset %d is not supported", p.pos)
		}
		lo, sub, err := p.classAtom()
		if err != nil {
			return nil, err
		}
		if sub != nil {
			cls.subs = append(cls.subs, sub)
			continue
		}
		// a range lo-hi?
		if strings.HasPrefix(p.src[p.pos:], "-") && p.pos+1 < len(p.src) && p.src[p.pos+1] != ']' {
			save := p.pos
			p.next()
			hi, sub2, err := p.classAtom()
			if err != nil {
				return nil, err
			}
			if sub2 != nil { // "a-\s": '-' is literal
				p.pos = save
				cls.ranges = append(cls.ranges, lo, lo)
				continue
			}
			if hi < lo {
				return nil, fmt.Errorf("bad class range %q-%q at offset %d", lo, hi, save)
			}
			cls.ranges = append(cls.ranges, lo, hi)
			continue
		}
		cls.ranges = append(cls.ranges, lo, lo)
	}
}

// classAtom reads one rune or one escaped class inside brackets.
func (p *parser) classAtom() (rune, *charClass, error) {
	start := p.pos
	c := p.next()
	if c != '\\' {
		return c, nil, nil
	}
	if p.eof() {
		return 0, nil, fmt.Errorf("trailing backslash")
	}
	cls, r, err := p.escapeItem(start, true)
	return r, cls, err
}

var wordTables = []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.Pc}

// propertyAliases maps long Unicode category names to their short forms.
var propertyAliases = map[string]string{
	"letter": "L", "casedletter": "LC", "uppercaseletter": "Lu", "lowercaseletter": "Ll",
	"titlecaseletter": "Lt", "modifierletter": "Lm", "otherletter": "Lo",
	"mark": "M", "combiningmark": "M", "nonspacingmark": "Mn", "spacingmark": "Mc", "enclosingmark": "Me",
	"number": "N", "decimalnumber": "Nd", "digit": "Nd", "letternumber": "Nl", "othernumber": "No",
	"punctuation": "P", "punct": "P", "connectorpunctuation": "Pc", "dashpunctuation": "Pd",
	"openpunctuation": "Ps", "closepunctuation": "Pe", "initialpunctuation": "Pi",
	"finalpunctuation": "Pf", "otherpunctuation": "Po",
	"symbol": "S", "mathsymbol": "Sm", "currencysymbol": "Sc", "modifiersymbol": "Sk", "othersymbol": "So",
	"separator": "Z", "spaceseparator": "Zs", "lineseparator": "Zl", "paragraphseparator": "Zp",
	"other": "C", "control": "Cc", "cntrl": "Cc", "format": "Cf", "surrogate": "Cs", "privateuse": "Co",
	"alpha": "Alphabetic", "alphabetic": "Alphabetic", "space": "White_Space", "whitespace": "White_Space",
}

func normPropName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r == '-' || r == ' ' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// lookupProperty resolves a \p{…} name the way Oniguruma does: case, spaces,
// hyphens and underscores are ignored.
func lookupProperty(name string) ([]*unicode.RangeTable, error) {
	key := normPropName(name)
	if key == "lc" {
		return []*unicode.RangeTable{unicode.Lu, unicode.Ll, unicode.Lt}, nil
	}
	if key == "any" {
		return []*unicode.RangeTable{{R32: []unicode.Range32{{Lo: 0, Hi: unicode.MaxRune, Stride: 1}}}}, nil
	}
	if a, ok := propertyAliases[key]; ok {
		if a == "LC" {
			return []*unicode.RangeTable{unicode.Lu, unicode.Ll, unicode.Lt}, nil
		}
		key = normPropName(a)
	}
	for _, m := range []map[string]*unicode.RangeTable{unicode.Categories, unicode.Scripts, unicode.Properties} {
		for k, t := range m {
			if normPropName(k) == key {
				return []*unicode.RangeTable{t}, nil
			}
		}
	}
	return nil, fmt.Errorf("unknown Unicode property %q", name)
}

// ---- character classes ----

type charClass struct {
	ranges []rune // pairs lo, hi
	tables []*unicode.RangeTable
	subs   []*charClass
	negate bool
	fold   bool
	ascii  [2]uint64 // membership of runes < 128, filled by finish
	done   bool
}

func (c *charClass) finish() {
	if c.done {
		return
	}
	for _, s := range c.subs {
		s.finish()
	}
	for r := rune(0); r < 128; r++ {
		if c.slowMatch(r) {
			c.ascii[r>>6] |= 1 << (r & 63)
		}
	}
	c.done = true
}

func (c *charClass) matches(r rune) bool {
	if r < 128 && c.done {
		return c.ascii[r>>6]&(1<<(r&63)) != 0
	}
	return c.slowMatch(r)
}

func (c *charClass) slowMatch(r rune) bool {
	in := c.contains(r)
	if !in && c.fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if c.contains(f) {
				in = true
				break
			}
		}
	}
	return in != c.negate
}

func (c *charClass) contains(r rune) bool {
	for i := 0; i+1 < len(c.ranges); i += 2 {
		if c.ranges[i] <= r && r <= c.ranges[i+1] {
			return true
		}
	}
	for _, t := range c.tables {
		if unicode.Is(t, r) {
			return true
		}
	}
	for _, s := range c.subs {
		if s.matches(r) {
			return true
		}
	}
	return false
}

// ---- compiler ----

type compiler struct {
	re *regex
}

// program compiles n into a stand-alone program ending in opMatch.
func (c *compiler) program(n *node) ([]inst, error) {
	var prog []inst
	prog, err := c.emit(prog, n)
	if err != nil {
		return nil, err
	}
	prog = append(prog, inst{op: opMatch})
	if len(prog) > maxProgram {
		return nil, fmt.Errorf("pattern too large")
	}
	return prog, nil
}

func (c *compiler) emit(prog []inst, n *node) ([]inst, error) {
	if len(prog) > maxProgram {
		return nil, fmt.Errorf("pattern too large")
	}
	var err error
	switch n.kind {
	case nEmpty:
	case nRune:
		in := inst{op: opRune, r: n.r}
		if n.fold {
			in.runes = append(in.runes, n.r)
			for f := unicode.SimpleFold(n.r); f != n.r; f = unicode.SimpleFold(f) {
				in.runes = append(in.runes, f)
			}
		}
		prog = append(prog, in)
	case nClass:
		n.cls.finish()
		prog = append(prog, inst{op: opClass, cls: n.cls})
	case nAny:
		if n.dotNL {
			prog = append(prog, inst{op: opAnyNL})
		} else {
			prog = append(prog, inst{op: opAny})
		}
	case nAssert:
		prog = append(prog, inst{op: opAssert, x: n.assert})
	case nConcat:
		for _, s := range n.subs {
			if prog, err = c.emit(prog, s); err != nil {
				return nil, err
			}
		}
	case nAlt:
		// split L1, next; L1: a; jmp end; next: split L2, next2 …
		var jumps []int
		for i, s := range n.subs {
			if i < len(n.subs)-1 {
				split := len(prog)
				prog = append(prog, inst{op: opSplit, x: split + 1, cls: firstSet(s)})
				if prog, err = c.emit(prog, s); err != nil {
					return nil, err
				}
				jumps = append(jumps, len(prog))
				prog = append(prog, inst{op: opJmp})
				prog[split].y = len(prog)
			} else if prog, err = c.emit(prog, s); err != nil {
				return nil, err
			}
		}
		for _, j := range jumps {
			prog[j].x = len(prog)
		}
	case nLook, nAtomic:
		sub, err := c.program(n.subs[0])
		if err != nil {
			return nil, err
		}
		c.re.subs = append(c.re.subs, sub)
		in := inst{op: opLook, x: len(c.re.subs) - 1}
		if n.kind == nAtomic {
			in.op = opAtomic
		} else if n.negate {
			in.y = 1
		}
		prog = append(prog, in)
	case nRepeat:
		if n.possessive {
			inner := *n
			inner.possessive = false
			return c.emit(prog, &node{kind: nAtomic, subs: []*node{&inner}})
		}
		sub := n.subs[0]
		if (n.max < 0 || n.max > n.min) && nullable(sub) {
			return nil, fmt.Errorf("a quantified sub-pattern that can match the empty string is not supported")
		}
		for i := 0; i < n.min; i++ {
			if prog, err = c.emit(prog, sub); err != nil {
				return nil, err
			}
		}
		if n.max < 0 {
			// L: split body, end; body; jmp L
			loop := len(prog)
			prog = append(prog, inst{op: opSplit})
			if prog, err = c.emit(prog, sub); err != nil {
				return nil, err
			}
			prog = append(prog, inst{op: opJmp, x: loop})
			c.setSplit(prog, loop, loop+1, len(prog), n.greedy, firstSet(sub))
			break
		}
		// optional copies, nested: (x(x(x)?)?)?
		var splits []int
		for i := n.min; i < n.max; i++ {
			splits = append(splits, len(prog))
			prog = append(prog, inst{op: opSplit})
			if prog, err = c.emit(prog, sub); err != nil {
				return nil, err
			}
		}
		guard := firstSet(sub)
		for _, s := range splits {
			c.setSplit(prog, s, s+1, len(prog), n.greedy, guard)
		}
	default:
		return nil, fmt.Errorf("internal: unknown node")
	}
	return prog, nil
}

// setSplit makes prog[at] try body then skip (greedy) or the reverse. guard,
// if not nil, is the set of runes body can start with (see opSplit).
func (c *compiler) setSplit(prog []inst, at, body, skip int, greedy bool, guard *charClass) {
	if greedy {
		prog[at].x, prog[at].y = body, skip
		prog[at].cls = guard
	} else {
		prog[at].x, prog[at].y = skip, body
	}
}

// firstSet returns a class holding every rune that a match of n can start
// with, or nil when n can match the empty string (then nothing can be
// ruled out).
func firstSet(n *node) *charClass {
	var subs []*charClass
	if !addFirst(n, &subs) {
		return nil
	}
	c := &charClass{subs: subs}
	c.finish()
	return c
}

// addFirst adds the first-rune sets of n to subs and reports whether n
// always consumes at least one rune.
func addFirst(n *node, subs *[]*charClass) bool {
	switch n.kind {
	case nRune:
		c := &charClass{ranges: []rune{n.r, n.r}, fold: n.fold}
		c.finish()
		*subs = append(*subs, c)
		return true
	case nClass:
		n.cls.finish()
		*subs = append(*subs, n.cls)
		return true
	case nAny:
		c := &charClass{ranges: []rune{0, unicode.MaxRune}}
		if !n.dotNL {
			c = &charClass{ranges: []rune{'\n', '\n'}, negate: true}
		}
		c.finish()
		*subs = append(*subs, c)
		return true
	case nConcat:
		for _, s := range n.subs {
			if addFirst(s, subs) {
				return true
			}
		}
		return false
	case nAlt:
		all := true
		for _, s := range n.subs {
			if !addFirst(s, subs) {
				all = false
			}
		}
		return all
	case nRepeat:
		return addFirst(n.subs[0], subs) && n.min > 0
	case nAtomic:
		return addFirst(n.subs[0], subs)
	}
	return false // empty, assertions and look-ahead consume nothing
}

// nullable reports whether n can match the empty string.
func nullable(n *node) bool {
	switch n.kind {
	case nEmpty, nAssert, nLook:
		return true
	case nRune, nClass, nAny:
		return false
	case nConcat:
		for _, s := range n.subs {
			if !nullable(s) {
				return false
			}
		}
		return true
	case nAlt:
		for _, s := range n.subs {
			if nullable(s) {
				return true
			}
		}
		return false
	case nRepeat:
		return n.min == 0 || nullable(n.subs[0])
	case nAtomic:
		return nullable(n.subs[0])
	}
	return true
}

// ---- matcher ----

// matcher holds the reusable backtracking stack.
type matcher struct {
	re    *regex
	stack []thread
	steps int
}

type thread struct{ pc, pos int }

// errRegexBudget is returned when a match attempt takes too many steps.
var errRegexBudget = fmt.Errorf("regex match took too many steps")

// matchAt tries to match prog anchored at pos in s and returns the end of
// the first match found in priority order, or -1.
func (m *matcher) matchAt(prog []inst, s string, pos int) (end int, err error) {
	base := len(m.stack)
	end, err = m.run(prog, s, pos, base)
	m.stack = m.stack[:base]
	return end, err
}

func (m *matcher) run(prog []inst, s string, pos, base int) (int, error) {
	pc := 0
	for {
		m.steps++
		if m.steps > maxSteps {
			return -1, errRegexBudget
		}
		in := &prog[pc]
		ok := true
		switch in.op {
		case opRune:
			if pos >= len(s) {
				ok = false
				break
			}
			r, n := rune(s[pos]), 1
			if r >= utf8.RuneSelf {
				r, n = utf8.DecodeRuneInString(s[pos:])
			}
			if r == in.r {
				pos += n
				pc++
				break
			}
			ok = false
			for _, f := range in.runes {
				if f == r {
					ok = true
					pos += n
					pc++
					break
				}
			}
		case opClass:
			if pos >= len(s) {
				ok = false
				break
			}
			r, n := rune(s[pos]), 1
			if r >= utf8.RuneSelf {
				r, n = utf8.DecodeRuneInString(s[pos:])
			}
			if in.cls.matches(r) {
				pos += n
				pc++
			} else {
				ok = false
			}
		case opAny, opAnyNL:
			if pos >= len(s) || (in.op == opAny && s[pos] == '\n') {
				ok = false
				break
			}
			_, n := utf8.DecodeRuneInString(s[pos:])
			pos += n
			pc++
		case opSplit:
			if in.cls != nil {
				// x can only match starting with a rune of in.cls: skip it
				// at once when the next rune is not one.
				if pos >= len(s) {
					pc = in.y
					break
				}
				r := rune(s[pos])
				if r >= utf8.RuneSelf {
					r, _ = utf8.DecodeRuneInString(s[pos:])
				}
				if !in.cls.matches(r) {
					pc = in.y
					break
				}
			}
			m.stack = append(m.stack, thread{in.y, pos})
			pc = in.x
		case opJmp:
			pc = in.x
		case opAssert:
			if assertHolds(in.x, s, pos) {
				pc++
			} else {
				ok = false
			}
		case opLook:
			end, err := m.matchAt(m.re.subs[in.x], s, pos)
			if err != nil {
				return -1, err
			}
			if (end >= 0) != (in.y != 0) {
				pc++
			} else {
				ok = false
			}
		case opAtomic:
			end, err := m.matchAt(m.re.subs[in.x], s, pos)
			if err != nil {
				return -1, err
			}
			if end >= 0 {
				pos = end
				pc++
			} else {
				ok = false
			}
		case opMatch:
			return pos, nil
		}
		if !ok {
			if len(m.stack) == base {
				return -1, nil
			}
			t := m.stack[len(m.stack)-1]
			m.stack = m.stack[:len(m.stack)-1]
			pc, pos = t.pc, t.pos
		}
	}
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.Is(unicode.Pc, r)
}

func assertHolds(kind int, s string, pos int) bool {
	switch kind {
	case assertLineStart:
		return pos == 0 || s[pos-1] == '\n'
	case assertLineEnd:
		return pos == len(s) || s[pos] == '\n'
	case assertTextStart:
		return pos == 0
	case assertTextEnd:
		return pos == len(s)
	case assertTextEndNL:
		return pos == len(s) || (pos == len(s)-1 && s[pos] == '\n')
	case assertWord, assertNotWord:
		before, after := false, false
		if pos > 0 {
			r, _ := utf8.DecodeLastRuneInString(s[:pos])
			before = isWordRune(r)
		}
		if pos < len(s) {
			r, _ := utf8.DecodeRuneInString(s[pos:])
			after = isWordRune(r)
		}
		return (before != after) == (kind == assertWord)
	}
	return false
}

// findAll returns the non-overlapping matches of re in s as byte offset
// pairs [start, end), leftmost first, the way Oniguruma's search iterates:
// after a match the search resumes at its end; an empty match is skipped by
// one rune.
func (re *regex) findAll(s string) ([][2]int, error) {
	m, _ := re.pool.Get().(*matcher)
	if m == nil {
		m = &matcher{re: re, stack: make([]thread, 0, 64)}
	}
	defer re.pool.Put(m)
	out := make([][2]int, 0, len(s)/4+1)
	pos := 0
	for pos <= len(s) {
		m.steps = 0
		end, err := m.matchAt(re.prog, s, pos)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %w", re.src, err)
		}
		if end > pos {
			out = append(out, [2]int{pos, end})
			pos = end
			continue
		}
		if pos == len(s) {
			break
		}
		_, n := utf8.DecodeRuneInString(s[pos:])
		pos += n
	}
	return out, nil
}
