package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/golora/golora/internal/fixture"
)

// TestMain lets sweep and compare re-execute this test binary as golora:
// with GOLORA_TEST_AS_CLI=1 it runs the command line instead of the tests
// (after childLimits, which tests on some systems set).
func TestMain(m *testing.M) {
	if os.Getenv("GOLORA_TEST_AS_CLI") == "1" {
		if err := childLimits(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(3)
		}
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// childLimits applies limits to a child process before it runs golora.
var childLimits = func() error { return nil }

// patternData writes n learnable pre-tokenized sequences (fixture.PatternData).
func patternData(t *testing.T, path string, n int, seed uint64) string {
	t.Helper()
	if err := fixture.PatternData(path, n, seed); err != nil {
		t.Fatal(err)
	}
	return path
}

// childSetup makes data and lets the children run as this binary.
func childSetup(t *testing.T) (dir, trainFile, validFile string) {
	t.Helper()
	t.Setenv("GOLORA_TEST_AS_CLI", "1")
	dir = t.TempDir()
	return dir, patternData(t, filepath.Join(dir, "train.jsonl"), 12, 1), patternData(t, filepath.Join(dir, "valid.jsonl"), 4, 2)
}

// trainArgs is a run of steps steps on the lora_train fixture writing to out.
func trainArgs(data, out string, steps int, extra ...string) []string {
	return append([]string{"train", "--model", filepath.Join(ref, "lora_train"), "--data", data, "--out", out,
		"--steps", strconv.Itoa(steps), "--rank", "4", "--dropout", "0.1", "--lr", "1e-3", "--batch-size", "2"}, extra...)
}

// written returns the files of the "written: a, b" line in s.
func written(t *testing.T, s string) []string {
	t.Helper()
	for _, line := range strings.Split(s, "\n") {
		if files, ok := strings.CutPrefix(line, "written: "); ok {
			return strings.Split(files, ", ")
		}
	}
	t.Fatalf("no written: line in\n%s", s)
	return nil
}

// wroteAll fails unless files are exactly the entries of dir that are
// plain files.
func wroteAll(t *testing.T, dir string, files []string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range es {
		if !e.IsDir() {
			want = append(want, filepath.Join(dir, e.Name()))
		}
	}
	if strings.Join(slices.Sorted(slices.Values(files)), " ") != strings.Join(want, " ") {
		t.Errorf("printed as written: %v; %s holds %v", files, dir, want)
	}
}

func TestSweepErrors(t *testing.T) {
	dir, tr, va := childSetup(t)
	m := filepath.Join(ref, "lora_train")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--valid", va, "--ranks", "2,x"}, "--ranks"},
		{[]string{"--valid", va, "--alphas", "-1"}, "--alphas"},
		{nil, "--valid"},
		{[]string{"--valid", va, "--full"}, "--full"},
		{[]string{"--valid", va, "--lr-schedule", "zigzag"}, "zigzag"},
	} {
		args := append([]string{"sweep", "--model", m, "--data", tr, "--out", filepath.Join(dir, "o"), "--steps", "1"}, tc.args...)
		_, errs, code := golora(t, args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errs, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); err == nil {
		t.Error("a refused sweep created its output directory")
	}
	// A run that fails is reported, and the sweep says so; its tables are
	// written and every file is listed.
	out := filepath.Join(dir, "f")
	stdout, errs, code := golora(t, "sweep", "--model", m, "--data", tr, "--valid", va, "--out", out,
		"--steps", "1", "--ranks", "2", "--alphas", "4", "--targets", "nonexistent_proj")
	if code == 0 || !strings.Contains(errs, "nonexistent_proj") || !strings.Contains(errs, "1 of 1 training run failed") {
		t.Errorf("failed child: exit %d, stderr %q", code, errs)
	}
	wroteAll(t, out, written(t, stdout))
	// With --json the listing goes to stderr.
	out = filepath.Join(dir, "j")
	_, errs, _ = golora(t, "sweep", "--model", m, "--data", tr, "--valid", va, "--out", out,
		"--steps", "1", "--ranks", "2", "--alphas", "4", "--targets", "nonexistent_proj", "--json")
	wroteAll(t, out, written(t, errs))
}

func TestCompareErrors(t *testing.T) {
	dir, tr, va := childSetup(t)
	m := filepath.Join(ref, "lora_train")
	if _, errs, code := golora(t, "compare", "--model", m, "--data", tr, "--valid", va,
		"--out", filepath.Join(dir, "o"), "--steps", "1", "--methods", "lora,dora"); code == 0 || !strings.Contains(errs, `--methods: "dora" is not a method`) {
		t.Errorf("unknown method: exit %d, %q", code, errs)
	}
	out := filepath.Join(dir, "f")
	stdout, errs, code := golora(t, "compare", "--model", m, "--data", tr, "--valid", va, "--out", out,
		"--steps", "1", "--methods", "lora", "--targets", "nonexistent_proj")
	if code == 0 || !strings.Contains(errs, "nonexistent_proj") || !strings.Contains(errs, "1 of 1 training run failed") {
		t.Errorf("failed child: exit %d, stderr %q", code, errs)
	}
	wroteAll(t, out, written(t, stdout))
}
