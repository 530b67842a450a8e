package mem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAvailableAndCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meminfo")
	t.Setenv(MeminfoEnv, path)
	os.WriteFile(path, []byte("MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\nBuffers: 1 kB\n"), 0o644)
	if n, p, ok, err := Available(); n != 2048*1024 || p != path || !ok || err != nil {
		t.Errorf("Available() = %d, %q, %v, %v", n, p, ok, err)
	}
	if err := Check(2048*1024, "advice"); err != nil {
		t.Errorf("exactly what is available: %v", err)
	}
	err := Check(3<<20, "try less")
	if err == nil || err.Error() != "the predicted peak memory, 3 MiB, exceeds the 2 MiB available (MemAvailable in "+path+"): try less; --force tries anyway" {
		t.Errorf("Check: %v", err)
	}
	for _, bad := range []string{"MemTotal: 1 kB\n", "MemAvailable: 12 MB\n", "MemAvailable: -3 kB\n", "MemAvailable:\n"} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, _, _, err := Available(); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	t.Setenv(MeminfoEnv, filepath.Join(t.TempDir(), "missing"))
	if _, _, _, err := Available(); err == nil {
		t.Error("a missing $GOLORA_MEMINFO file must be an error")
	}
}
