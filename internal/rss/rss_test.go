package rss

import (
	"os/exec"
	"runtime"
	"testing"
)

func TestPeakAndChild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM and ru_maxrss in KiB are Linux's")
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = 1 // touch it so it is resident
	}
	if p := Peak(); p < 64<<20 {
		t.Errorf("peak RSS %d after touching 64 MiB", p)
	}
	if c := Current(); c < 64<<20 || c > Peak() {
		t.Errorf("RSS %d with 64 MiB touched and in use, peak %d", c, Peak())
	}
	cmd := exec.Command("sh", "-c", "true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	if c := Child(cmd.ProcessState); c <= 0 || c > 1<<30 {
		t.Errorf("child peak RSS %d", c)
	}
	if Child(nil) != 0 {
		t.Error("Child(nil) != 0")
	}
	_ = buf[len(buf)-1]
}
