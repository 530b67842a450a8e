package serve

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// A DoRA adapter is refused by name when loaded into a server (batched
// decoding computes plain LoRA), and leaves nothing attached.
func TestServeRefusesDoRA(t *testing.T) {
	f := newFixture(t)
	m, err := model.Load(f.model)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.adapters, "dora")
	a, err := lora.New(m, "dora", &lora.Config{R: 2, Alpha: 4, DoRA: true, Targets: []string{"q_proj"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	m.Close()
	s, _ := f.start(t, func(c *Config) { c.Adapters = c.Adapters[:1] })
	err = s.sched.do(func() error { return s.attach("dora", dir, 1) })
	if err == nil || !strings.Contains(err.Error(), `"dora"`) || !strings.Contains(err.Error(), "DoRA adapters cannot be served") {
		t.Fatalf("error %v, want a refusal of the DoRA adapter", err)
	}
	for _, lin := range s.m.Linears() {
		for _, l := range lin.LoRA {
			if l.Adapter == "dora" {
				t.Fatalf("%s keeps the refused adapter", lin.Name)
			}
		}
	}
}
