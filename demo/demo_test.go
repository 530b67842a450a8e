package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickDemo runs every stage of the demo on a toy configuration, twice:
// the second run must reuse the cached base model. The output ends with
// the golora serve command of the base and both personalities.
func TestQuickDemo(t *testing.T) {
	out := t.TempDir()
	var first bytes.Buffer
	o := Quick(out)
	o.Stdout = &first
	if err := Run(o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pretraining a base model", "trainable params: ", "held-out loss", "[newton]", "[gopher]", "of the base"} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, first.String())
		}
	}
	serve := "golora serve --model " + filepath.Join(out, "base") + " --adapter newton=" + filepath.Join(out, "newton") +
		" --adapter gopher=" + filepath.Join(out, "gopher") + "\n"
	if !strings.HasSuffix(first.String(), serve+"  (then chat with the base and both personalities at http://127.0.0.1:8080/)\n") {
		t.Errorf("demo output does not end with the serve command %q:\n%s", serve, first.String())
	}
	for _, f := range []string{"base/config.json", "base/model.safetensors", "base/tokenizer.json",
		"newton/adapter_config.json", "newton/adapter_model.safetensors", "newton/report.html", "gopher/adapter_model.safetensors", "gopher/metrics.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	var second bytes.Buffer
	o.Stdout = &second
	if err := Run(o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(second.String(), "cached") || strings.Contains(second.String(), "pretraining") {
		t.Errorf("second run did not reuse the cached base:\n%s", second.String())
	}
}
