package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// splitList splits a comma-separated list: spaces around items and one
// pair of surrounding brackets ("[1, 2, 3]") are allowed, and an empty
// value is the empty list.
func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if s == "" {
		return nil
	}
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	return items
}

// intList is a comma-separated list of integers, each at least min.
type intList struct {
	p   *[]int
	min int
}

func (l intList) Placeholder() string { return "N,N,..." }

func (l intList) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, v := range *l.p {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l intList) Set(s string) error {
	out := []int{}
	for i, item := range splitList(s) {
		v, err := strconv.Atoi(item)
		switch {
		case err != nil:
			return fmt.Errorf("item %d %q is not an integer", i+1, item)
		case v < l.min && l.min == 0:
			return fmt.Errorf("item %d %q is negative", i+1, item)
		case v < l.min && l.min == 1:
			return fmt.Errorf("item %d %q is not positive", i+1, item)
		case v < l.min:
			return fmt.Errorf("item %d %q is less than %d", i+1, item, l.min)
		}
		out = append(out, v)
	}
	*l.p = out
	return nil
}

// IntsVar defines a flag for a comma-separated list of integers, each at
// least min ("--layers 0,1,2"); *p holds the default, and a given value
// replaces it.
func (f *FlagSet) IntsVar(p *[]int, name string, min int, usage string) {
	f.Var(intList{p, min}, name, usage)
}

// positiveFloats is a comma-separated list of numbers above zero.
type positiveFloats struct{ p *[]float64 }

func (l positiveFloats) Placeholder() string { return "X,X,..." }

func (l positiveFloats) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, v := range *l.p {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func (l positiveFloats) Set(s string) error {
	out := []float64{}
	for i, item := range splitList(s) {
		v, err := strconv.ParseFloat(item, 64)
		switch {
		case err != nil:
			return fmt.Errorf("item %d %q is not a number", i+1, item)
		case !(v > 0):
			return fmt.Errorf("item %d %q is not positive", i+1, item)
		}
		out = append(out, v)
	}
	*l.p = out
	return nil
}

// PositiveFloatsVar defines a flag for a comma-separated list of numbers
// above zero ("--alphas 16,32"); *p holds the default.
func (f *FlagSet) PositiveFloatsVar(p *[]float64, name, usage string) {
	f.Var(positiveFloats{p}, name, usage)
}

// optBool is a boolean flag that stays nil unless given.
type optBool struct{ p **bool }

func (b optBool) IsBoolFlag() bool { return true }

func (b optBool) String() string {
	if b.p == nil || *b.p == nil {
		return ""
	}
	return strconv.FormatBool(**b.p)
}

func (b optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = &v
	return nil
}

// OptBoolVar defines a boolean flag that leaves *p nil unless it is given,
// for settings whose default depends on other settings.
func (f *FlagSet) OptBoolVar(p **bool, name, usage string) { f.Var(optBool{p}, name, usage) }

// optFloat is a number flag that stays nil unless given.
type optFloat struct{ p **float64 }

func (o optFloat) Placeholder() string { return "X" }

func (o optFloat) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return strconv.FormatFloat(**o.p, 'g', -1, 64)
}

func (o optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*o.p = &v
	return nil
}

// OptFloat64Var defines a number flag that leaves *p as it is (nil for
// "not set") unless the flag is given, for settings whose default comes
// from elsewhere (a --dropout that overrides an adapter's own).
func (f *FlagSet) OptFloat64Var(p **float64, name, usage string) { f.Var(optFloat{p}, name, usage) }
