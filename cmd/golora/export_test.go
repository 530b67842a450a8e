package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
)

// TestExportGGUF runs export gguf on the adapter and base of the export
// package's converter fixtures: the file equals what the library writes
// (checked there against llama.cpp's convert_lora_to_gguf.py), and a bad
// --outtype is a usage error.
func TestExportGGUF(t *testing.T) {
	const td = "../../export/testdata"
	out := filepath.Join(t.TempDir(), "a.gguf")
	stdout, stderr, code := golora(t, "export", "gguf", "--model", td+"/llama", "--adapter", td+"/adapter", "--out", out, "--outtype", "q8_0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "Q8_0") {
		t.Errorf("stdout %q does not name the type", stdout)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if typ, _ := f.String("general.type"); typ != "adapter" || len(f.Tensors()) != 28 {
		t.Errorf("general.type %q, %d tensors; want adapter, 28", typ, len(f.Tensors()))
	}
	_, stderr, code = golora(t, "export", "gguf", "--model", td+"/llama", "--adapter", td+"/adapter", "--out", out, "--outtype", "q4_k")
	if code != 2 || !strings.Contains(stderr, "bf16, f16, f32, q8_0") {
		t.Errorf("--outtype q4_k: exit %d, %q", code, stderr)
	}
}
