package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	tr := patternData(t, filepath.Join(dir, "train.jsonl"), 8, 1)
	va := patternData(t, filepath.Join(dir, "valid.jsonl"), 2, 2)
	out := filepath.Join(dir, "run")
	m := filepath.Join(ref, "lora_train")
	if _, errs, code := golora(t, "train", "--model", m, "--data", tr, "--valid", va, "--out", out,
		"--steps", "4", "--save-every", "2", "--rank", "2", "--targets", "all-linear", "--lr", "0.01"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	// Flags after the directory work too.
	stdout, errs, code := golora(t, "report", out, "--module", "layers.1.mlp.up_proj", "--model", m)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, errs)
	}
	path := strings.TrimSpace(stdout)
	if path != filepath.Join(out, "report.html") {
		t.Errorf("printed %q, want the report's path", path)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model.layers.1.mlp.up_proj</code>", "‖s·B·A‖_F of gate_proj", "W (frozen)", "Trainable parameters"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range []string{"loss.svg", "lr.svg", "histogram.svg", "matrices.svg", "norms-q_proj.svg"} {
		if _, err := os.Stat(filepath.Join(out, "report", f)); err != nil {
			t.Errorf("no picture %s", f)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "usage: golora report"},
		{[]string{"report", out, out}, "usage: golora report"},
		{[]string{"report", filepath.Join(dir, "nothing")}, "nothing"},
		{[]string{"report", dir}, "not a golora training run"},
	} {
		_, errs, code := golora(t, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errs, tc.want)
		}
	}
}
