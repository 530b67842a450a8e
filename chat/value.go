package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Values follow Python's data model as Jinja sees it:
//
//	undefinedValue  a missing variable, attribute or item
//	noneType        None
//	bool, int64, float64, string
//	[]value         list (and tuple)
//	*dictValue      dict with string keys, in insertion order
//	*namespaceValue namespace(), whose attributes {% set %} may change
//	*funcValue      a global function (raise_exception, range, ...)
//	*methodValue    a method bound to its receiver ('x'.strip, d.items, ...)
type value = any

type undefinedValue struct{ name string } // name: what was looked up, for errors

type noneType struct{}

var noneValue = noneType{}

type dictValue struct {
	keys []string
	m    map[string]value
}

func newDict() *dictValue { return &dictValue{m: map[string]value{}} }

func (d *dictValue) set(k string, v value) {
	if _, ok := d.m[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.m[k] = v
}

type namespaceValue struct{ d *dictValue }

type kwValue struct {
	name string
	v    value
}

type funcValue struct {
	name string
	call func(r *renderer, args []value, kw []kwValue) (value, error)
}

type methodValue struct {
	recv value
	name string
}

// typeName is Python's name for the type of v, for error messages.
func typeName(v value) string {
	switch v.(type) {
	case undefinedValue:
		return "Undefined"
	case noneType:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []value:
		return "list"
	case *dictValue:
		return "dict"
	case *namespaceValue:
		return "Namespace"
	case *funcValue, *methodValue:
		return "function"
	}
	return fmt.Sprintf("%T", v)
}

// truthy is Python's bool(v).
func truthy(v value) bool {
	switch x := v.(type) {
	case undefinedValue, noneType:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []value:
		return len(x) > 0
	case *dictValue:
		return len(x.keys) > 0
	}
	return true
}

// toStr is Python's str(v), except that undefined is "" (Jinja's default
// Undefined).
func toStr(v value) string {
	switch x := v.(type) {
	case undefinedValue:
		return ""
	case string:
		return x
	}
	return repr(v)
}

// repr is Python's repr(v). Containers stop growing past maxOutput bytes
// (the caller's size check then fails), so shared nested lists cannot blow
// up.
func repr(v value) string {
	var b strings.Builder
	reprTo(&b, v, 0)
	return b.String()
}

// maxNesting bounds the nesting of containers that repr, tojson and ==
// walk.
const maxNesting = 500

func reprTo(b *strings.Builder, v value, depth int) {
	if depth > maxNesting {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case []value:
		b.WriteByte('[')
		for i, it := range x {
			if b.Len() > maxOutput {
				return
			}
			if i > 0 {
				b.WriteString(", ")
			}
			reprTo(b, it, depth+1)
		}
		b.WriteByte(']')
	case *dictValue:
		b.WriteByte('{')
		for i, k := range x.keys {
			if b.Len() > maxOutput {
				return
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyStrRepr(k))
			b.WriteString(": ")
			reprTo(b, x.m[k], depth+1)
		}
		b.WriteByte('}')
	default:
		b.WriteString(reprScalar(v))
	}
}

func reprScalar(v value) string {
	switch x := v.(type) {
	case undefinedValue:
		return "Undefined"
	case noneType:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return pyFloat(x)
	case string:
		return pyStrRepr(x)
	case *namespaceValue:
		parts := make([]string, len(x.d.keys))
		for i, k := range x.d.keys {
			parts[i] = k + "=" + repr(x.d.m[k])
		}
		return "<Namespace(" + strings.Join(parts, ", ") + ")>"
	case *funcValue:
		return "<function " + x.name + ">"
	case *methodValue:
		return "<built-in method " + x.name + " of " + typeName(x.recv) + " object>"
	}
	return fmt.Sprint(v)
}

// pyFloat is Python's repr of a float: the shortest digits that round-trip,
// in fixed notation for exponents in [-4, 16), else in scientific notation.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // [-]d[.ddd]e±XX
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	e := strings.IndexByte(s, 'e')
	digits := strings.Replace(s[:e], ".", "", 1)
	exp, _ := strconv.Atoi(s[e+1:])
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	for len(digits) < exp+1 {
		digits += "0"
	}
	frac := digits[exp+1:]
	if frac == "" {
		frac = "0"
	}
	return sign + digits[:exp+1] + "." + frac
}

// pyStrRepr is Python's repr of a str.
func pyStrRepr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// number returns v as a float64 and whether it is an int (bools count as
// ints, as in Python); ok is false for non-numbers.
func number(v value) (f float64, isInt bool, ok bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true, true
		}
		return 0, true, true
	case int64:
		return float64(x), true, true
	case float64:
		return x, false, true
	}
	return 0, false, false
}

// asInt returns v as an int64 if it is an int or a bool.
func asInt(v value) (int64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return x, true
	}
	return 0, false
}

// equal is Python's ==. Comparing shared nested containers is bounded:
// past maxSteps visited items they count as unequal.
func equal(a, b value) bool {
	n := 0
	return eq(a, b, &n, 0)
}

func eq(a, b value, n *int, depth int) bool {
	*n++
	if *n > maxSteps || depth > maxNesting {
		return false
	}
	if fa, ia, ok := number(a); ok {
		fb, ib, ok := number(b)
		if !ok {
			return false
		}
		if ia && ib {
			x, _ := asInt(a)
			y, _ := asInt(b)
			return x == y
		}
		return fa == fb
	}
	switch x := a.(type) {
	case undefinedValue:
		_, ok := b.(undefinedValue)
		return ok
	case noneType:
		_, ok := b.(noneType)
		return ok
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []value:
		y, ok := b.([]value)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !eq(x[i], y[i], n, depth+1) {
				return false
			}
		}
		return true
	case *dictValue:
		y, ok := b.(*dictValue)
		if !ok || len(x.keys) != len(y.keys) {
			return false
		}
		for _, k := range x.keys {
			w, ok := y.m[k]
			if !ok || !eq(x.m[k], w, n, depth+1) {
				return false
			}
		}
		return true
	}
	return a == b
}

// compare orders a and b for <, >, <= and >= (numbers, strings, lists).
func compare(a, b value, op string) (int, error) { return compareAt(a, b, op, 0) }

func compareAt(a, b value, op string, depth int) (int, error) {
	if depth > maxNesting {
		return 0, fmt.Errorf("values nested more than %d levels deep", maxNesting)
	}
	if fa, ia, ok := number(a); ok {
		if fb, ib, ok := number(b); ok {
			if ia && ib {
				x, _ := asInt(a)
				y, _ := asInt(b)
				return cmp3(x < y, x > y), nil
			}
			return cmp3(fa < fb, fa > fb), nil
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []value:
		if y, ok := b.([]value); ok {
			for i := 0; i < len(x) && i < len(y); i++ {
				if !equal(x[i], y[i]) {
					return compareAt(x[i], y[i], op, depth+1)
				}
			}
			return cmp3(len(x) < len(y), len(x) > len(y)), nil
		}
	}
	return 0, fmt.Errorf("'%s' not supported between instances of '%s' and '%s'", op, typeName(a), typeName(b))
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// iterate returns the items a for-loop visits: list items, dict keys, the
// characters of a string; nothing for undefined.
func iterate(v value) ([]value, error) {
	switch x := v.(type) {
	case undefinedValue:
		return nil, nil
	case []value:
		return x, nil
	case *dictValue:
		out := make([]value, len(x.keys))
		for i, k := range x.keys {
			out[i] = k
		}
		return out, nil
	case string:
		if len(x) > maxItems {
			return nil, fmt.Errorf("string of %d bytes too long to iterate", len(x))
		}
		out := make([]value, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	}
	return nil, fmt.Errorf("'%s' object is not iterable", typeName(v))
}

// length is Python's len(v); Jinja's undefined has length 0.
func length(v value) (int, error) {
	switch x := v.(type) {
	case undefinedValue:
		return 0, nil
	case string:
		return utf8.RuneCountInString(x), nil
	case []value:
		return len(x), nil
	case *dictValue:
		return len(x.keys), nil
	case *namespaceValue:
		return len(x.d.keys), nil
	}
	return 0, fmt.Errorf("object of type '%s' has no len()", typeName(v))
}

// toJSON encodes v as transformers' tojson filter does (Python's
// json.dumps with ensure_ascii=False): ", " and ": " separators, or with
// indent >= 0 newlines and indent spaces per level and "," separators.
func toJSON(b *strings.Builder, v value, indent, level int, sortKeys bool) error {
	if level > maxNesting {
		return fmt.Errorf("value nested more than %d levels deep", maxNesting)
	}
	nl := func(l int) {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(" ", indent*l))
	}
	sep := ", "
	if indent >= 0 {
		sep = ","
	}
	switch x := v.(type) {
	case noneType:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		switch {
		case math.IsNaN(x):
			b.WriteString("NaN")
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloat(x))
		}
	case string:
		jsonString(b, x)
	case []value:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, it := range x {
			if b.Len() > maxOutput {
				return fmt.Errorf("JSON longer than %d bytes", maxOutput)
			}
			if i > 0 {
				b.WriteString(sep)
			}
			if indent >= 0 {
				nl(level + 1)
			}
			if err := toJSON(b, it, indent, level+1, sortKeys); err != nil {
				return err
			}
		}
		if indent >= 0 {
			nl(level)
		}
		b.WriteByte(']')
	case *dictValue:
		if len(x.keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := x.keys
		if sortKeys {
			keys = append([]string(nil), keys...)
			sort.Strings(keys)
		}
		b.WriteByte('{')
		for i, k := range keys {
			if b.Len() > maxOutput {
				return fmt.Errorf("JSON longer than %d bytes", maxOutput)
			}
			if i > 0 {
				b.WriteString(sep)
			}
			if indent >= 0 {
				nl(level + 1)
			}
			jsonString(b, k)
			b.WriteString(": ")
			if err := toJSON(b, x.m[k], indent, level+1, sortKeys); err != nil {
				return err
			}
		}
		if indent >= 0 {
			nl(level)
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("object of type '%s' is not JSON serializable", typeName(v))
	}
	return nil
}

func jsonString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// jsonList decodes each of raws with fromJSON; an error names the index
// ("[2]: ...").
func jsonList(raws []json.RawMessage) ([]value, error) {
	out := make([]value, len(raws))
	for i, raw := range raws {
		v, err := fromJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// fromJSON decodes one JSON value as Python's json.loads does: objects
// become dicts in their key order (a repeated key keeps its first place
// and its last value), integers int, other numbers float, null None.
// Integers beyond int64 and nesting deeper than maxNesting are errors.
func fromJSON(raw []byte) (value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeJSON(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return v, nil
}

func decodeJSON(dec *json.Decoder, depth int) (value, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("nested more than %d levels deep", maxNesting)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case nil:
		return noneValue, nil
	case bool, string:
		return x, nil
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			n, err := strconv.ParseInt(string(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("integer %s out of range", x)
			}
			return n, nil
		}
		return strconv.ParseFloat(string(x), 64)
	case json.Delim:
		if x == '[' {
			list := []value{}
			for dec.More() {
				it, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, it)
			}
			_, err := dec.Token()
			return list, err
		}
		d := newDict()
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			it, err := decodeJSON(dec, depth+1)
			if err != nil {
				return nil, err
			}
			d.set(k.(string), it)
		}
		_, err := dec.Token()
		return d, err
	}
	return nil, fmt.Errorf("unexpected %v", tok)
}
