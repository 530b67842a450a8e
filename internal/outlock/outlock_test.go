package outlock

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets a test run this binary as a process that takes the lock
// and waits to be killed (OUTLOCK_HOLD=DIR).
func TestMain(m *testing.M) {
	if dir := os.Getenv("OUTLOCK_HOLD"); dir != "" {
		if _, err := Acquire(dir); err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	os.Exit(m.Run())
}

func TestSecondWriterRefusedUntilKilled(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OUTLOCK_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if string(buf[:n]) != "locked\n" {
		cmd.Process.Kill()
		t.Fatalf("holder: %q", buf[:n])
	}
	_, err = Acquire(dir)
	pid := strconv.Itoa(cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), "process "+pid+" ("+os.Args[0]) || !strings.Contains(err.Error(), dir) {
		t.Errorf("second writer: %v; want it refused naming process %s", err, pid)
	}
	// kill -9: the kernel drops the lock with the process.
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	// Held by this process, a second Acquire (another open file) is refused too.
	if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second Acquire while held: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l, err = Acquire(dir)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l.Release()
}
