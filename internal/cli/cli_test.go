package cli

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testApp has a plain command, one with subcommands and one that fails.
func testApp() (*App, *[]int) {
	a := NewApp("prog", "prog does things.")
	var got []int
	a.Register(&Command{Name: "train", Summary: "train a thing", Usage: "train --model DIR [flags]", Doc: "Trains a thing.",
		Run: func(fs *FlagSet, args []string, stdout, stderr io.Writer) error {
			fs.Group("Model")
			fs.String("model", "", "model `DIR`")
			fs.String("data", "", "data `FILE`")
			fs.Group("LoRA")
			fs.Int("rank", 8, "LoRA rank")
			fs.Float64("dropout", 0, "dropout")
			fs.Bool("rslora", false, "rank-stabilised")
			fs.IntsVar(&got, "layers", 0, "layers")
			if err := fs.Parse(args); err != nil {
				return err
			}
			io.WriteString(stdout, "trained\n")
			return nil
		}})
	a.Register(&Command{Name: "bench", Summary: "measure", Subcommands: []*Command{
		{Name: "gemm", Summary: "the GEMM", Run: func(fs *FlagSet, args []string, stdout, stderr io.Writer) error {
			fs.Int("m", 1024, "rows")
			return fs.Parse(args)
		}},
	}})
	a.Register(&Command{Name: "fail", Summary: "fails", Run: func(fs *FlagSet, args []string, stdout, stderr io.Writer) error {
		code := fs.Int("code", 0, "fail with this exit status (an ExitError)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *code != 0 {
			return &ExitError{Code: *code, Err: io.ErrUnexpectedEOF}
		}
		return io.ErrUnexpectedEOF
	}})
	return a, &got
}

func runApp(a *App, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = a.Main(args, &o, &e)
	return o.String(), e.String(), code
}

func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		args               []string
		code               int
		stdout, stderr     string // substrings; "" checks the stream is empty
		stdoutAny, errsAny bool   // the stream may hold anything
	}{
		{args: nil, code: 2, stderr: "commands:\n  bench"},
		{args: []string{"help"}, code: 0, stdout: "commands:\n  bench"},
		{args: []string{"--help"}, code: 0, stdout: "usage: prog <command>"},
		{args: []string{"-h"}, code: 0, stdout: "  completion  print a shell completion script"},
		{args: []string{"help", "train"}, code: 0, stdout: "usage: prog train --model DIR [flags]\n\nTrains a thing.\n\nModel:\n  --model DIR"},
		{args: []string{"train", "-h"}, code: 0, stdout: "\nLoRA:\n  --rank N"},
		{args: []string{"train", "--help"}, code: 0, stdout: "--rank N           LoRA rank (default: 8)\n"},
		{args: []string{"help", "bench"}, code: 0, stdout: "usage: prog bench <command>"},
		{args: []string{"help", "bench", "gemm"}, code: 0, stdout: "--m N   rows (default: 1024)"},
		{args: []string{"bench", "-h"}, code: 0, stdout: "  gemm  the GEMM"},
		{args: []string{"bench"}, code: 2, stderr: "  gemm  the GEMM"},
		{args: []string{"bench", "gemm", "--m", "2"}, code: 0, stdout: ""},
		{args: []string{"bench", "gemn"}, code: 2, stderr: `prog bench: unknown command "gemn" (did you mean gemm?)`},
		{args: []string{"trian"}, code: 2, stderr: `prog: unknown command "trian" (did you mean train?)`},
		{args: []string{"zzzzzz"}, code: 2, stderr: `prog: unknown command "zzzzzz"` + "\n"},
		{args: []string{"help", "trian"}, code: 2, stderr: `prog help: unknown command "trian" (did you mean train?)`},
		{args: []string{"train", "--rnak", "4"}, code: 2, stderr: "prog train: unknown flag --rnak (did you mean --rank?)\nusage: prog train --model DIR [flags]\n"},
		{args: []string{"train", "-rnak", "4"}, code: 2, stderr: "unknown flag --rnak (did you mean --rank?)"},
		{args: []string{"train", "--xyzzy"}, code: 2, stderr: "prog train: unknown flag --xyzzy\n"},
		{args: []string{"train", "--rank", "x"}, code: 2, stderr: `prog train: invalid value "x" for --rank: parse error`},
		{args: []string{"train", "--rslora=maybe"}, code: 2, stderr: `invalid boolean value "maybe" for --rslora`},
		{args: []string{"train", "--rank"}, code: 2, stderr: "prog train: flag needs a value: --rank"},
		{args: []string{"train", "--layers", "0,x"}, code: 2, stderr: `invalid value "0,x" for --layers: item 2 "x" is not an integer`},
		{args: []string{"train", "--rank", "4"}, code: 0, stdout: "trained\n"},
		{args: []string{"fail"}, code: 1, stderr: "prog fail: unexpected EOF\n"},
		{args: []string{"fail", "--code", "130"}, code: 130, stderr: "prog fail: unexpected EOF\n"},
		{args: []string{"completion", "tcsh"}, code: 2, stderr: `unknown shell "tcsh"`},
		{args: []string{"version", "extra"}, code: 2, stderr: `unexpected argument "extra"`},
	} {
		stdout, stderr, code := runApp(mustApp(), tc.args...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d; stderr %q", tc.args, code, tc.code, stderr)
		}
		check := func(stream, got, want string) {
			if want == "" && got != "" || !strings.Contains(got, want) {
				t.Errorf("%q: %s is %q, want it to contain %q", tc.args, stream, got, want)
			}
		}
		check("stdout", stdout, tc.stdout)
		if tc.stderr != "" || tc.code == 0 {
			check("stderr", stderr, tc.stderr)
		}
	}
}

func mustApp() *App { a, _ := testApp(); return a }

func TestUsageFormat(t *testing.T) {
	stdout, _, _ := runApp(mustApp(), "train", "-h")
	want := `usage: prog train --model DIR [flags]

Trains a thing.

Model:
  --model DIR        model DIR
  --data FILE        data FILE

LoRA:
  --rank N           LoRA rank (default: 8)
  --dropout X        dropout
  --rslora           rank-stabilised
  --layers N,N,...   layers
`
	if stdout != want {
		t.Errorf("usage:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "golora (devel), revision unknown, go version unknown"},
		{&debug.BuildInfo{GoVersion: "go1.26.8"}, "golora (devel), revision unknown, go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2025-11-30T18:09:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			"golora v1.2.0, revision 0123abcd 2025-11-30T18:09:00Z (modified), go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "false"}}},
			"golora (devel), revision 0123abcd, go1.26.8"},
	} {
		if got := versionLine("golora", tc.bi); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, _, code := runApp(mustApp(), args...)
		if code != 0 || !strings.HasPrefix(stdout, "prog ") || !strings.Contains(stdout, "revision") {
			t.Errorf("%v: exit %d, %q", args, code, stdout)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	names := []string{"rank", "alpha"}
	if got := didYouMean("rnak", names, "--"); got != " (did you mean --rank?)" {
		t.Errorf("rnak: %q", got)
	}
	if got := didYouMean("zzz", names, "--"); got != "" {
		t.Errorf("zzz: %q", got)
	}
}

func TestLists(t *testing.T) {
	var ints []int
	var floats []float64
	for _, tc := range []struct {
		v       interface{ Set(string) error }
		in      string
		want    string
		wantErr string
	}{
		{intList{&ints, 0}, "1,2, 3", "1,2,3", ""},
		{intList{&ints, 0}, "[4, 5]", "4,5", ""},
		{intList{&ints, 0}, " ", "", ""},
		{intList{&ints, 0}, "1,,2", "", `item 2 "" is not an integer`},
		{intList{&ints, 0}, "1,-2", "", `item 2 "-2" is negative`},
		{intList{&ints, 1}, "8,0", "", `item 2 "0" is not positive`},
		{intList{&ints, 2}, "1", "", `item 1 "1" is less than 2`},
		{positiveFloats{&floats}, "16, 32.5", "16,32.5", ""},
		{positiveFloats{&floats}, "16,x", "", `item 2 "x" is not a number`},
		{positiveFloats{&floats}, "0", "", `item 1 "0" is not positive`},
		{positiveFloats{&floats}, "NaN", "", `item 1 "NaN" is not positive`},
	} {
		err := tc.v.Set(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || tc.v.(interface{ String() string }).String() != tc.want {
			t.Errorf("%q: %v, %v, want %s", tc.in, tc.v, err, tc.want)
		}
	}
	// A given list replaces the default rather than appending to it.
	a, got := testApp()
	*got = []int{9}
	if _, errs, code := runApp(a, "train", "--layers", "1,2"); code != 0 || !slices.Equal(*got, []int{1, 2}) {
		t.Errorf("--layers 1,2: %v (%s)", *got, errs)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range shells {
		script, errs, code := runApp(mustApp(), "completion", shell)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", shell, code, errs)
		}
		for _, want := range []string{"train", "gemm", "rank", "layers", "completion"} {
			if !strings.Contains(script, want) {
				t.Errorf("%s script lacks %q", shell, want)
			}
		}
		path := filepath.Join(t.TempDir(), "prog."+shell)
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := exec.LookPath(shell); err != nil {
			if shell == "bash" {
				t.Errorf("bash is not installed: cannot check the script")
			}
			continue
		}
		if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s -n rejects the script: %v\n%s", shell, err, out)
		}
	}
}

// TestBashCompletion runs the bash script's function on command lines.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, _, _ := runApp(mustApp(), "completion", "bash")
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "models"), 0o755)
	os.WriteFile(filepath.Join(dir, "models.txt"), nil, 0o644)
	for _, tc := range []struct {
		line string
		want string
	}{
		{"prog tr", "train"},
		{"prog ", "bench completion fail help train version"},
		{"prog train --ra", "--rank"},
		{"prog train --", "--model --data --rank --dropout --rslora --layers"},
		{"prog train --model mod", "models"},           // directories only
		{"prog train --data mod", "models models.txt"}, // files
		{"prog train --rank ", ""},
		{"prog bench ", "gemm"},
		{"prog bench gemm --", "--m"},
		{"prog help b", "bench"},
		{"prog completion ", "bash zsh fish"},
	} {
		words := strings.Split(tc.line, " ")
		prog := script + "\nCOMP_WORDS=(" + strings.Join(quoteAll(words), " ") + ")\nCOMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n_prog\necho \"${COMPREPLY[*]}\"\n"
		cmd := exec.Command("bash", "-c", prog)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		got := strings.Fields(string(out))
		slices.Sort(got)
		want := strings.Fields(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: completes %q, want %q", tc.line, got, want)
		}
	}
}

func quoteAll(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = "'" + w + "'"
	}
	return out
}
