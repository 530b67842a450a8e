package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// adapterFlags collects repeated --adapter DIR[:SCALE] flags.
type adapterFlags []string

func (a *adapterFlags) String() string     { return strings.Join(*a, ",") }
func (a *adapterFlags) Set(s string) error { *a = append(*a, s); return nil }

// splitAdapterSpec parses DIR[:SCALE]; a suffix that is not a number is
// part of the directory name.
func splitAdapterSpec(spec string) (dir string, scale float32, err error) {
	if i := strings.LastIndex(spec, ":"); i > 0 {
		if f, perr := strconv.ParseFloat(spec[i+1:], 32); perr == nil {
			return spec[:i], float32(f), nil
		}
	}
	if spec == "" {
		return "", 0, fmt.Errorf("--adapter: empty directory")
	}
	return spec, 1, nil
}

// loadWithAdapters loads the model in dir and attaches the --adapter specs.
func loadWithAdapters(dir string, specs []string) (*model.Model, error) {
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	if _, err := attachAdapters(m, specs); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// attachAdapters loads each --adapter onto m, scaling its LoRA terms by the
// given SCALE (default 1). Several adapters add their terms on one base.
func attachAdapters(m *model.Model, specs []string) ([]*lora.Adapter, error) {
	var out []*lora.Adapter
	for i, spec := range specs {
		dir, scale, err := splitAdapterSpec(spec)
		if err != nil {
			return nil, err
		}
		a, err := lora.Load(dir, m, fmt.Sprintf("adapter%d", i))
		if err != nil {
			return nil, err
		}
		for _, l := range a.Modules {
			l.Scale *= scale
		}
		out = append(out, a)
	}
	return out, nil
}
