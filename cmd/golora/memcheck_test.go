package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/mem"
)

// TestMemoryCheckRefuses: with less memory available than predicted,
// train, generate and merge refuse naming both numbers and --force, which
// runs them anyway.
func TestMemoryCheckRefuses(t *testing.T) {
	dir, data, _ := childSetup(t)
	meminfo := filepath.Join(dir, "meminfo")
	os.WriteFile(meminfo, []byte("MemAvailable: 8 kB\n"), 0o644)
	t.Setenv(mem.MeminfoEnv, meminfo)
	tiny := tinyModelWithTokenizer(t)
	lt := filepath.Join(ref, "lora_train")
	for _, args := range [][]string{
		trainArgs(data, filepath.Join(dir, "out"), 2),
		{"generate", "--model", tiny, "--prompt", "the quick", "--max-tokens", "4", "--temperature", "0"},
		{"merge", "--model", lt, "--adapter", filepath.Join(lt, "adapter_init"), "--out", filepath.Join(dir, "merged")},
	} {
		_, errs, code := golora(t, args...)
		if code != 1 || !strings.Contains(errs, "exceeds the 8 KiB available (MemAvailable in "+meminfo+")") || !strings.Contains(errs, "--force tries anyway") {
			t.Errorf("%s: exit %d: %s", args[0], code, errs)
		}
		if _, errs, code := golora(t, append(args, "--force")...); code != 0 {
			t.Errorf("%s --force: exit %d: %s", args[0], code, errs)
		}
	}
}
