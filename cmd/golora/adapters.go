package main

import (
	"fmt"
	"strings"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// adapterFlags collects repeated --adapter DIR[:SCALE] flags.
type adapterFlags []string

func (a *adapterFlags) String() string     { return strings.Join(*a, ",") }
func (a *adapterFlags) Set(s string) error { *a = append(*a, s); return nil }

// loadWithAdapters loads the model in dir and attaches the --adapter specs
// (lora.ParseSpec, lora.AttachAll).
func loadWithAdapters(dir string, args []string) (*model.Model, error) {
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	specs := make([]lora.Spec, len(args))
	for i, a := range args {
		if specs[i], err = lora.ParseSpec(a); err != nil {
			m.Close()
			return nil, fmt.Errorf("--adapter: %w", err)
		}
	}
	if _, err := lora.AttachAll(m, specs); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}
