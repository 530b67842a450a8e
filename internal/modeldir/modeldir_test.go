package modeldir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCopyCompanions(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	for _, name := range Companions {
		if err := os.WriteFile(filepath.Join(from, name), []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(from, "notes.txt"), []byte("not a companion"), 0o644)
	if err := CopyCompanions(from, to); err != nil {
		t.Fatal(err)
	}
	for _, name := range Companions {
		got, err := os.ReadFile(filepath.Join(to, name))
		if err != nil || string(got) != "content of "+name {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(to, "notes.txt")); err == nil {
		t.Error("a file that is no companion was copied")
	}
	// Absent companions are skipped.
	if err := CopyCompanions(t.TempDir(), t.TempDir()); err != nil {
		t.Errorf("no companions: %v", err)
	}
}

func TestCopyCompanionsUnreadable(t *testing.T) {
	from := t.TempDir()
	if err := os.Mkdir(filepath.Join(from, "tokenizer.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := CopyCompanions(from, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), filepath.Join(from, "tokenizer.json")) {
		t.Errorf("a directory named tokenizer.json: err %v, want one naming it", err)
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: a mode 000 file is readable, that case is skipped")
		return
	}
	from = t.TempDir()
	p := filepath.Join(from, "generation_config.json")
	if err := os.WriteFile(p, []byte("{}"), 0o000); err != nil {
		t.Fatal(err)
	}
	if err := CopyCompanions(from, t.TempDir()); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("an unreadable generation_config.json: err %v, want one naming it", err)
	}
}

func TestWriteIsAtomic(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "sub", "model")
	if err := Write(out, func(dir string) error {
		return os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "config.json")); err != nil || string(b) != "{}" {
		t.Fatalf("config.json: %q, %v", b, err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", st.Mode().Perm())
	}
	onlyEntry(t, filepath.Join(parent, "sub"), "model")

	// A failing fill leaves neither out nor the temporary directory.
	failed := filepath.Join(parent, "failed")
	boom := errors.New("boom")
	if err := Write(failed, func(dir string) error {
		os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("half"), 0o644)
		return fmt.Errorf("write %s: %w", filepath.Join(dir, "model.safetensors"), boom)
	}); !errors.Is(err, boom) || err.Error() != "write "+filepath.Join(failed, "model.safetensors")+": boom" {
		t.Fatalf("err %v, want boom naming the file in %s", err, failed)
	}
	onlyEntry(t, parent, "sub")

	// An existing non-empty directory is never replaced; an empty one is.
	if err := Write(out, func(string) error { return nil }); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("writing over a model: %v", err)
	}
	empty := filepath.Join(parent, "empty")
	os.Mkdir(empty, 0o755)
	if err := Write(empty, func(dir string) error { return os.WriteFile(filepath.Join(dir, "x"), nil, 0o644) }); err != nil {
		t.Errorf("into an empty directory: %v", err)
	}
	// Another writer that fills out meanwhile wins; its files stay.
	raced := filepath.Join(parent, "raced")
	if err := Write(raced, func(dir string) error {
		os.Mkdir(raced, 0o755)
		return os.WriteFile(filepath.Join(raced, "theirs"), nil, 0o644)
	}); err == nil || !strings.Contains(err.Error(), "written by another process meanwhile") {
		t.Errorf("a concurrent writer: %v", err)
	}
	onlyEntry(t, raced, "theirs")
	file := filepath.Join(parent, "file")
	os.WriteFile(file, nil, 0o644)
	if err := Write(file, func(string) error { return nil }); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("over a file: %v", err)
	}
}

// onlyEntry fails unless dir holds exactly the entry name.
func onlyEntry(t *testing.T, dir, name string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		t.Errorf("%s holds %v, want only %s", dir, names, name)
	}
}

func TestSame(t *testing.T) {
	d := t.TempDir()
	if !Same(d, d+"/.") || Same(d, t.TempDir()) || Same(d, filepath.Join(d, "missing")) {
		t.Error("Same")
	}
}
