package lora

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/golora/golora/model"
)

// Spec names an adapter directory and the factor its LoRA terms are scaled
// by: each module computes Scale·s·(x·Aᵀ)·Bᵀ, s its own alpha/r.
type Spec struct {
	Dir   string
	Scale float32
}

// ParseSpec parses DIR[:SCALE] (SCALE defaults to 1). What follows the
// last colon (with something before it) is the scale when it is a finite
// number: "a:b:0.25" is directory "a:b" at 0.25. Otherwise the whole spec
// is the directory if that path exists ("run:best"); if it does not, the
// spec is an error naming the suffix, so that a mistyped scale
// ("out:0.5x", "out:1e99") never becomes part of a directory name. A
// directory whose name ends in a colon and a number is given with an
// explicit scale ("x:2:1").
func ParseSpec(s string) (Spec, error) {
	if s == "" {
		return Spec{}, errors.New("empty directory")
	}
	i := strings.LastIndex(s, ":")
	if i <= 0 {
		return Spec{Dir: s, Scale: 1}, nil
	}
	suffix := s[i+1:]
	f, err := strconv.ParseFloat(suffix, 32)
	switch {
	case err == nil && !math.IsInf(f, 0) && !math.IsNaN(f):
		return Spec{Dir: s[:i], Scale: float32(f)}, nil
	case err == nil || errors.Is(err, strconv.ErrRange):
		return Spec{}, fmt.Errorf("%q: scale %q is not a finite float32", s, suffix)
	}
	if _, err := os.Stat(s); err == nil {
		return Spec{Dir: s, Scale: 1}, nil
	}
	return Spec{}, fmt.Errorf("%q: %q after the last colon is not a number (the scale), and there is no directory %q", s, suffix, s)
}

// AttachAll loads each adapter of specs onto m, named adapter0, adapter1, …
// in order, and multiplies the scale of each of its modules by the spec's
// Scale. Several adapters add their terms on one base. On an error no
// adapter of specs stays attached.
func AttachAll(m *model.Model, specs []Spec) ([]*Adapter, error) {
	var out []*Adapter
	for i, sp := range specs {
		a, err := Load(sp.Dir, m, fmt.Sprintf("adapter%d", i))
		if err != nil {
			for _, prev := range out {
				prev.Detach(m)
			}
			return nil, err
		}
		for _, l := range a.Modules {
			l.Scale *= sp.Scale
		}
		out = append(out, a)
	}
	return out, nil
}
