package lora

import (
	"errors"
	"fmt"
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

// ParseSpec parses DIR[:SCALE] (SCALE defaults to 1). A suffix after the
// last colon that is not a number is part of the directory name.
func ParseSpec(s string) (Spec, error) {
	if i := strings.LastIndex(s, ":"); i > 0 {
		if f, err := strconv.ParseFloat(s[i+1:], 32); err == nil {
			return Spec{Dir: s[:i], Scale: float32(f)}, nil
		}
	}
	if s == "" {
		return Spec{}, errors.New("empty directory")
	}
	return Spec{Dir: s, Scale: 1}, nil
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
