package chat

import (
	"strings"
)

// Statement nodes.
type (
	textNode struct {
		s   string
		pos int
	}
	outputNode struct{ e expr }
	ifNode     struct {
		conds  []expr
		bodies [][]node // len(bodies) == len(conds)
		els    []node
	}
	forNode struct {
		vars []string
		iter expr
		cond expr // nil: none
		body []node
		els  []node
		pos  int
	}
	setNode struct {
		name  string // variable, or namespace object when attr != ""
		attr  string
		value expr   // nil for a block set
		body  []node // block set: {% set x %}...{% endset %}
		pos   int
	}
	generationNode struct{ body []node }
	breakNode      struct{ pos int }
	continueNode   struct{ pos int }
)

type node interface{}

// Expression nodes; pos is the byte offset of the expression in the source.
type (
	literalExpr struct {
		v   value
		pos int
	}
	nameExpr struct {
		name string
		pos  int
	}
	attrExpr struct {
		x    expr
		name string
		pos  int
	}
	indexExpr struct {
		x, index expr
		pos      int
	}
	sliceExpr struct {
		x                 expr
		start, stop, step expr // each may be nil
		pos               int
	}
	callExpr struct {
		fn   expr
		args []expr
		kw   []kwArg
		pos  int
	}
	filterExpr struct {
		x    expr
		name string
		args []expr
		kw   []kwArg
		pos  int
	}
	testExpr struct {
		x      expr
		name   string
		args   []expr
		negate bool
		pos    int
	}
	binaryExpr struct {
		op   string
		l, r expr
		pos  int
	}
	unaryExpr struct {
		op  string // "not", "-", "+"
		x   expr
		pos int
	}
	compareExpr struct {
		first expr
		ops   []string // "==", "!=", "<", ">", "<=", ">=", "in", "not in"
		rest  []expr
		pos   int
	}
	condExpr struct {
		cond, yes, no expr // no may be nil
		pos           int
	}
	listExpr struct {
		items []expr
		pos   int
	}
	dictExpr struct {
		keys, vals []expr
		pos        int
	}
)

type expr interface{ position() int }

func (e *literalExpr) position() int { return e.pos }
func (e *nameExpr) position() int    { return e.pos }
func (e *attrExpr) position() int    { return e.pos }
func (e *indexExpr) position() int   { return e.pos }
func (e *sliceExpr) position() int   { return e.pos }
func (e *callExpr) position() int    { return e.pos }
func (e *filterExpr) position() int  { return e.pos }
func (e *testExpr) position() int    { return e.pos }
func (e *binaryExpr) position() int  { return e.pos }
func (e *unaryExpr) position() int   { return e.pos }
func (e *compareExpr) position() int { return e.pos }
func (e *condExpr) position() int    { return e.pos }
func (e *listExpr) position() int    { return e.pos }
func (e *dictExpr) position() int    { return e.pos }

type kwArg struct {
	name string
	v    expr
}

// maxDepth bounds the nesting of expressions and blocks.
const maxDepth = 200

type parser struct {
	src    string
	pieces []piece
	pi     int // next piece
	toks   []token
	ti     int // next token of the current tag
	depth  int
	loops  int // enclosing for-loops, for break and continue
	hasGen bool
}

// parseTemplate parses src into a list of statements.
func parseTemplate(src string) ([]node, bool, error) {
	pieces, err := lex(src)
	if err != nil {
		return nil, false, err
	}
	p := &parser{src: src, pieces: pieces}
	body, end, err := p.parseBody()
	if err != nil {
		return nil, false, err
	}
	if end != "" {
		return nil, false, p.errTok(p.toks[0], "unexpected {%% %s %%}", end)
	}
	return body, p.hasGen, nil
}

// blockKeywords are the tags that end or continue an enclosing block.
var blockKeywords = map[string]bool{
	"elif": true, "else": true, "endif": true, "endfor": true, "endset": true, "endgeneration": true,
}

// unsupportedTags are Jinja tags outside the supported subset.
var unsupportedTags = map[string]bool{
	"macro": true, "endmacro": true, "call": true, "endcall": true, "filter": true, "endfilter": true,
	"include": true, "import": true, "from": true, "extends": true, "block": true, "endblock": true,
	"raw": true, "endraw": true, "with": true, "endwith": true, "do": true, "autoescape": true,
	"endautoescape": true, "trans": true, "endtrans": true,
}

// parseBody parses statements until a block keyword (returned, with the
// current tag positioned after it) or the end of the template ("").
func (p *parser) parseBody() ([]node, string, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		pos := len(p.src)
		if p.pi < len(p.pieces) {
			pos = p.pieces[p.pi].pos
		}
		return nil, "", errAt(p.src, pos, "blocks nested too deeply")
	}
	var body []node
	for p.pi < len(p.pieces) {
		pc := p.pieces[p.pi]
		p.pi++
		if pc.isText {
			body = append(body, &textNode{pc.text, pc.pos})
			continue
		}
		p.toks, p.ti = pc.toks, 0
		if !pc.block {
			e, err := p.parseExpr()
			if err != nil {
				return nil, "", err
			}
			if err := p.expectEnd(); err != nil {
				return nil, "", err
			}
			body = append(body, &outputNode{e})
			continue
		}
		t := p.next()
		if t.kind != tkName {
			return nil, "", p.errTok(t, "expected a tag name after {%%")
		}
		if blockKeywords[t.s] {
			return body, t.s, nil
		}
		n, err := p.parseStatement(t)
		if err != nil {
			return nil, "", err
		}
		body = append(body, n)
	}
	return body, "", nil
}

func (p *parser) parseStatement(t token) (node, error) {
	switch t.s {
	case "if":
		return p.parseIf()
	case "for":
		return p.parseFor(t)
	case "set":
		return p.parseSet(t)
	case "generation":
		p.hasGen = true
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		if end != "endgeneration" {
			return nil, p.missingEnd(t, "endgeneration", end)
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		return &generationNode{body}, nil
	case "break", "continue":
		if p.loops == 0 {
			return nil, p.errTok(t, "{%% %s %%} outside a for-loop", t.s)
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		if t.s == "break" {
			return &breakNode{t.pos}, nil
		}
		return &continueNode{t.pos}, nil
	}
	if unsupportedTags[t.s] {
		return nil, p.errTok(t, "unsupported tag {%% %s %%}", t.s)
	}
	return nil, p.errTok(t, "unknown tag {%% %s %%}", t.s)
}

// missingEnd reports a block opened at t that did not end with want.
func (p *parser) missingEnd(t token, want, got string) error {
	if got == "" {
		return p.errTok(t, "{%% %s %%} is never closed: missing {%% %s %%}", t.s, want)
	}
	return p.errTok(p.toks[0], "unexpected {%% %s %%} in {%% %s %%} block (want {%% %s %%})", got, t.s, want)
}

func (p *parser) parseIf() (node, error) {
	n := &ifNode{}
	open := p.toks[0]
	for {
		cond, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch end {
		case "elif":
			continue
		case "else":
			if err := p.expectEnd(); err != nil {
				return nil, err
			}
			els, end, err := p.parseBody()
			if err != nil {
				return nil, err
			}
			if end != "endif" {
				return nil, p.missingEnd(open, "endif", end)
			}
			n.els = els
			return n, p.expectEnd()
		case "endif":
			return n, p.expectEnd()
		default:
			return nil, p.missingEnd(open, "endif", end)
		}
	}
}

func (p *parser) parseFor(open token) (node, error) {
	n := &forNode{pos: open.pos}
	paren := p.acceptOp("(")
	for {
		t := p.next()
		if t.kind != tkName || isKeyword(t.s) {
			return nil, p.errTok(t, "expected a loop variable name")
		}
		n.vars = append(n.vars, t.s)
		if !p.acceptOp(",") {
			break
		}
	}
	if paren && !p.acceptOp(")") {
		return nil, p.errTok(p.peek(), "expected ')'")
	}
	if t := p.next(); t.kind != tkName || t.s != "in" {
		return nil, p.errTok(t, "expected 'in' in {%% for %%}")
	}
	iter, err := p.parseOr() // no conditional expression: "if" starts a filter
	if err != nil {
		return nil, err
	}
	n.iter = iter
	if p.acceptName("if") {
		if n.cond, err = p.parseOr(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.kind == tkName && t.s == "recursive" {
		return nil, p.errTok(t, "unsupported recursive for-loop")
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	p.loops++
	body, end, err := p.parseBody()
	p.loops--
	if err != nil {
		return nil, err
	}
	if end == "else" {
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		if n.els, end, err = p.parseBody(); err != nil {
			return nil, err
		}
	}
	if end != "endfor" {
		return nil, p.missingEnd(open, "endfor", end)
	}
	n.body = body
	return n, p.expectEnd()
}

func (p *parser) parseSet(open token) (node, error) {
	n := &setNode{pos: open.pos}
	t := p.next()
	if t.kind != tkName || isKeyword(t.s) {
		return nil, p.errTok(t, "expected a variable name after {%% set")
	}
	n.name = t.s
	if p.acceptOp(".") {
		a := p.next()
		if a.kind != tkName {
			return nil, p.errTok(a, "expected an attribute name")
		}
		n.attr = a.s
	}
	if t := p.peek(); t.kind == tkOp && (t.s == "," || t.s == "[") {
		return nil, p.errTok(t, "unsupported {%% set %%} target (only a name or namespace.attribute)")
	}
	if p.acceptOp("=") {
		v, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		n.value = v
		return n, p.expectEnd()
	}
	if n.attr != "" {
		return nil, p.errTok(p.peek(), "expected '=' in {%% set %%}")
	}
	if t := p.peek(); t.kind == tkOp && t.s == "|" {
		return nil, p.errTok(t, "unsupported filtered block {%% set %%}")
	}
	// block set
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if end != "endset" {
		return nil, p.missingEnd(open, "endset", end)
	}
	n.body = body
	if n.body == nil {
		n.body = []node{}
	}
	return n, p.expectEnd()
}

// Token helpers.

func (p *parser) peek() token { return p.toks[p.ti] }

func (p *parser) next() token {
	t := p.toks[p.ti]
	if t.kind != tkEnd {
		p.ti++
	}
	return t
}

func (p *parser) acceptOp(op string) bool {
	if t := p.peek(); t.kind == tkOp && t.s == op {
		p.ti++
		return true
	}
	return false
}

func (p *parser) acceptName(name string) bool {
	if t := p.peek(); t.kind == tkName && t.s == name {
		p.ti++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.errTok(p.peek(), "expected '%s'", op)
	}
	return nil
}

func (p *parser) expectEnd() error {
	if t := p.peek(); t.kind != tkEnd {
		return p.errTok(t, "unexpected %s", describe(t))
	}
	return nil
}

func describe(t token) string {
	switch t.kind {
	case tkName:
		return "'" + t.s + "'"
	case tkString:
		return "string literal"
	case tkInt, tkFloat:
		return "number " + t.s
	case tkOp:
		return "'" + t.s + "'"
	}
	return "end of tag"
}

func (p *parser) errTok(t token, format string, args ...any) error {
	return errAt(p.src, t.pos, format, args...)
}

func isKeyword(s string) bool {
	switch s {
	case "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None":
		return true
	}
	return false
}

// Expressions, lowest precedence first, following Jinja's grammar.

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errTok(p.peek(), "expression nested too deeply")
	}
	return nil
}

func (p *parser) parseExpr() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	pos := p.peek().pos
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.acceptName("if") {
		cond, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		c := &condExpr{cond: cond, yes: e, pos: pos}
		if p.acceptName("else") {
			if c.no, err = p.parseExpr(); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	return e, nil
}

func (p *parser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.acceptName("or") {
			return l, nil
		}
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{op: "or", l: l, r: r, pos: t.pos}
	}
}

func (p *parser) parseAnd() (expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.acceptName("and") {
			return l, nil
		}
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{op: "and", l: l, r: r, pos: t.pos}
	}
}

func (p *parser) parseNot() (expr, error) {
	t := p.peek()
	if p.acceptName("not") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: "not", x: x, pos: t.pos}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	pos := p.peek().pos
	first, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	c := &compareExpr{first: first, pos: pos}
	for {
		t := p.peek()
		var op string
		switch {
		case t.kind == tkOp && (t.s == "==" || t.s == "!=" || t.s == "<" || t.s == ">" || t.s == "<=" || t.s == ">="):
			p.ti++
			op = t.s
		case t.kind == tkName && t.s == "in":
			p.ti++
			op = "in"
		case t.kind == tkName && t.s == "not" && p.ti+1 < len(p.toks) && p.toks[p.ti+1].kind == tkName && p.toks[p.ti+1].s == "in":
			p.ti += 2
			op = "not in"
		}
		if op == "" {
			break
		}
		r, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		c.ops = append(c.ops, op)
		c.rest = append(c.rest, r)
	}
	if len(c.ops) == 0 {
		return first, nil
	}
	return c, nil
}

func (p *parser) parseMath1() (expr, error) {
	l, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tkOp || (t.s != "+" && t.s != "-") {
			return l, nil
		}
		p.ti++
		r, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{op: t.s, l: l, r: r, pos: t.pos}
	}
}

func (p *parser) parseConcat() (expr, error) {
	l, err := p.parseMath2()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.acceptOp("~") {
			return l, nil
		}
		r, err := p.parseMath2()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{op: "~", l: l, r: r, pos: t.pos}
	}
}

func (p *parser) parseMath2() (expr, error) {
	l, err := p.parsePow()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tkOp || (t.s != "*" && t.s != "/" && t.s != "//" && t.s != "%") {
			return l, nil
		}
		p.ti++
		r, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{op: t.s, l: l, r: r, pos: t.pos}
	}
}

func (p *parser) parsePow() (expr, error) {
	l, err := p.parseUnary(true)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.acceptOp("**") {
			return l, nil
		}
		r, err := p.parseUnary(true)
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{op: "**", l: l, r: r, pos: t.pos}
	}
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	t := p.peek()
	var x expr
	var err error
	if t.kind == tkOp && (t.s == "-" || t.s == "+") {
		p.ti++
		operand, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		x = &unaryExpr{op: t.s, x: operand, pos: t.pos}
	} else {
		if x, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	if x, err = p.parsePostfix(x); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(x)
	}
	return x, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tkName:
		switch t.s {
		case "true", "True":
			return &literalExpr{v: true, pos: t.pos}, nil
		case "false", "False":
			return &literalExpr{v: false, pos: t.pos}, nil
		case "none", "None":
			return &literalExpr{v: noneValue, pos: t.pos}, nil
		}
		if isKeyword(t.s) {
			return nil, p.errTok(t, "unexpected '%s'", t.s)
		}
		return &nameExpr{name: t.s, pos: t.pos}, nil
	case tkString:
		s := t.s
		// adjacent string literals are concatenated
		for p.peek().kind == tkString {
			s += p.next().s
		}
		return &literalExpr{v: s, pos: t.pos}, nil
	case tkInt:
		return &literalExpr{v: t.i, pos: t.pos}, nil
	case tkFloat:
		return &literalExpr{v: t.f, pos: t.pos}, nil
	case tkOp:
		switch t.s {
		case "(":
			if p.acceptOp(")") {
				return &listExpr{pos: t.pos}, nil // empty tuple
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if p.acceptOp(",") {
				l := &listExpr{items: []expr{e}, pos: t.pos}
				for !p.acceptOp(")") {
					it, err := p.parseExpr()
					if err != nil {
						return nil, err
					}
					l.items = append(l.items, it)
					if !p.acceptOp(",") {
						if err := p.expectOp(")"); err != nil {
							return nil, err
						}
						break
					}
				}
				return l, nil
			}
			return e, p.expectOp(")")
		case "[":
			l := &listExpr{pos: t.pos}
			for !p.acceptOp("]") {
				it, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, it)
				if !p.acceptOp(",") {
					if err := p.expectOp("]"); err != nil {
						return nil, err
					}
					break
				}
			}
			return l, nil
		case "{":
			d := &dictExpr{pos: t.pos}
			for !p.acceptOp("}") {
				k, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
				if !p.acceptOp(",") {
					if err := p.expectOp("}"); err != nil {
						return nil, err
					}
					break
				}
			}
			return d, nil
		}
	}
	return nil, p.errTok(t, "unexpected %s", describe(t))
}

func (p *parser) parsePostfix(x expr) (expr, error) {
	for {
		t := p.peek()
		if t.kind != tkOp {
			return x, nil
		}
		switch t.s {
		case ".":
			p.ti++
			a := p.next()
			switch a.kind {
			case tkName:
				x = &attrExpr{x: x, name: a.s, pos: a.pos}
			case tkInt:
				x = &indexExpr{x: x, index: &literalExpr{v: a.i, pos: a.pos}, pos: a.pos}
			default:
				return nil, p.errTok(a, "expected an attribute name after '.'")
			}
		case "[":
			p.ti++
			e, err := p.parseSubscript(x, t.pos)
			if err != nil {
				return nil, err
			}
			x = e
		case "(":
			p.ti++
			c := &callExpr{fn: x, pos: t.pos}
			var err error
			if c.args, c.kw, err = p.parseArgs(); err != nil {
				return nil, err
			}
			if a, ok := x.(*attrExpr); ok && !knownMethods[a.name] {
				return nil, errAt(p.src, a.pos, "unsupported method '%s'", a.name)
			}
			x = c
		default:
			return x, nil
		}
	}
}

// parseSubscript parses what follows '[': an index or a slice.
func (p *parser) parseSubscript(x expr, pos int) (expr, error) {
	var parts [3]expr
	n := 0
	isSlice := false
	for {
		t := p.peek()
		if t.kind == tkOp && (t.s == ":" || t.s == "]") {
			// empty part
		} else {
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			parts[n] = e
		}
		if p.acceptOp(":") {
			isSlice = true
			n++
			if n > 2 {
				return nil, p.errTok(p.peek(), "too many ':' in a slice")
			}
			continue
		}
		if err := p.expectOp("]"); err != nil {
			return nil, err
		}
		break
	}
	if !isSlice {
		if parts[0] == nil {
			return nil, errAt(p.src, pos, "empty subscript")
		}
		return &indexExpr{x: x, index: parts[0], pos: pos}, nil
	}
	return &sliceExpr{x: x, start: parts[0], stop: parts[1], step: parts[2], pos: pos}, nil
}

// parseArgs parses call arguments after '(' up to and including ')'.
func (p *parser) parseArgs() ([]expr, []kwArg, error) {
	var args []expr
	var kw []kwArg
	for !p.acceptOp(")") {
		t := p.peek()
		if t.kind == tkOp && (t.s == "*" || t.s == "**") {
			return nil, nil, p.errTok(t, "unsupported *args/**kwargs in a call")
		}
		if t.kind == tkName && p.ti+1 < len(p.toks) && p.toks[p.ti+1].kind == tkOp && p.toks[p.ti+1].s == "=" {
			p.ti += 2
			v, err := p.parseExpr()
			if err != nil {
				return nil, nil, err
			}
			kw = append(kw, kwArg{t.s, v})
		} else {
			if len(kw) > 0 {
				return nil, nil, p.errTok(t, "positional argument after keyword argument")
			}
			v, err := p.parseExpr()
			if err != nil {
				return nil, nil, err
			}
			args = append(args, v)
		}
		if !p.acceptOp(",") {
			if err := p.expectOp(")"); err != nil {
				return nil, nil, err
			}
			break
		}
	}
	return args, kw, nil
}

func (p *parser) parseFilterExpr(x expr) (expr, error) {
	for {
		t := p.peek()
		switch {
		case t.kind == tkOp && t.s == "|":
			p.ti++
			name := p.next()
			if name.kind != tkName {
				return nil, p.errTok(name, "expected a filter name after '|'")
			}
			if _, ok := filters[name.s]; !ok {
				return nil, p.errTok(name, "unsupported filter '%s'", name.s)
			}
			f := &filterExpr{x: x, name: name.s, pos: name.pos}
			if p.acceptOp("(") {
				var err error
				if f.args, f.kw, err = p.parseArgs(); err != nil {
					return nil, err
				}
			}
			x = f
		case t.kind == tkName && t.s == "is":
			p.ti++
			neg := p.acceptName("not")
			name := p.next()
			if name.kind != tkName {
				return nil, p.errTok(name, "expected a test name after 'is'")
			}
			tname := name.s
			switch tname { // tests named by keywords
			case "True", "False", "None":
				tname = strings.ToLower(tname)
			}
			if _, ok := tests[tname]; !ok {
				return nil, p.errTok(name, "unsupported test '%s'", name.s)
			}
			te := &testExpr{x: x, name: tname, negate: neg, pos: name.pos}
			nt := p.peek()
			switch {
			case nt.kind == tkOp && nt.s == "(":
				p.ti++
				args, kw, err := p.parseArgs()
				if err != nil {
					return nil, err
				}
				if len(kw) > 0 {
					return nil, p.errTok(nt, "unsupported keyword argument to test '%s'", tname)
				}
				te.args = args
			case tests[tname].nargs == 1 && (nt.kind == tkString || nt.kind == tkInt || nt.kind == tkFloat ||
				nt.kind == tkOp && (nt.s == "[" || nt.s == "{") ||
				nt.kind == tkName && nt.s != "else" && nt.s != "or" && nt.s != "and"):
				// one argument without parentheses: "is divisibleby 3"
				arg, err := p.parsePrimary()
				if err != nil {
					return nil, err
				}
				if arg, err = p.parsePostfix(arg); err != nil {
					return nil, err
				}
				te.args = []expr{arg}
			}
			if want := tests[tname].nargs; len(te.args) != want {
				return nil, p.errTok(name, "test '%s' takes %d argument(s), got %d", tname, want, len(te.args))
			}
			x = te
		case t.kind == tkOp && t.s == "(":
			p.ti++
			c := &callExpr{fn: x, pos: t.pos}
			var err error
			if c.args, c.kw, err = p.parseArgs(); err != nil {
				return nil, err
			}
			x = c
		default:
			return x, nil
		}
	}
}
