package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// golora combine --method cat writes an adapter whose logits equal those of
// its inputs attached at their weights; bad input is refused by name.
func TestCombineCLI(t *testing.T) {
	base := filepath.Join(ref, "lora_train")
	a, b := filepath.Join(base, "adapter_init"), filepath.Join(base, "adapter_rslora_bf16")
	out := filepath.Join(t.TempDir(), "cat")
	stdout, errs, code := golora(t, "combine", "--model", base, "--adapter", a+":0.5", "--adapter", b+":-2", "--method", "cat", "--out", out)
	if code != 0 || !strings.Contains(stdout, "rank 12") {
		t.Fatalf("combine: exit %d, %s%s", code, stdout, errs)
	}
	ids := "1,5,9,13,2,7"
	want, errs, code := golora(t, "logits", "--model", base, "--adapter", a+":0.5", "--adapter", b+":-2", "--ids", ids)
	if code != 0 {
		t.Fatal(errs)
	}
	got, errs, code := golora(t, "logits", "--model", base, "--adapter", out, "--ids", ids)
	if code != 0 {
		t.Fatal(errs)
	}
	if e := maxRelErr(t, parseLogits(t, got), parseLogits(t, want)); e > 1e-5 {
		t.Errorf("combined adapter's logits differ from the weighted inputs' by %.3g", e)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--adapter", a, "--adapter", b, "--method", "linear"}, "needs equal ranks, got r = 4"},
		{[]string{"--adapter", a, "--method", "mean"}, `method "mean" is not one of`},
		{[]string{"--adapter", a, "--method", "cat", "--rank", "2"}, "a rank applies only to method svd"},
		{[]string{"--adapter", filepath.Join(base, "missing"), "--method", "cat"}, "missing"},
		{[]string{"--adapter", a, "--method", "cat", "--out", out}, "not empty"},
	} {
		args := append([]string{"combine", "--model", base}, tc.args...)
		if !strings.Contains(strings.Join(tc.args, " "), "--out") {
			args = append(args, "--out", filepath.Join(t.TempDir(), "x"))
		}
		_, errs, code := golora(t, args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want it to contain %q", tc.args, code, errs, tc.want)
		}
	}
	if stdout, _, code := golora(t, "combine", "-h"); code != 0 || !strings.HasPrefix(stdout, "usage: golora combine") {
		t.Errorf("combine -h: exit %d\n%s", code, stdout)
	}
}
