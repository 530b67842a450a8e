// Package cli is golora's command line on top of the standard flag
// package: a registry of commands, one usage format for all of them, help
// and version commands, "did you mean" suggestions for unknown commands and
// flags, flags for lists of numbers, and shell completion scripts generated
// from the registry.
//
// A command's Run defines its flags on the FlagSet it is given, calls
// fs.Parse(args) before doing anything else, and then runs. The App also
// calls Run in a describing mode, where Parse returns at once, to learn a
// command's flags for help and completion without running it.
package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Command is one subcommand of a program.
type Command struct {
	Name    string
	Summary string // one line, in the command list
	// Usage is the synopsis after the program name, e.g.
	// "train --model DIR --data FILE --out DIR [flags]"; each line is one form.
	Usage string
	Doc   string // one paragraph printed under the synopsis
	// Run defines the flags on fs, calls fs.Parse(args) first, then runs.
	Run func(fs *FlagSet, args []string, stdout, stderr io.Writer) error
	// Subcommands, when given, are chosen by the next argument (golora
	// bench gemm); Run is then unused.
	Subcommands []*Command

	// words, when set, lists the values of the command's positional
	// argument for completion (help: the command names).
	words func() []string
}

// App is a program made of commands.
type App struct {
	Name     string // the program, as users type it
	Summary  string // one line printed above the command list
	commands []*Command
}

// NewApp returns an App with the built-in commands help, version and
// completion.
func NewApp(name, summary string) *App {
	a := &App{Name: name, Summary: summary}
	a.Register(&Command{Name: "help", Summary: "show the commands, or the usage and flags of one", Usage: "help [COMMAND [SUBCOMMAND]]",
		Doc: "Without an argument, lists the commands; with one, prints that command's usage and flags (as COMMAND -h does).",
		Run: a.runHelp, words: a.names})
	a.Register(&Command{Name: "version", Summary: "print the version and the revision it was built from", Usage: "version",
		Doc: "Prints the module version and the version-control revision, its time and whether the tree was modified, as recorded in the binary at build time.",
		Run: a.runVersion})
	a.Register(&Command{Name: "completion", Summary: "print a shell completion script (bash, zsh or fish)", Usage: "completion bash|zsh|fish",
		Doc: "Prints a completion script for the shell: commands, subcommands and each command's flags, with file and directory names after flags that take them. " +
			"Load it with `source <(" + name + " completion bash)` (or zsh), or `" + name + " completion fish | source`.",
		Run: a.runCompletion, words: func() []string { return shells }})
	return a
}

// Register adds a command; a name registered twice is a programming error.
func (a *App) Register(c *Command) {
	if a.lookup(a.commands, c.Name) != nil {
		panic(a.Name + ": command registered twice: " + c.Name)
	}
	a.commands = append(a.commands, c)
}

func (a *App) lookup(cs []*Command, name string) *Command {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func sorted(cs []*Command) []*Command {
	out := slices.Clone(cs)
	slices.SortFunc(out, func(x, y *Command) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// Paths lists every command that runs, as the words after the program's
// name ("train", "bench gemm"), in name order, built-in ones included.
func (a *App) Paths() []string {
	var out []string
	var walk func(prefix string, cs []*Command)
	walk = func(prefix string, cs []*Command) {
		for _, c := range sorted(cs) {
			if c.Subcommands != nil {
				walk(prefix+c.Name+" ", c.Subcommands)
				continue
			}
			out = append(out, prefix+c.Name)
		}
	}
	walk("", a.commands)
	return out
}

func (a *App) names() []string {
	var out []string
	for _, c := range sorted(a.commands) {
		out = append(out, c.Name)
	}
	return out
}

// list prints the command list (or a command's subcommands) to w.
func (a *App) list(w io.Writer, path string, cs []*Command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\n", path)
	if path == a.Name && a.Summary != "" {
		fmt.Fprintf(w, "%s\n\n", a.Summary)
	}
	fmt.Fprintln(w, "commands:")
	width := 0
	for _, c := range cs {
		width = max(width, len(c.Name))
	}
	for _, c := range sorted(cs) {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s help <command>' or '%s <command> -h' for its flags.\n", a.Name, path)
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// Main runs the command args name and returns the process exit code: 0 on
// success and for help, 1 when the command fails, 2 for a usage error, an
// ExitError's own code.
func (a *App) Main(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		a.list(stderr, a.Name, a.commands)
		return 2
	case isHelp(args[0]):
		a.list(stdout, a.Name, a.commands)
		return 0
	case args[0] == "--version" || args[0] == "-version":
		args = append([]string{"version"}, args[1:]...)
	}
	c, path, rest, err := a.resolve(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if c.Subcommands != nil {
		if len(rest) > 0 && isHelp(rest[0]) {
			a.list(stdout, path, c.Subcommands)
			return 0
		}
		a.list(stderr, path, c.Subcommands)
		return 2
	}
	err = c.Run(a.flagSet(c, path, stdout), rest, stdout, stderr)
	var ue *UsageError
	var ee *ExitError
	code := 1
	switch {
	case err == nil, errors.Is(err, ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s\n", path, ue.Msg)
		fmt.Fprintf(stderr, "usage: %s\nRun '%s -h' for the flags.\n", a.synopsis(c, path, "       "), path)
		return 2
	case errors.As(err, &ee):
		code = ee.Code
	}
	fmt.Fprintf(stderr, "%s: %s\n", path, strings.TrimSpace(err.Error()))
	return code
}

// resolve finds the command that args name, descending into subcommands
// while the next argument names one, and returns it with the program path
// ("golora bench train") and the remaining arguments. A command with
// subcommands is returned as is when the next argument names none of them
// (and is a flag or absent).
func (a *App) resolve(args []string) (c *Command, path string, rest []string, err error) {
	cs, path := a.commands, a.Name
	for {
		name := args[0]
		c = a.lookup(cs, name)
		if c == nil {
			names := make([]string, len(cs))
			for i, c := range cs {
				names[i] = c.Name
			}
			return nil, "", nil, &UsageError{Msg: fmt.Sprintf("%s: unknown command %q%s\nRun '%s help' for the list of commands.", path, name, didYouMean(name, names, ""), a.Name)}
		}
		path, args = path+" "+name, args[1:]
		if c.Subcommands == nil || len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return c, path, args, nil
		}
		cs = c.Subcommands
	}
}

// synopsis is the command's usage lines, each prefixed by the program
// name, lines after the first indented by indent.
func (a *App) synopsis(c *Command, path, indent string) string {
	usage := c.Usage
	if usage == "" {
		usage = strings.TrimPrefix(path, a.Name+" ") + " [flags]"
	}
	lines := strings.Split(usage, "\n")
	for i, l := range lines {
		lines[i] = a.Name + " " + l
		if i > 0 {
			lines[i] = indent + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// describe returns c's flags, learned by running c in describing mode.
func (a *App) describe(c *Command, path string) *FlagSet {
	fs := a.flagSet(c, path, io.Discard)
	fs.describing = true
	c.Run(fs, nil, io.Discard, io.Discard)
	return fs
}

func (a *App) runHelp(fs *FlagSet, args []string, stdout, stderr io.Writer) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		a.list(stdout, a.Name, a.commands)
		return nil
	}
	c, path, rest, err := a.resolve(fs.Args())
	if err != nil {
		return &UsageError{Msg: strings.TrimPrefix(strings.SplitN(err.Error(), "\n", 2)[0], a.Name+": ")}
	}
	if len(rest) > 0 {
		return Usagef("%s has no subcommand %q", path, rest[0])
	}
	if c.Subcommands != nil {
		a.list(stdout, path, c.Subcommands)
		return nil
	}
	a.describe(c, path).PrintUsage(stdout)
	return nil
}

// ErrHelp is returned by FlagSet.Parse after it printed the usage for -h.
var ErrHelp = errors.New("help requested")

// UsageError is a command line that cannot be run: exit status 2, the
// message followed by the command's synopsis.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitError is a failure with its own exit status (e.g. 130 after an
// interrupt) instead of 1; Main prints Err as it prints any error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }

func (e *ExitError) Unwrap() error { return e.Err }
