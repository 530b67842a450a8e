package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestGemmaInspectAndMem: inspect counts a Gemma 3 layer's four (1 + w)
// norms and its head norms as norms; mem --model reads the published
// google/gemma-2-2b config.json and gives the Hub's parameter count.
func TestGemmaInspectAndMem(t *testing.T) {
	out, errs, code := golora(t, "inspect", "--model", filepath.Join(ref, "gemma3_f32"), "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Architecture != "Gemma3ForCausalLM" || !r.Tied || r.ByKind["norm"] != 3*(4*32+2*16)+32 ||
		r.ByKind["attention"] != 3*(64*32+2*32*32+32*64) || r.ByKind["lm_head"] != 0 || r.ByKind["other"] != 0 {
		t.Errorf("gemma3 report %+v", r)
	}
	text, errs, code := golora(t, "mem", "--model", filepath.Join("..", "..", "testdata", "configs", "gemma-2-2b"))
	if code != 0 || !strings.Contains(text, "2,614,341,888") {
		t.Errorf("mem on gemma-2-2b: exit %d, %s\n%s", code, errs, text)
	}
}
