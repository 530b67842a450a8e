package chat

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits that keep a hostile template from running away (variables so
// tests can lower them).
var (
	maxOutput = 16 << 20   // bytes of rendered text
	maxSteps  = 20_000_000 // statements, expressions and loop iterations
	maxItems  = 1 << 20    // elements a range() or repetition may produce
)

// RenderError is an error while rendering a template: a type error, an
// undefined value used where one is not allowed, a limit exceeded. Line and
// Col (1-based) locate the construct in the template source.
type RenderError struct {
	Line, Col int
	Msg       string
}

// Error implements the error interface.
func (e *RenderError) Error() string {
	return fmt.Sprintf("chat template line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// RaisedError is returned when the template calls raise_exception(msg),
// as templates do to reject a conversation (for example roles that do not
// alternate). Message is the template's message.
type RaisedError struct{ Message string }

// Error implements the error interface.
func (e *RaisedError) Error() string { return "chat template: " + e.Message }

type flow int

const (
	flowNormal flow = iota
	flowBreak
	flowContinue
)

type scope struct {
	vars   map[string]value
	parent *scope
}

func (s *scope) lookup(name string) (value, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

type renderer struct {
	src   string
	out   strings.Builder
	steps int
	gen   [][2]int // output ranges of {% generation %} blocks
}

// fail builds a RenderError at byte offset pos, unless err already is one
// (or a RaisedError), which passes through.
func (r *renderer) fail(pos int, err error) error {
	var re *RenderError
	var rx *RaisedError
	if errors.As(err, &rx) {
		return rx
	}
	if errors.As(err, &re) {
		return re
	}
	line, col := lineCol(r.src, pos)
	return &RenderError{Line: line, Col: col, Msg: err.Error()}
}

func (r *renderer) failf(pos int, format string, args ...any) error {
	return r.fail(pos, fmt.Errorf(format, args...))
}

func (r *renderer) step(pos int) error {
	r.steps++
	if r.steps > maxSteps {
		return r.failf(pos, "template takes too many steps (more than %d)", maxSteps)
	}
	return nil
}

func (r *renderer) write(pos int, s string) error {
	if r.out.Len()+len(s) > maxOutput {
		return r.failf(pos, "output larger than %d bytes", maxOutput)
	}
	r.out.WriteString(s)
	return nil
}

func (r *renderer) execBody(body []node, sc *scope) (flow, error) {
	for _, n := range body {
		f, err := r.exec(n, sc)
		if err != nil || f != flowNormal {
			return f, err
		}
	}
	return flowNormal, nil
}

func (r *renderer) exec(n node, sc *scope) (flow, error) {
	switch n := n.(type) {
	case *textNode:
		return flowNormal, r.write(n.pos, n.s)
	case *outputNode:
		v, err := r.eval(n.e, sc)
		if err != nil {
			return flowNormal, err
		}
		return flowNormal, r.write(n.e.position(), toStr(v))
	case *ifNode:
		for i, c := range n.conds {
			v, err := r.eval(c, sc)
			if err != nil {
				return flowNormal, err
			}
			if truthy(v) {
				return r.execBody(n.bodies[i], sc)
			}
		}
		return r.execBody(n.els, sc)
	case *forNode:
		return flowNormal, r.execFor(n, sc)
	case *setNode:
		var v value
		if n.body != nil {
			saved := r.out
			r.out = strings.Builder{}
			_, err := r.execBody(n.body, sc)
			v = r.out.String()
			r.out = saved
			if err != nil {
				return flowNormal, err
			}
		} else {
			var err error
			if v, err = r.eval(n.value, sc); err != nil {
				return flowNormal, err
			}
		}
		if n.attr == "" {
			sc.vars[n.name] = v
			return flowNormal, nil
		}
		obj, _ := sc.lookup(n.name)
		ns, ok := obj.(*namespaceValue)
		if !ok {
			return flowNormal, r.failf(n.pos, "cannot assign attribute '%s' on '%s': not a namespace", n.attr, n.name)
		}
		ns.d.set(n.attr, v)
		return flowNormal, nil
	case *generationNode:
		start := r.out.Len()
		f, err := r.execBody(n.body, sc)
		r.gen = append(r.gen, [2]int{start, r.out.Len()})
		return f, err
	case *breakNode:
		return flowBreak, nil
	case *continueNode:
		return flowContinue, nil
	}
	return flowNormal, fmt.Errorf("chat: unknown node %T", n)
}

func (r *renderer) execFor(n *forNode, sc *scope) error {
	iv, err := r.eval(n.iter, sc)
	if err != nil {
		return err
	}
	items, err := iterate(iv)
	if err != nil {
		return r.fail(n.iter.position(), err)
	}
	bind := func(s *scope, item value) error {
		if len(n.vars) == 1 {
			s.vars[n.vars[0]] = item
			return nil
		}
		parts, ok := item.([]value)
		if !ok {
			if str, isStr := item.(string); isStr {
				parts, _ = iterate(str)
			} else {
				return r.failf(n.pos, "cannot unpack '%s' into %d loop variables", typeName(item), len(n.vars))
			}
		}
		if len(parts) != len(n.vars) {
			return r.failf(n.pos, "cannot unpack %d values into %d loop variables", len(parts), len(n.vars))
		}
		for i, name := range n.vars {
			s.vars[name] = parts[i]
		}
		return nil
	}
	if n.cond != nil {
		kept := items[:0:0]
		for _, it := range items {
			if err := r.step(n.pos); err != nil {
				return err
			}
			s := &scope{vars: map[string]value{}, parent: sc}
			if err := bind(s, it); err != nil {
				return err
			}
			c, err := r.eval(n.cond, s)
			if err != nil {
				return err
			}
			if truthy(c) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		_, err := r.execBody(n.els, sc)
		return err
	}
	for i, it := range items {
		if err := r.step(n.pos); err != nil {
			return err
		}
		s := &scope{vars: map[string]value{}, parent: sc}
		if err := bind(s, it); err != nil {
			return err
		}
		loop := newDict()
		loop.set("index", int64(i+1))
		loop.set("index0", int64(i))
		loop.set("revindex", int64(len(items)-i))
		loop.set("revindex0", int64(len(items)-i-1))
		loop.set("first", i == 0)
		loop.set("last", i == len(items)-1)
		loop.set("length", int64(len(items)))
		loop.set("depth", int64(1))
		loop.set("depth0", int64(0))
		if i > 0 {
			loop.set("previtem", items[i-1])
		}
		if i+1 < len(items) {
			loop.set("nextitem", items[i+1])
		}
		s.vars["loop"] = loop
		f, err := r.execBody(n.body, s)
		if err != nil {
			return err
		}
		if f == flowBreak {
			break
		}
	}
	return nil
}

func (r *renderer) eval(e expr, sc *scope) (value, error) {
	if err := r.step(e.position()); err != nil {
		return nil, err
	}
	switch e := e.(type) {
	case *literalExpr:
		return e.v, nil
	case *nameExpr:
		if v, ok := sc.lookup(e.name); ok {
			return v, nil
		}
		if f, ok := globals[e.name]; ok {
			return f, nil
		}
		return undefinedValue{name: e.name}, nil
	case *attrExpr:
		x, err := r.eval(e.x, sc)
		if err != nil {
			return nil, err
		}
		v, err := getAttr(x, e.name)
		if err != nil {
			return nil, r.fail(e.pos, err)
		}
		return v, nil
	case *indexExpr:
		x, err := r.eval(e.x, sc)
		if err != nil {
			return nil, err
		}
		idx, err := r.eval(e.index, sc)
		if err != nil {
			return nil, err
		}
		v, err := getItem(x, idx)
		if err != nil {
			return nil, r.fail(e.pos, err)
		}
		return v, nil
	case *sliceExpr:
		return r.evalSlice(e, sc)
	case *callExpr:
		return r.evalCall(e, sc)
	case *filterExpr:
		x, err := r.eval(e.x, sc)
		if err != nil {
			return nil, err
		}
		args, kw, err := r.evalArgs(e.args, e.kw, sc)
		if err != nil {
			return nil, err
		}
		v, err := filters[e.name](r, x, args, kw)
		if err != nil {
			return nil, r.fail(e.pos, fmt.Errorf("filter '%s': %w", e.name, err))
		}
		return v, nil
	case *testExpr:
		x, err := r.eval(e.x, sc)
		if err != nil {
			return nil, err
		}
		args, _, err := r.evalArgs(e.args, nil, sc)
		if err != nil {
			return nil, err
		}
		ok, err := tests[e.name].fn(x, args)
		if err != nil {
			return nil, r.fail(e.pos, fmt.Errorf("test '%s': %w", e.name, err))
		}
		return ok != e.negate, nil
	case *binaryExpr:
		return r.evalBinary(e, sc)
	case *unaryExpr:
		x, err := r.eval(e.x, sc)
		if err != nil {
			return nil, err
		}
		switch e.op {
		case "not":
			return !truthy(x), nil
		case "-":
			switch v := x.(type) {
			case bool, int64:
				n, _ := asInt(v)
				if n == math.MinInt64 {
					return nil, r.failf(e.pos, "integer overflow")
				}
				return -n, nil
			case float64:
				return -v, nil
			}
		case "+":
			switch v := x.(type) {
			case bool, int64:
				n, _ := asInt(v)
				return n, nil
			case float64:
				return v, nil
			}
		}
		return nil, r.failf(e.pos, "bad operand type for unary %s: '%s'", e.op, typeName(x))
	case *compareExpr:
		l, err := r.eval(e.first, sc)
		if err != nil {
			return nil, err
		}
		for i, op := range e.ops {
			rv, err := r.eval(e.rest[i], sc)
			if err != nil {
				return nil, err
			}
			ok, err := compareOp(op, l, rv)
			if err != nil {
				return nil, r.fail(e.rest[i].position(), err)
			}
			if !ok {
				return false, nil
			}
			l = rv
		}
		return true, nil
	case *condExpr:
		c, err := r.eval(e.cond, sc)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return r.eval(e.yes, sc)
		}
		if e.no == nil {
			return undefinedValue{}, nil
		}
		return r.eval(e.no, sc)
	case *listExpr:
		out := make([]value, len(e.items))
		for i, it := range e.items {
			v, err := r.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *dictExpr:
		d := newDict()
		for i, ke := range e.keys {
			k, err := r.eval(ke, sc)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, r.failf(ke.position(), "unsupported dict key of type '%s' (only strings)", typeName(k))
			}
			v, err := r.eval(e.vals[i], sc)
			if err != nil {
				return nil, err
			}
			d.set(ks, v)
		}
		return d, nil
	}
	return nil, fmt.Errorf("chat: unknown expression %T", e)
}

func (r *renderer) evalArgs(args []expr, kw []kwArg, sc *scope) ([]value, []kwValue, error) {
	var av []value
	for _, a := range args {
		v, err := r.eval(a, sc)
		if err != nil {
			return nil, nil, err
		}
		av = append(av, v)
	}
	var kv []kwValue
	for _, k := range kw {
		v, err := r.eval(k.v, sc)
		if err != nil {
			return nil, nil, err
		}
		kv = append(kv, kwValue{k.name, v})
	}
	return av, kv, nil
}

func (r *renderer) evalCall(e *callExpr, sc *scope) (value, error) {
	fv, err := r.eval(e.fn, sc)
	if err != nil {
		return nil, err
	}
	args, kw, err := r.evalArgs(e.args, e.kw, sc)
	if err != nil {
		return nil, err
	}
	var v value
	switch f := fv.(type) {
	case *funcValue:
		v, err = f.call(r, args, kw)
		if err != nil {
			err = fmt.Errorf("%s(): %w", f.name, err)
		}
	case *methodValue:
		if len(kw) > 0 {
			return nil, r.failf(e.pos, "%s() takes no keyword arguments", f.name)
		}
		v, err = callMethod(f.recv, f.name, args)
		if err != nil {
			err = fmt.Errorf("%s.%s(): %w", typeName(f.recv), f.name, err)
		}
	case undefinedValue:
		if f.name == "" {
			return nil, r.failf(e.pos, "cannot call an undefined value")
		}
		return nil, r.failf(e.pos, "'%s' is undefined (unsupported function?)", f.name)
	default:
		return nil, r.failf(e.pos, "'%s' object is not callable", typeName(fv))
	}
	if err != nil {
		return nil, r.fail(e.pos, err)
	}
	return v, nil
}

func (r *renderer) evalSlice(e *sliceExpr, sc *scope) (value, error) {
	x, err := r.eval(e.x, sc)
	if err != nil {
		return nil, err
	}
	var bounds [3]*int64
	for i, b := range []expr{e.start, e.stop, e.step} {
		if b == nil {
			continue
		}
		v, err := r.eval(b, sc)
		if err != nil {
			return nil, err
		}
		if _, isNone := v.(noneType); isNone {
			continue
		}
		n, ok := asInt(v)
		if !ok {
			return nil, r.failf(b.position(), "slice indices must be integers or None, not '%s'", typeName(v))
		}
		bounds[i] = &n
	}
	switch s := x.(type) {
	case []value:
		idx, err := sliceIndices(len(s), bounds)
		if err != nil {
			return nil, r.fail(e.pos, err)
		}
		out := make([]value, len(idx))
		for i, k := range idx {
			out[i] = s[k]
		}
		return out, nil
	case string:
		rs := []rune(s)
		idx, err := sliceIndices(len(rs), bounds)
		if err != nil {
			return nil, r.fail(e.pos, err)
		}
		out := make([]rune, len(idx))
		for i, k := range idx {
			out[i] = rs[k]
		}
		return string(out), nil
	case undefinedValue:
		return nil, r.failf(e.pos, "cannot slice undefined value%s", undefName(s))
	}
	return nil, r.failf(e.pos, "'%s' object is not subscriptable", typeName(x))
}

// sliceIndices lists the indices that Python's seq[start:stop:step] visits
// in a sequence of length n.
func sliceIndices(n int, b [3]*int64) ([]int, error) {
	step := int64(1)
	if b[2] != nil {
		step = *b[2]
	}
	if step == 0 {
		return nil, errors.New("slice step cannot be zero")
	}
	ln := int64(n)
	adjust := func(p *int64, def int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += ln
			if v < 0 {
				if step < 0 {
					return -1
				}
				return 0
			}
		} else if v >= ln {
			if step < 0 {
				return ln - 1
			}
			return ln
		}
		return v
	}
	var start, stop int64
	if step > 0 {
		start, stop = adjust(b[0], 0), adjust(b[1], ln)
	} else {
		start, stop = adjust(b[0], ln-1), adjust(b[1], -1)
	}
	var out []int
	if step > 0 {
		for i := start; i < stop; i += step {
			out = append(out, int(i))
		}
	} else {
		for i := start; i > stop; i += step {
			out = append(out, int(i))
		}
	}
	return out, nil
}

func undefName(u undefinedValue) string {
	if u.name == "" {
		return ""
	}
	return " '" + u.name + "'"
}

func (r *renderer) evalBinary(e *binaryExpr, sc *scope) (value, error) {
	l, err := r.eval(e.l, sc)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "and":
		if !truthy(l) {
			return l, nil
		}
		return r.eval(e.r, sc)
	case "or":
		if truthy(l) {
			return l, nil
		}
		return r.eval(e.r, sc)
	}
	rv, err := r.eval(e.r, sc)
	if err != nil {
		return nil, err
	}
	if e.op == "~" {
		s := toStr(l) + toStr(rv)
		if len(s) > maxOutput {
			return nil, r.failf(e.pos, "string longer than %d bytes", maxOutput)
		}
		return s, nil
	}
	v, err := arith(e.op, l, rv)
	if err != nil {
		return nil, r.fail(e.pos, err)
	}
	return v, nil
}

// arith applies a Python arithmetic operator.
func arith(op string, l, rv value) (value, error) {
	for _, v := range []value{l, rv} {
		if u, ok := v.(undefinedValue); ok {
			return nil, fmt.Errorf("undefined value%s used in '%s'", undefName(u), op)
		}
	}
	li, lInt := asInt(l)
	ri, rInt := asInt(rv)
	lf, _, lNum := number(l)
	rf, _, rNum := number(rv)
	switch op {
	case "+":
		switch {
		case lInt && rInt:
			s := li + ri
			if (s > li) != (ri > 0) {
				return nil, errors.New("integer overflow")
			}
			return s, nil
		case lNum && rNum:
			return lf + rf, nil
		}
		if ls, ok := l.(string); ok {
			if rs, ok := rv.(string); ok {
				if len(ls)+len(rs) > maxOutput {
					return nil, fmt.Errorf("string longer than %d bytes", maxOutput)
				}
				return ls + rs, nil
			}
		}
		if ll, ok := l.([]value); ok {
			if rl, ok := rv.([]value); ok {
				if len(ll)+len(rl) > maxItems {
					return nil, fmt.Errorf("list longer than %d items", maxItems)
				}
				return append(append([]value{}, ll...), rl...), nil
			}
		}
	case "-":
		switch {
		case lInt && rInt:
			s := li - ri
			if (s < li) != (ri > 0) {
				return nil, errors.New("integer overflow")
			}
			return s, nil
		case lNum && rNum:
			return lf - rf, nil
		}
	case "*":
		switch {
		case lInt && rInt:
			p, ok := mulInt(li, ri)
			if !ok {
				return nil, errors.New("integer overflow")
			}
			return p, nil
		case lNum && rNum:
			return lf * rf, nil
		case rInt:
			return repeat(l, ri)
		case lInt:
			return repeat(rv, li)
		}
	case "/":
		if lNum && rNum {
			if rf == 0 {
				return nil, errors.New("division by zero")
			}
			return lf / rf, nil
		}
	case "//", "%":
		if lInt && rInt {
			if ri == 0 {
				return nil, errors.New("integer division or modulo by zero")
			}
			if ri == -1 {
				if op == "%" {
					return int64(0), nil
				}
				if li == math.MinInt64 {
					return nil, errors.New("integer overflow")
				}
				return -li, nil
			}
			q, m := li/ri, li%ri
			if m != 0 && (m < 0) != (ri < 0) {
				q--
				m += ri
			}
			if op == "//" {
				return q, nil
			}
			return m, nil
		}
		if lNum && rNum {
			if rf == 0 {
				return nil, errors.New("float division or modulo by zero")
			}
			q := math.Floor(lf / rf)
			if op == "//" {
				return q, nil
			}
			m := math.Mod(lf, rf)
			if m != 0 && (m < 0) != (rf < 0) {
				m += rf
			}
			return m, nil
		}
		if _, ok := l.(string); ok && op == "%" {
			return nil, errors.New("unsupported printf-style string formatting ('%' on a string)")
		}
	case "**":
		if lInt && rInt && ri >= 0 {
			res, base := int64(1), li
			for e := ri; e > 0; e >>= 1 {
				var ok bool
				if e&1 == 1 {
					if res, ok = mulInt(res, base); !ok {
						return nil, errors.New("integer overflow")
					}
				}
				if e > 1 {
					if base, ok = mulInt(base, base); !ok {
						return nil, errors.New("integer overflow")
					}
				}
			}
			return res, nil
		}
		if lNum && rNum {
			return math.Pow(lf, rf), nil
		}
	}
	return nil, fmt.Errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(l), typeName(rv))
}

// mulInt multiplies with an overflow check.
func mulInt(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

// repeat is Python's sequence * n.
func repeat(v value, n int64) (value, error) {
	if n < 0 {
		n = 0
	}
	switch x := v.(type) {
	case string:
		if x == "" || n == 0 {
			return "", nil
		}
		if int64(len(x)) > int64(maxOutput)/n {
			return nil, fmt.Errorf("string longer than %d bytes", maxOutput)
		}
		return strings.Repeat(x, int(n)), nil
	case []value:
		if len(x) == 0 || n == 0 {
			return []value{}, nil
		}
		if int64(len(x)) > int64(maxItems)/n {
			return nil, fmt.Errorf("list longer than %d items", maxItems)
		}
		out := make([]value, 0, int64(len(x))*n)
		for i := int64(0); i < n; i++ {
			out = append(out, x...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported operand type(s) for *: '%s' and 'int'", typeName(v))
}

// compareOp applies a comparison operator.
func compareOp(op string, l, rv value) (bool, error) {
	switch op {
	case "==":
		return equal(l, rv), nil
	case "!=":
		return !equal(l, rv), nil
	case "in", "not in":
		ok, err := contains(rv, l)
		return ok == (op == "in"), err
	}
	c, err := compare(l, rv, op)
	if err != nil {
		return false, err
	}
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	}
	return c >= 0, nil
}

// contains is Python's "x in container".
func contains(container, x value) (bool, error) {
	switch c := container.(type) {
	case undefinedValue:
		return false, nil
	case string:
		s, ok := x.(string)
		if !ok {
			return false, fmt.Errorf("'in <string>' requires string as left operand, not %s", typeName(x))
		}
		return strings.Contains(c, s), nil
	case []value:
		for _, it := range c {
			if equal(it, x) {
				return true, nil
			}
		}
		return false, nil
	case *dictValue:
		s, ok := x.(string)
		if !ok {
			return false, nil
		}
		_, found := c.m[s]
		return found, nil
	case *namespaceValue:
		s, ok := x.(string)
		if !ok {
			return false, nil
		}
		_, found := c.d.m[s]
		return found, nil
	}
	return false, fmt.Errorf("argument of type '%s' is not iterable", typeName(container))
}

// getAttr is Jinja's obj.name: a method or attribute first, then an item.
func getAttr(x value, name string) (value, error) {
	switch o := x.(type) {
	case undefinedValue:
		return nil, fmt.Errorf("cannot read attribute '%s' of undefined value%s", name, undefName(o))
	case *dictValue:
		if dictMethods[name] {
			return &methodValue{recv: o, name: name}, nil
		}
		if v, ok := o.m[name]; ok {
			return v, nil
		}
	case *namespaceValue:
		if v, ok := o.d.m[name]; ok {
			return v, nil
		}
	case string:
		if strMethods[name] {
			return &methodValue{recv: o, name: name}, nil
		}
	}
	return undefinedValue{name: name}, nil
}

// getItem is Jinja's obj[key]: an item first, then an attribute.
func getItem(x value, key value) (value, error) {
	switch o := x.(type) {
	case undefinedValue:
		return nil, fmt.Errorf("cannot index undefined value%s with %s", undefName(o), repr(key))
	case []value:
		if i, ok := asInt(key); ok {
			if i < 0 {
				i += int64(len(o))
			}
			if i < 0 || i >= int64(len(o)) {
				return undefinedValue{name: fmt.Sprintf("[%d]", i)}, nil
			}
			return o[i], nil
		}
	case string:
		if i, ok := asInt(key); ok {
			n := int64(utf8.RuneCountInString(o))
			if i < 0 {
				i += n
			}
			if i < 0 || i >= n {
				return undefinedValue{}, nil
			}
			return string([]rune(o)[i]), nil
		}
	case *dictValue:
		if k, ok := key.(string); ok {
			if v, ok := o.m[k]; ok {
				return v, nil
			}
		}
	}
	if k, ok := key.(string); ok {
		return getAttr(x, k)
	}
	return undefinedValue{}, nil
}

// Methods.

var strMethods = map[string]bool{
	"strip": true, "lstrip": true, "rstrip": true, "split": true, "startswith": true, "endswith": true,
	"upper": true, "lower": true, "title": true, "capitalize": true, "replace": true, "find": true,
	"count": true,
}

var dictMethods = map[string]bool{"get": true, "items": true, "keys": true, "values": true}

// knownMethods are the method names a template may call.
var knownMethods = func() map[string]bool {
	m := map[string]bool{}
	for k := range strMethods {
		m[k] = true
	}
	for k := range dictMethods {
		m[k] = true
	}
	return m
}()

func nargs(args []value, min, max int) error {
	if len(args) < min || len(args) > max {
		if min == max {
			return fmt.Errorf("takes %d argument(s), got %d", min, len(args))
		}
		return fmt.Errorf("takes %d to %d arguments, got %d", min, max, len(args))
	}
	return nil
}

func strArg(args []value, i int) (string, error) {
	s, ok := args[i].(string)
	if !ok {
		return "", fmt.Errorf("argument %d must be a string, not '%s'", i+1, typeName(args[i]))
	}
	return s, nil
}

// stripChars is Python's str.strip family: whitespace, or the characters of
// chars when given (None means whitespace).
func stripChars(s string, args []value, left, right bool) (string, error) {
	if err := nargs(args, 0, 1); err != nil {
		return "", err
	}
	cut := unicode.IsSpace
	if len(args) == 1 {
		if _, isNone := args[0].(noneType); !isNone {
			chars, err := strArg(args, 0)
			if err != nil {
				return "", err
			}
			cut = func(r rune) bool { return strings.ContainsRune(chars, r) }
		}
	}
	if left {
		s = strings.TrimLeftFunc(s, cut)
	}
	if right {
		s = strings.TrimRightFunc(s, cut)
	}
	return s, nil
}

func callMethod(recv value, name string, args []value) (value, error) {
	switch o := recv.(type) {
	case string:
		return callStrMethod(o, name, args)
	case *dictValue:
		switch name {
		case "get":
			if err := nargs(args, 1, 2); err != nil {
				return nil, err
			}
			if k, ok := args[0].(string); ok {
				if v, ok := o.m[k]; ok {
					return v, nil
				}
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return noneValue, nil
		case "items", "keys", "values":
			if err := nargs(args, 0, 0); err != nil {
				return nil, err
			}
			out := make([]value, len(o.keys))
			for i, k := range o.keys {
				switch name {
				case "items":
					out[i] = []value{k, o.m[k]}
				case "keys":
					out[i] = k
				default:
					out[i] = o.m[k]
				}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("no method '%s'", name)
}

func callStrMethod(s, name string, args []value) (value, error) {
	switch name {
	case "strip":
		return stripChars(s, args, true, true)
	case "lstrip":
		return stripChars(s, args, true, false)
	case "rstrip":
		return stripChars(s, args, false, true)
	case "upper", "lower", "title", "capitalize":
		if err := nargs(args, 0, 0); err != nil {
			return nil, err
		}
		switch name {
		case "upper":
			return strings.ToUpper(s), nil
		case "lower":
			return strings.ToLower(s), nil
		case "title":
			return pyTitle(s), nil
		}
		return capitalize(s), nil
	case "startswith", "endswith":
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		var cands []value
		switch a := args[0].(type) {
		case string:
			cands = []value{a}
		case []value:
			cands = a
		default:
			return nil, fmt.Errorf("argument must be str or a tuple of str, not '%s'", typeName(args[0]))
		}
		for _, c := range cands {
			cs, ok := c.(string)
			if !ok {
				return nil, fmt.Errorf("tuple items must be str, not '%s'", typeName(c))
			}
			if name == "startswith" && strings.HasPrefix(s, cs) || name == "endswith" && strings.HasSuffix(s, cs) {
				return true, nil
			}
		}
		return false, nil
	case "split":
		if err := nargs(args, 0, 2); err != nil {
			return nil, err
		}
		maxSplit := int64(-1)
		if len(args) == 2 {
			n, ok := asInt(args[1])
			if !ok {
				return nil, fmt.Errorf("maxsplit must be an int, not '%s'", typeName(args[1]))
			}
			maxSplit = n
		}
		var parts []string
		if len(args) == 0 || args[0] == value(noneValue) {
			parts = splitWhitespace(s, maxSplit)
		} else {
			sep, err := strArg(args, 0)
			if err != nil {
				return nil, err
			}
			if sep == "" {
				return nil, errors.New("empty separator")
			}
			n := -1
			if maxSplit >= 0 && maxSplit < math.MaxInt32 {
				n = int(maxSplit) + 1
			}
			parts = strings.SplitN(s, sep, n)
		}
		out := make([]value, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "replace":
		if err := nargs(args, 2, 3); err != nil {
			return nil, err
		}
		old, err := strArg(args, 0)
		if err != nil {
			return nil, err
		}
		nw, err := strArg(args, 1)
		if err != nil {
			return nil, err
		}
		n := -1
		if len(args) == 3 {
			c, ok := asInt(args[2])
			if !ok {
				return nil, fmt.Errorf("count must be an int, not '%s'", typeName(args[2]))
			}
			if c >= 0 && c < math.MaxInt32 {
				n = int(c)
			}
		}
		if old == "" && utf8.RuneCountInString(s)+1 > maxOutput/(len(nw)+1) {
			return nil, fmt.Errorf("string longer than %d bytes", maxOutput)
		}
		if cnt := strings.Count(s, old); old != "" && len(nw) > len(old) && int64(cnt)*int64(len(nw)-len(old)) > int64(maxOutput) {
			return nil, fmt.Errorf("string longer than %d bytes", maxOutput)
		}
		return strings.Replace(s, old, nw, n), nil
	case "find", "count":
		if err := nargs(args, 1, 1); err != nil {
			return nil, err
		}
		sub, err := strArg(args, 0)
		if err != nil {
			return nil, err
		}
		if name == "count" {
			if sub == "" {
				return int64(utf8.RuneCountInString(s) + 1), nil
			}
			return int64(strings.Count(s, sub)), nil
		}
		i := strings.Index(s, sub)
		if i < 0 {
			return int64(-1), nil
		}
		return int64(utf8.RuneCountInString(s[:i])), nil
	}
	return nil, fmt.Errorf("no method '%s'", name)
}

// splitWhitespace is Python's str.split() without a separator.
func splitWhitespace(s string, maxSplit int64) []string {
	var out []string
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			return out
		}
		if maxSplit >= 0 && int64(len(out)) == maxSplit {
			return append(out, strings.TrimRightFunc(s, unicode.IsSpace))
		}
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
}

// pyTitle is Python's str.title(): a letter after a non-letter is upper
// case, other letters lower case.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			if prevCased {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToTitle(r))
			}
			prevCased = true
		} else {
			b.WriteRune(r)
			prevCased = false
		}
	}
	return b.String()
}

// capitalize is Python's str.capitalize().
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + strings.ToLower(s[n:])
}
