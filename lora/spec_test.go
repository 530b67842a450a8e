package lora

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/model"
)

func TestParseSpec(t *testing.T) {
	tmp := t.TempDir()
	named := filepath.Join(tmp, "run:best") // a directory with a colon in its name
	if err := os.Mkdir(named, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in    string
		dir   string
		scale float32
	}{
		{"out/adapter", "out/adapter", 1},
		{"out/adapter:0.5", "out/adapter", 0.5},
		{"out/adapter:-2", "out/adapter", -2},
		{"out/adapter:1e-3", "out/adapter", 1e-3},
		{named, named, 1}, // not a number, and the directory exists
		{named + ":0.5", named, 0.5},
		{"a:b:0.25", "a:b", 0.25},
		{":0.5", ":0.5", 1}, // nothing before the colon: a name
	} {
		got, err := ParseSpec(tc.in)
		if err != nil || got.Dir != tc.dir || got.Scale != tc.scale {
			t.Errorf("ParseSpec(%q) = %+v, %v; want {%s %g}", tc.in, got, err, tc.dir, tc.scale)
		}
	}
	for in, want := range map[string]string{
		"":                        "empty directory",
		"out/adapter:0.5x":        `"0.5x" after the last colon is not a number (the scale), and there is no directory "out/adapter:0.5x"`,
		"out/adapter:":            `"" after the last colon is not a number`,
		"out/adapter:half":        `"half" after the last colon is not a number`,
		filepath.Join(tmp, "r:b"): `there is no directory`,
		"out/adapter:1e99":        `scale "1e99" is not a finite float32`,
		"out/adapter:inf":         `scale "inf" is not a finite float32`,
		"out/adapter:NaN":         `scale "NaN" is not a finite float32`,
	} {
		if _, err := ParseSpec(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q): error %v, want %q", in, err, want)
		}
	}
}

func TestAttachAllScalesAndCleansUp(t *testing.T) {
	m, err := model.Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := filepath.Join(ref, "adapter_init")
	as, err := AttachAll(m, []Spec{{Dir: dir, Scale: 1}, {Dir: dir, Scale: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Name != "adapter0" || as[1].Name != "adapter1" {
		t.Fatalf("adapters %v", as)
	}
	for name, l := range as[1].Modules {
		if want := as[0].Modules[name].Scale * 0.5; l.Scale != want {
			t.Errorf("%s: scale %g, want %g", name, l.Scale, want)
		}
	}
	for _, a := range as {
		a.Detach(m)
	}
	// The second adapter fails: the first must not stay attached.
	if _, err := AttachAll(m, []Spec{{Dir: dir, Scale: 1}, {Dir: filepath.Join(t.TempDir(), "missing"), Scale: 1}}); err == nil {
		t.Fatal("a missing adapter directory must be refused")
	}
	for _, lin := range m.Linears() {
		if len(lin.LoRA) != 0 {
			t.Errorf("%s keeps %d LoRA modules after a failed AttachAll", lin.Name, len(lin.LoRA))
		}
	}
}
