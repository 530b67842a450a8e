package kernels

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParseAndUse(t *testing.T) {
	sup := Supported()
	if sup[len(sup)-1] != Go {
		t.Fatalf("Supported() = %v, want Go last", sup)
	}
	old := Active()
	defer Use(old)
	for _, s := range sup {
		got, err := Parse(s.String())
		if err != nil || got != s {
			t.Fatalf("Parse(%q) = %v, %v", s, got, err)
		}
		if err := Use(s); err != nil || Active() != s {
			t.Fatalf("Use(%v): %v, active %v", s, err, Active())
		}
	}
	if _, err := Parse("sse"); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Errorf(`Parse("sse") error = %v, want "unknown"`, err)
	}
	before := Active()
	for _, s := range sup {
		ran := false
		if err := With(s, func() { ran = Active() == s }); err != nil || !ran || Active() != before {
			t.Errorf("With(%v): error %v, ran with it %v, then active %v (want %v)", s, err, ran, Active(), before)
		}
	}
	for _, s := range []Set{AVX2, AVX512} {
		if isSupported(s) {
			continue
		}
		if err := With(s, func() { t.Errorf("With(%v) ran f on a machine without it", s) }); err == nil {
			t.Errorf("With(%v) on a machine without it: no error", s)
		}
		if err := Use(s); err == nil || Active() != before {
			t.Errorf("Use(%v) on a machine without it: error %v, active %v", s, err, Active())
		}
		if _, err := Parse(s.String()); err == nil || !strings.Contains(err.Error(), "this machine runs") {
			t.Errorf("Parse(%q) error = %v", s, err)
		}
	}
}

func isSupported(s Set) bool {
	for _, t := range Supported() {
		if t == s {
			return true
		}
	}
	return false
}

// TestEnv runs this test binary again with $GOLORA_KERNELS set: each
// supported set becomes the active one, and a name the machine cannot run
// stops the program at start-up with a message and status 2.
func TestEnv(t *testing.T) {
	if name, ok := os.LookupEnv("KERNELS_TEST_CHILD"); ok {
		if Active().String() != name {
			t.Fatalf("active %v with $%s=%s", Active(), Env, name)
		}
		return
	}
	run := func(name string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnv$")
		cmd.Env = append(os.Environ(), Env+"="+name, "KERNELS_TEST_CHILD="+name)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, s := range Supported() {
		if out, err := run(s.String()); err != nil {
			t.Errorf("%s=%v: %v\n%s", Env, s, err, out)
		}
	}
	bad := []string{"avx1024"}
	for _, s := range []Set{AVX2, AVX512} {
		if !isSupported(s) {
			bad = append(bad, s.String())
		}
	}
	for _, name := range bad {
		out, err := run(name)
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(out, "$"+Env+": kernel set \""+name+"\"") {
			t.Errorf("%s=%s: %v, output %q; want exit status 2 and a message", Env, name, err, out)
		}
	}
}
