package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FlagSet is a command's flags: a flag.FlagSet whose flags are printed
// under headings, as --name VALUE, and whose parse errors name the command
// and suggest the nearest flag.
type FlagSet struct {
	fs         *flag.FlagSet
	app        *App
	cmd        *Command
	path       string    // "golora train"
	stdout     io.Writer // where -h prints
	group      string    // the heading of flags defined now
	order      []string  // flag names in definition order
	groups     map[string]string
	describing bool // Parse returns errDescribing at once
}

func (a *App) flagSet(c *Command, path string, stdout io.Writer) *FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &FlagSet{fs: fs, app: a, cmd: c, path: path, stdout: stdout, group: "Flags", groups: map[string]string{}}
}

// Group puts the flags defined after it under the heading name in usage.
func (f *FlagSet) Group(name string) { f.group = name }

func (f *FlagSet) note(name string) {
	f.order = append(f.order, name)
	f.groups[name] = f.group
}

// Var defines a flag with a flag.Value of its own. The first word in
// backquotes in usage names its value in the help (`DIR`, `FILE`).
func (f *FlagSet) Var(v flag.Value, name, usage string) { f.fs.Var(v, name, usage); f.note(name) }

func (f *FlagSet) StringVar(p *string, name, value, usage string) {
	f.fs.StringVar(p, name, value, usage)
	f.note(name)
}

func (f *FlagSet) String(name, value, usage string) *string {
	p := new(string)
	f.StringVar(p, name, value, usage)
	return p
}

func (f *FlagSet) BoolVar(p *bool, name string, value bool, usage string) {
	f.fs.BoolVar(p, name, value, usage)
	f.note(name)
}

func (f *FlagSet) Bool(name string, value bool, usage string) *bool {
	p := new(bool)
	f.BoolVar(p, name, value, usage)
	return p
}

func (f *FlagSet) IntVar(p *int, name string, value int, usage string) {
	f.fs.IntVar(p, name, value, usage)
	f.note(name)
}

func (f *FlagSet) Int(name string, value int, usage string) *int {
	p := new(int)
	f.IntVar(p, name, value, usage)
	return p
}

func (f *FlagSet) Uint64Var(p *uint64, name string, value uint64, usage string) {
	f.fs.Uint64Var(p, name, value, usage)
	f.note(name)
}

func (f *FlagSet) Uint64(name string, value uint64, usage string) *uint64 {
	p := new(uint64)
	f.Uint64Var(p, name, value, usage)
	return p
}

func (f *FlagSet) Float64Var(p *float64, name string, value float64, usage string) {
	f.fs.Float64Var(p, name, value, usage)
	f.note(name)
}

func (f *FlagSet) Float64(name string, value float64, usage string) *float64 {
	p := new(float64)
	f.Float64Var(p, name, value, usage)
	return p
}

// NArg, Arg, Args and Visit are those of flag.FlagSet.
func (f *FlagSet) NArg() int                    { return f.fs.NArg() }
func (f *FlagSet) Arg(i int) string             { return f.fs.Arg(i) }
func (f *FlagSet) Args() []string               { return f.fs.Args() }
func (f *FlagSet) Visit(fn func(fl *flag.Flag)) { f.fs.Visit(fn) }

// errDescribing stops a command run only to learn its flags.
var errDescribing = errors.New("describing the flags")

// Parse parses args. For -h or --help it prints the usage to stdout and
// returns ErrHelp; a bad flag is a *UsageError that names it (and the
// nearest defined flag when one is close).
func (f *FlagSet) Parse(args []string) error {
	if f.describing {
		return errDescribing
	}
	err := f.fs.Parse(args)
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		f.PrintUsage(f.stdout)
		return ErrHelp
	}
	return &UsageError{Msg: f.explain(err.Error())}
}

// stdlibFlag finds the flag in the flag package's error messages (single
// dash) to rewrite it with two.
var stdlibFlag = regexp.MustCompile(`(for flag |for |argument: )-([^\s:]+)`)

// explain rewrites a flag package error: "unknown flag --rnak (did you
// mean --rank?)", "invalid value "x" for --rank: ...".
func (f *FlagSet) explain(msg string) string {
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimPrefix(name, "-")
		names := append([]string{"help"}, f.order...)
		return "unknown flag --" + name + didYouMean(name, names, "--")
	}
	msg = stdlibFlag.ReplaceAllStringFunc(msg, func(s string) string {
		m := stdlibFlag.FindStringSubmatch(s)
		return strings.TrimSuffix(m[1], "flag ") + "--" + m[2]
	})
	return strings.Replace(msg, "flag needs an argument", "flag needs a value", 1)
}

// PrintUsage writes the command's synopsis, description and flags, grouped
// under their headings, to w.
func (f *FlagSet) PrintUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n", f.app.synopsis(f.cmd, f.path, "       "))
	if f.cmd.Doc != "" {
		fmt.Fprintf(w, "\n%s\n", wrap(f.cmd.Doc, "", lineWidth))
	}
	type row struct{ left, help string }
	var headings []string
	rows := map[string][]row{}
	width := 0
	for _, name := range f.order {
		fl := f.fs.Lookup(name)
		value, help := placeholder(fl)
		left := "--" + name
		if value != "" {
			left += " " + value
		}
		if !isZero(fl.DefValue) && !strings.Contains(help, "(default") {
			help += " (default: " + fl.DefValue + ")"
		}
		g := f.groups[name]
		if rows[g] == nil {
			headings = append(headings, g)
		}
		rows[g] = append(rows[g], row{left, help})
		if len(left) <= maxLeft {
			width = max(width, len(left))
		}
	}
	indent := strings.Repeat(" ", 2+width+3)
	for _, g := range headings {
		fmt.Fprintf(w, "\n%s:\n", g)
		for _, r := range rows[g] {
			help := wrap(r.help, indent, lineWidth)[len(indent):]
			if len(r.left) > width {
				fmt.Fprintf(w, "  %s\n%s%s\n", r.left, indent, help)
				continue
			}
			fmt.Fprintf(w, "  %-*s   %s\n", width, r.left, help)
		}
	}
}

const (
	lineWidth = 100 // wrap usage text at this column
	maxLeft   = 28  // longer "--name VALUE" put their help on the next line
)

// placeholder returns the name of fl's value (empty for booleans) and its
// help with the backquotes removed: the backquoted word of the help, else
// N for integers, X for floats, or the value's own Placeholder.
func placeholder(fl *flag.Flag) (value, help string) {
	value, help = flag.UnquoteUsage(fl)
	if strings.Contains(fl.Usage, "`") {
		return value, help
	}
	if p, ok := fl.Value.(interface{ Placeholder() string }); ok {
		return p.Placeholder(), help
	}
	switch value {
	case "int", "uint":
		value = "N"
	case "float":
		value = "X"
	case "":
	default:
		value = "VALUE"
	}
	return value, help
}

func isZero(def string) bool {
	if def == "" || def == "false" {
		return true
	}
	v, err := strconv.ParseFloat(def, 64)
	return err == nil && v == 0
}

// wrap fills text into lines of at most width columns (longer words stand
// alone), each starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}

// NewFlagSet returns the flag set of a program of one command, name, whose
// -h prints to stdout.
func NewFlagSet(name string, stdout io.Writer) *FlagSet {
	return (&App{Name: name}).flagSet(&Command{Name: name}, name, stdout)
}
