package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Counts printed by commands agree with their number.
func TestCountsSpeakEnglish(t *testing.T) {
	one := filepath.Join(t.TempDir(), "one.jsonl")
	os.WriteFile(one, []byte(`{"input_ids": [1, 2]}`+"\n"), 0o644)
	stdout, errs, code := golora(t, "eval", "--model", filepath.Join(ref, "lora_train"), "--data", one)
	if code != 0 || !strings.Contains(stdout, " over 1 target token in 1 example of ") {
		t.Errorf("eval of one example: exit %d, %q %s", code, stdout, errs)
	}
	stdout, _, _ = golora(t, "inspect", "--model", filepath.Join(ref, "lora_train"))
	if !strings.Contains(stdout, "2 layers, ") || !strings.Contains(stdout, "4 heads / 2 KV heads of ") {
		t.Errorf("inspect:\n%s", stdout)
	}
}
