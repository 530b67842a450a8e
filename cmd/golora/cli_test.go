package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/internal/cli"
)

// Every command prints its usage to stdout for -h, --help and golora help
// CMD, in the one format: synopsis, description, grouped --flags.
func TestEveryCommandHelp(t *testing.T) {
	paths := app.Paths()
	for _, want := range []string{"bench gemm", "bench serve", "train", "completion", "help", "version"} {
		if !slices.Contains(paths, want) {
			t.Fatalf("app.Paths() %v lacks %q", paths, want)
		}
	}
	for _, name := range paths {
		words := strings.Fields(name)
		var first string
		for i, args := range [][]string{append(words, "-h"), append(words, "--help"), append([]string{"help"}, words...)} {
			stdout, stderr, code := golora(t, args...)
			if code != 0 || stderr != "" {
				t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
			}
			if !strings.HasPrefix(stdout, "usage: golora "+name) || !strings.Contains(stdout, "\n\n") {
				t.Errorf("%q: usage is\n%s", args, stdout)
			}
			if strings.Contains(stdout, "\n  -") && !strings.Contains(stdout, "\n  --") {
				t.Errorf("%q: flags not shown as --name:\n%s", args, stdout)
			}
			if i == 0 {
				first = stdout
			} else if stdout != first {
				t.Errorf("%q prints another usage than %s -h", args, name)
			}
		}
	}
	stdout, _, _ := golora(t, "train", "-h")
	for _, want := range []string{"\nModel:\n  --model DIR ", "\nLoRA:\n  --rank N ", "LoRA rank r (default: 8)", "\nOptimization:\n", "--layers N,N,...", "--config FILE"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("train -h lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCommandListAndVersion(t *testing.T) {
	stdout, stderr, code := golora(t)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "\n  train ") {
		t.Errorf("golora alone: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		stdout, stderr, code := golora(t, args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "\n  train ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, _, code := golora(t, args...)
		if code != 0 || !strings.HasPrefix(stdout, "golora ") || !strings.Contains(stdout, "revision ") {
			t.Errorf("%v: exit %d, %q", args, code, stdout)
		}
	}
}

func TestUnknownFlagsAndCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--rnak", "4"}, "golora train: unknown flag --rnak (did you mean --rank?)\n"},
		{[]string{"train", "--lr-shedule", "cosine"}, "unknown flag --lr-shedule (did you mean --lr-schedule?)"},
		{[]string{"sweep", "--rnaks", "4"}, "unknown flag --rnaks (did you mean --ranks?)"},
		{[]string{"mem", "--methd", "lora"}, "unknown flag --methd (did you mean --method?)"},
		{[]string{"bench", "train", "--stpes", "1"}, "golora bench train: unknown flag --stpes (did you mean --steps?)"},
		{[]string{"trian"}, `golora: unknown command "trian" (did you mean train?)`},
		{[]string{"bench", "gemmm"}, `golora bench: unknown command "gemmm" (did you mean gemm?)`},
		{[]string{"train", "--quux"}, "golora train: unknown flag --quux\n"},
	} {
		stdout, stderr, code := golora(t, tc.args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// Lists of numbers go through one parser: errors name the flag and the
// bad item.
func TestListFlags(t *testing.T) {
	m := filepath.Join(ref, "lora_train")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logits", "--model", m, "--ids", "1,x"}, `invalid value "1,x" for --ids: item 2 "x" is not an integer`},
		{[]string{"logits", "--model", m, "--ids", "1,-2"}, `--ids: item 2 "-2" is negative`},
		{[]string{"tokenize", "--tokenizer", m, "--decode", "--ids", "[1, 2, x]"}, `--ids: item 3 "x" is not an integer`},
		{[]string{"train", "--layers", "0,one"}, `--layers: item 2 "one" is not an integer`},
		{[]string{"sweep", "--ranks", "8,0"}, `--ranks: item 2 "0" is not positive`},
		{[]string{"sweep", "--alphas", "16,-1"}, `--alphas: item 2 "-1" is not positive`},
	} {
		_, stderr, code := golora(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
	// Brackets and spaces are allowed, as a Python list prints.
	a, _, _ := golora(t, "logits", "--model", m, "--ids", "1,5,9")
	b, errs, code := golora(t, "logits", "--model", m, "--ids", "[1, 5, 9]")
	if code != 0 || a != b {
		t.Errorf("--ids '[1, 5, 9]': exit %d, %s", code, errs)
	}
	o, err := parseTrainPlus(cli.NewFlagSet("train", io.Discard), []string{"--layers", "0, 2"}, nil)
	if err != nil || len(o.Layers) != 2 || o.Layers[1] != 2 {
		t.Errorf("--layers '0, 2': %v, %v", o.Layers, err)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		script, stderr, code := golora(t, "completion", shell)
		if code != 0 {
			t.Fatalf("completion %s: exit %d: %s", shell, code, stderr)
		}
		for _, want := range []string{"train", "lr-schedule", "gemm", "max-seq-len", "tokenize"} {
			if !strings.Contains(script, want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
		if _, err := exec.LookPath(shell); err != nil {
			if shell == "bash" {
				t.Error("no bash to check the script with")
			}
			continue
		}
		path := filepath.Join(t.TempDir(), "golora."+shell)
		os.WriteFile(path, []byte(script), 0o644)
		if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, out)
		}
	}
}
