package chat

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Filters, tests and global functions of the supported subset, with
// Jinja's (and, for tojson, transformers') semantics.

type filterFunc func(r *renderer, x value, args []value, kw []kwValue) (value, error)

var filters map[string]filterFunc

type test struct {
	nargs int
	fn    func(x value, args []value) (bool, error)
}

var tests map[string]test

var globals map[string]value

func init() {
	filters = map[string]filterFunc{
		"trim":       filterTrim,
		"length":     filterLength,
		"count":      filterLength,
		"upper":      strFilter(strings.ToUpper),
		"lower":      strFilter(strings.ToLower),
		"capitalize": strFilter(capitalize),
		"title":      strFilter(jinjaTitle),
		"default":    filterDefault,
		"d":          filterDefault,
		"tojson":     filterToJSON,
		"string":     filterString,
		"int":        filterInt,
		"float":      filterFloat,
		"list":       filterList,
		"first":      filterFirst,
		"last":       filterLast,
		"join":       filterJoin,
		"selectattr": selectFilter(true, true),
		"rejectattr": selectFilter(true, false),
		"select":     selectFilter(false, true),
		"reject":     selectFilter(false, false),
		"map":        filterMap,
		"items":      filterItems,
		"replace":    filterReplace,
		"reverse":    filterReverse,
		"abs":        filterAbs,
		"safe":       func(_ *renderer, x value, args []value, kw []kwValue) (value, error) { return x, noArgs(args, kw) },
	}
	tests = map[string]test{
		"defined":   {0, func(x value, _ []value) (bool, error) { _, u := x.(undefinedValue); return !u, nil }},
		"undefined": {0, func(x value, _ []value) (bool, error) { _, u := x.(undefinedValue); return u, nil }},
		"none":      {0, func(x value, _ []value) (bool, error) { _, n := x.(noneType); return n, nil }},
		"string":    {0, func(x value, _ []value) (bool, error) { _, s := x.(string); return s, nil }},
		"number": {0, func(x value, _ []value) (bool, error) {
			_, _, ok := number(x)
			return ok, nil
		}},
		"integer": {0, func(x value, _ []value) (bool, error) { _, i := x.(int64); return i, nil }},
		"float":   {0, func(x value, _ []value) (bool, error) { _, f := x.(float64); return f, nil }},
		"boolean": {0, func(x value, _ []value) (bool, error) { _, b := x.(bool); return b, nil }},
		"true":    {0, func(x value, _ []value) (bool, error) { b, ok := x.(bool); return ok && b, nil }},
		"false":   {0, func(x value, _ []value) (bool, error) { b, ok := x.(bool); return ok && !b, nil }},
		"mapping": {0, func(x value, _ []value) (bool, error) { _, m := x.(*dictValue); return m, nil }},
		"iterable": {0, func(x value, _ []value) (bool, error) {
			switch x.(type) {
			case undefinedValue, string, []value, *dictValue:
				return true, nil
			}
			return false, nil
		}},
		"sequence": {0, func(x value, _ []value) (bool, error) {
			switch x.(type) {
			case undefinedValue, string, []value, *dictValue:
				return true, nil
			}
			return false, nil
		}},
		"callable": {0, func(x value, _ []value) (bool, error) {
			switch x.(type) {
			case *funcValue, *methodValue:
				return true, nil
			}
			return false, nil
		}},
		"odd":  {0, intTest(func(n int64) bool { return n%2 != 0 })},
		"even": {0, intTest(func(n int64) bool { return n%2 == 0 })},
		"divisibleby": {1, func(x value, args []value) (bool, error) {
			a, ok1 := asInt(x)
			b, ok2 := asInt(args[0])
			if !ok1 || !ok2 {
				return false, fmt.Errorf("want integers, got '%s' and '%s'", typeName(x), typeName(args[0]))
			}
			if b == 0 {
				return false, errors.New("division by zero")
			}
			return a%b == 0, nil
		}},
		"lower": {0, func(x value, _ []value) (bool, error) {
			s, ok := x.(string)
			return ok && strings.ToLower(s) == s, nil
		}},
		"upper": {0, func(x value, _ []value) (bool, error) {
			s, ok := x.(string)
			return ok && strings.ToUpper(s) == s, nil
		}},
		"sameas": {1, func(x value, args []value) (bool, error) {
			switch x.(type) {
			case noneType, bool, undefinedValue:
				return x == args[0], nil
			case *dictValue, *namespaceValue, *funcValue, *methodValue:
				return x == args[0], nil
			}
			return false, nil
		}},
		"in": {1, func(x value, args []value) (bool, error) { return contains(args[0], x) }},
	}
	for _, op := range [][]string{{"==", "equalto", "eq"}, {"!=", "ne"}, {"<", "lt", "lessthan"}, {">", "gt", "greaterthan"}, {"<=", "le"}, {">=", "ge"}} {
		op0 := op[0]
		t := test{1, func(x value, args []value) (bool, error) { return compareOp(op0, x, args[0]) }}
		for _, name := range op {
			tests[name] = t
		}
	}
	globals = map[string]value{
		"raise_exception": &funcValue{"raise_exception", func(_ *renderer, args []value, kw []kwValue) (value, error) {
			if err := noKw(kw); err != nil {
				return nil, err
			}
			msg := ""
			if len(args) > 0 {
				msg = toStr(args[0])
			}
			return nil, &RaisedError{Message: msg}
		}},
		"namespace": &funcValue{"namespace", func(_ *renderer, args []value, kw []kwValue) (value, error) {
			d, err := makeDict(args, kw)
			if err != nil {
				return nil, err
			}
			return &namespaceValue{d}, nil
		}},
		"dict": &funcValue{"dict", func(_ *renderer, args []value, kw []kwValue) (value, error) {
			return makeDict(args, kw)
		}},
		"range": &funcValue{"range", builtinRange},
	}
}

// makeDict builds a dict from an optional dict argument and keyword
// arguments, as dict() and namespace() do.
func makeDict(args []value, kw []kwValue) (*dictValue, error) {
	if err := nargs(args, 0, 1); err != nil {
		return nil, err
	}
	d := newDict()
	if len(args) == 1 {
		src, ok := args[0].(*dictValue)
		if !ok {
			return nil, fmt.Errorf("want a dict argument, not '%s'", typeName(args[0]))
		}
		for _, k := range src.keys {
			d.set(k, src.m[k])
		}
	}
	for _, k := range kw {
		d.set(k.name, k.v)
	}
	return d, nil
}

func builtinRange(_ *renderer, args []value, kw []kwValue) (value, error) {
	if err := noKw(kw); err != nil {
		return nil, err
	}
	if err := nargs(args, 1, 3); err != nil {
		return nil, err
	}
	var n [3]int64
	for i, a := range args {
		v, ok := asInt(a)
		if !ok {
			return nil, fmt.Errorf("'%s' object cannot be interpreted as an integer", typeName(a))
		}
		n[i] = v
	}
	start, stop, step := int64(0), n[0], int64(1)
	if len(args) >= 2 {
		start, stop = n[0], n[1]
	}
	if len(args) == 3 {
		step = n[2]
	}
	if step == 0 {
		return nil, errors.New("arg 3 must not be zero")
	}
	var out []value
	for i := start; step > 0 && i < stop || step < 0 && i > stop; i += step {
		if len(out) >= maxItems {
			return nil, fmt.Errorf("range longer than %d items", maxItems)
		}
		out = append(out, i)
		if step > 0 && i > math.MaxInt64-step || step < 0 && i < math.MinInt64-step {
			break
		}
	}
	if out == nil {
		out = []value{}
	}
	return out, nil
}

func noKw(kw []kwValue) error {
	if len(kw) > 0 {
		return fmt.Errorf("unexpected keyword argument '%s'", kw[0].name)
	}
	return nil
}

func noArgs(args []value, kw []kwValue) error {
	if err := noKw(kw); err != nil {
		return err
	}
	return nargs(args, 0, 0)
}

// bind maps positional and keyword arguments onto the named parameters;
// missing ones are nil.
func bind(args []value, kw []kwValue, names ...string) ([]value, error) {
	if len(args) > len(names) {
		return nil, fmt.Errorf("takes at most %d argument(s), got %d", len(names), len(args))
	}
	out := make([]value, len(names))
	copy(out, args)
	for _, k := range kw {
		found := false
		for i, n := range names {
			if n == k.name {
				if i < len(args) {
					return nil, fmt.Errorf("got multiple values for argument '%s'", k.name)
				}
				out[i] = k.v
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unexpected keyword argument '%s'", k.name)
		}
	}
	return out, nil
}

func intTest(f func(int64) bool) func(value, []value) (bool, error) {
	return func(x value, _ []value) (bool, error) {
		n, ok := asInt(x)
		if !ok {
			return false, fmt.Errorf("want an integer, got '%s'", typeName(x))
		}
		return f(n), nil
	}
}

func strFilter(f func(string) string) filterFunc {
	return func(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
		if err := noArgs(args, kw); err != nil {
			return nil, err
		}
		return f(toStr(x)), nil
	}
}

// jinjaTitle is Jinja's title filter: words start after runs of '-', '(',
// '{', '[', '<' or whitespace; their first character is upper case, the
// rest lower case.
func jinjaTitle(s string) string {
	isSep := func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune("-({[<", r) }
	var b strings.Builder
	start := true
	for _, r := range s {
		switch {
		case isSep(r):
			b.WriteRune(r)
			start = true
		case start:
			b.WriteRune(unicode.ToUpper(r))
			start = false
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func filterTrim(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	a, err := bind(args, kw, "chars")
	if err != nil {
		return nil, err
	}
	if a[0] == nil {
		a = nil
	}
	return stripChars(toStr(x), a, true, true)
}

func filterLength(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	if err := noArgs(args, kw); err != nil {
		return nil, err
	}
	n, err := length(x)
	return int64(n), err
}

func filterDefault(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	a, err := bind(args, kw, "default_value", "boolean")
	if err != nil {
		return nil, err
	}
	def := a[0]
	if def == nil {
		def = ""
	}
	if _, u := x.(undefinedValue); u || (a[1] != nil && truthy(a[1]) && !truthy(x)) {
		return def, nil
	}
	return x, nil
}

func filterToJSON(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	a, err := bind(args, kw, "indent", "ensure_ascii", "separators", "sort_keys")
	if err != nil {
		return nil, err
	}
	indent := -1
	if a[0] != nil && a[0] != value(noneValue) {
		n, ok := asInt(a[0])
		if !ok || n < 0 || n > 64 {
			return nil, fmt.Errorf("unsupported indent %s", repr(a[0]))
		}
		indent = int(n)
	}
	if a[1] != nil && truthy(a[1]) {
		return nil, errors.New("unsupported ensure_ascii=True")
	}
	if a[2] != nil && a[2] != value(noneValue) {
		return nil, errors.New("unsupported separators argument")
	}
	var b strings.Builder
	if err := toJSON(&b, x, indent, 0, a[3] != nil && truthy(a[3])); err != nil {
		return nil, err
	}
	return b.String(), nil
}

func filterString(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	if err := noArgs(args, kw); err != nil {
		return nil, err
	}
	return toStr(x), nil
}

func filterInt(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	a, err := bind(args, kw, "default", "base")
	if err != nil {
		return nil, err
	}
	def := a[0]
	if def == nil {
		def = int64(0)
	}
	switch v := x.(type) {
	case bool, int64:
		n, _ := asInt(v)
		return n, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1<<63 {
			return def, nil
		}
		return int64(v), nil
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && math.Abs(f) < 1<<63 {
			return int64(f), nil
		}
	}
	return def, nil
}

func filterFloat(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	a, err := bind(args, kw, "default")
	if err != nil {
		return nil, err
	}
	def := a[0]
	if def == nil {
		def = 0.0
	}
	if f, _, ok := number(x); ok {
		return f, nil
	}
	if s, ok := x.(string); ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f, nil
		}
	}
	return def, nil
}

func filterList(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	if err := noArgs(args, kw); err != nil {
		return nil, err
	}
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	return append([]value{}, items...), nil
}

func filterFirst(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	if err := noArgs(args, kw); err != nil {
		return nil, err
	}
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefinedValue{name: "first"}, nil
	}
	return items[0], nil
}

func filterLast(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	if err := noArgs(args, kw); err != nil {
		return nil, err
	}
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undefinedValue{name: "last"}, nil
	}
	return items[len(items)-1], nil
}

// attribute looks up a dotted attribute path ("a.b") as Jinja's
// attribute-taking filters do.
func attribute(x value, path string) (value, error) {
	for _, part := range strings.Split(path, ".") {
		var err error
		if n, e := strconv.Atoi(part); e == nil {
			x, err = getItem(x, int64(n))
		} else {
			x, err = getItem(x, part)
		}
		if err != nil {
			return nil, err
		}
	}
	return x, nil
}

func filterJoin(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	a, err := bind(args, kw, "d", "attribute")
	if err != nil {
		return nil, err
	}
	sep := ""
	if a[0] != nil {
		sep = toStr(a[0])
	}
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(items))
	size := 0
	for i, it := range items {
		if a[1] != nil {
			if it, err = attribute(it, toStr(a[1])); err != nil {
				return nil, err
			}
		}
		parts[i] = toStr(it)
		size += len(parts[i]) + len(sep)
		if size > maxOutput {
			return nil, fmt.Errorf("string longer than %d bytes", maxOutput)
		}
	}
	return strings.Join(parts, sep), nil
}

// selectFilter builds select, reject, selectattr and rejectattr.
func selectFilter(byAttr, keep bool) filterFunc {
	return func(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
		if err := noKw(kw); err != nil {
			return nil, err
		}
		attr := ""
		if byAttr {
			if len(args) == 0 {
				return nil, errors.New("missing attribute name")
			}
			s, ok := args[0].(string)
			if !ok {
				return nil, fmt.Errorf("attribute name must be a string, not '%s'", typeName(args[0]))
			}
			attr, args = s, args[1:]
		}
		var t test
		if len(args) > 0 {
			name, ok := args[0].(string)
			if !ok {
				return nil, fmt.Errorf("test name must be a string, not '%s'", typeName(args[0]))
			}
			if t, ok = tests[name]; !ok {
				return nil, fmt.Errorf("unsupported test '%s'", name)
			}
			args = args[1:]
			if len(args) != t.nargs {
				return nil, fmt.Errorf("test '%s' takes %d argument(s), got %d", name, t.nargs, len(args))
			}
		}
		items, err := iterate(x)
		if err != nil {
			return nil, err
		}
		out := []value{}
		for _, it := range items {
			v := it
			if byAttr {
				if v, err = attribute(it, attr); err != nil {
					return nil, err
				}
			}
			ok := truthy(v)
			if t.fn != nil {
				if ok, err = t.fn(v, args); err != nil {
					return nil, err
				}
			}
			if ok == keep {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

func filterMap(r *renderer, x value, args []value, kw []kwValue) (value, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	out := make([]value, 0, len(items))
	if len(args) == 0 {
		a, err := bind(nil, kw, "attribute", "default")
		if err != nil {
			return nil, err
		}
		if a[0] == nil {
			return nil, errors.New("want a filter name or attribute=")
		}
		for _, it := range items {
			v, err := attribute(it, toStr(a[0]))
			if err != nil {
				return nil, err
			}
			if _, u := v.(undefinedValue); u && a[1] != nil {
				v = a[1]
			}
			out = append(out, v)
		}
		return out, nil
	}
	name, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("filter name must be a string, not '%s'", typeName(args[0]))
	}
	f, ok := filters[name]
	if !ok {
		return nil, fmt.Errorf("unsupported filter '%s'", name)
	}
	for _, it := range items {
		v, err := f(r, it, args[1:], kw)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func filterItems(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	if err := noArgs(args, kw); err != nil {
		return nil, err
	}
	switch d := x.(type) {
	case undefinedValue:
		return []value{}, nil
	case *dictValue:
		return callMethod(d, "items", nil)
	}
	return nil, fmt.Errorf("can only get item pairs from a mapping, not '%s'", typeName(x))
}

func filterReplace(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	a, err := bind(args, kw, "old", "new", "count")
	if err != nil {
		return nil, err
	}
	if a[0] == nil || a[1] == nil {
		return nil, errors.New("want old and new strings")
	}
	margs := []value{toStr(a[0]), toStr(a[1])}
	if a[2] != nil && a[2] != value(noneValue) {
		margs = append(margs, a[2])
	}
	return callStrMethod(toStr(x), "replace", margs)
}

func filterReverse(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	if err := noArgs(args, kw); err != nil {
		return nil, err
	}
	if s, ok := x.(string); ok {
		rs := []rune(s)
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), nil
	}
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	out := make([]value, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	return out, nil
}

func filterAbs(_ *renderer, x value, args []value, kw []kwValue) (value, error) {
	if err := noArgs(args, kw); err != nil {
		return nil, err
	}
	switch v := x.(type) {
	case bool, int64:
		n, _ := asInt(v)
		if n == math.MinInt64 {
			return nil, errors.New("integer overflow")
		}
		if n < 0 {
			n = -n
		}
		return n, nil
	case float64:
		return math.Abs(v), nil
	}
	return nil, fmt.Errorf("bad operand type for abs(): '%s'", typeName(x))
}
