package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/golora/golora/runlog"
)

// fsizeEnv sets RLIMIT_FSIZE (bytes) in a child: a write past it fails
// with EFBIG, as on a full disk.
const fsizeEnv = "GOLORA_TEST_FSIZE"

func init() {
	childLimits = func() error {
		v := os.Getenv(fsizeEnv)
		if v == "" {
			return nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return err
		}
		signal.Ignore(syscall.SIGXFSZ) // write returns EFBIG instead of the signal ending the process
		return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n})
	}
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files[p], _ = os.ReadFile(p)
		}
		return err
	})
	return files
}

// noTemporaries fails if anything under dir is a temporary of an
// interrupted write.
func noTemporaries(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".tmp") || strings.HasSuffix(d.Name(), ".old")) {
			t.Errorf("left behind: %s", p)
		}
		return err
	})
}

// TestFullDisk runs golora with writes limited to 3000 bytes a file
// (RLIMIT_FSIZE): saving a checkpoint, the adapter, the report, a merged
// and a quantized model fails with an error naming the file, leaves no
// temporaries, and keeps the checkpoints already written.
func TestFullDisk(t *testing.T) {
	dir, data, _ := childSetup(t)
	const limit = "3000" // above run.json and the first metrics lines, below an adapter
	limited := func(args ...string) (stderr string, code int) {
		c := startChildEnv(t, []string{fsizeEnv + "=" + limit}, args...)
		code = c.wait(t)
		return c.stderr.String(), code
	}

	out := filepath.Join(dir, "out")
	if _, errs, code := golora(t, trainArgs(data, out, 6, "--save-every", "2")...); code != 0 {
		t.Fatal(errs)
	}
	ckpts := snapshot(t, runlog.CheckpointDir(out, 2))
	for p, b := range snapshot(t, runlog.CheckpointDir(out, 4)) {
		ckpts[p] = b
	}
	// Resumed from step 2, the run fails writing checkpoint 4 again.
	errs, code := limited(trainArgs(data, out, 6, "--save-every", "2", "--resume-from", runlog.CheckpointDir(out, 2))...)
	c4 := runlog.CheckpointDir(out, 4)
	for _, want := range []string{"checkpoint " + c4 + ": write " + c4 + ".tmp/adapter_model.safetensors: file too large",
		"report: write " + filepath.Join(out, "report")} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("checkpoint: exit %d, want 1 and %q in\n%s", code, want, errs)
		}
	}
	for p, b := range ckpts {
		if now, err := os.ReadFile(p); err != nil || !bytes.Equal(now, b) {
			t.Errorf("%s changed: %v", p, err)
		}
	}
	noTemporaries(t, out)

	fresh := filepath.Join(dir, "fresh")
	errs, code = limited(trainArgs(data, fresh, 2)...)
	if want := "write " + filepath.Join(fresh, "adapter_model.safetensors") + ": file too large"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("adapter: exit %d, want 1 and %q in\n%s", code, want, errs)
	}
	noTemporaries(t, fresh)

	for _, args := range [][]string{
		{"merge", "--model", filepath.Join(ref, "lora_train"), "--adapter", filepath.Join(ref, "lora_train", "adapter_init"), "--out"},
		{"quantize", "--model", filepath.Join(ref, "lora_train"), "--out"},
	} {
		parent := t.TempDir()
		dst := filepath.Join(parent, "model")
		errs, code := limited(append(args, dst)...)
		if want := "model.safetensors: file too large"; code != 1 || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d, want 1 and %q in\n%s", args[0], code, want, errs)
		}
		if es, _ := os.ReadDir(parent); len(es) != 0 {
			t.Errorf("%s left %v in %s", args[0], es, parent)
		}
	}
}

// TestReadOnlyOutput: a run that cannot write into its read-only output
// directory stops with an error naming the file; the checkpoints there
// stay as they were.
func TestReadOnlyOutput(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions do not stop writes, so a read-only directory cannot be tested")
	}
	dir, data, _ := childSetup(t)
	out := filepath.Join(dir, "out")
	if _, errs, code := golora(t, trainArgs(data, out, 6, "--save-every", "2")...); code != 0 {
		t.Fatal(errs)
	}
	before := snapshot(t, out)
	os.Chmod(out, 0o555)
	defer os.Chmod(out, 0o755)
	_, errs, code := golora(t, trainArgs(data, out, 6, "--save-every", "2", "--resume-from", runlog.CheckpointDir(out, 2))...)
	if want := "write " + filepath.Join(out, runlog.RunFile) + ": permission denied"; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, want 1 and an error naming %s:\n%s", code, out, errs)
	}
	for p, b := range before {
		if now, err := os.ReadFile(p); err != nil || !bytes.Equal(now, b) {
			t.Errorf("%s changed: %v", p, err)
		}
	}
	noTemporaries(t, out)
}
