// Command golora fine-tunes Hugging Face transformer models with LoRA and
// QLoRA on a CPU, writes PEFT adapters, merges and generates with them.
//
// Each subcommand lives in its own file and registers itself in commands.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/golora/golora/tensor"
)

// command is one subcommand: run gets the arguments after the command name.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// commands is filled by the init functions of the subcommand files.
var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	if _, dup := commands[name]; dup {
		panic("golora: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: golora <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'golora <command> -h' for the flags of a command.")
}

func main() {
	tensor.SetThreads(threadCount(0))
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// threadCount is n when positive, else $GOLORA_THREADS when set, else 0
// (every core).
func threadCount(n int) int {
	if n > 0 {
		return n
	}
	if v, err := strconv.Atoi(os.Getenv("GOLORA_THREADS")); err == nil && v > 0 {
		return v
	}
	return 0
}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "golora: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(args[1:], stdout, stderr); err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintf(stderr, "golora %s: %s\n", args[0], strings.TrimSpace(err.Error()))
		return 1
	}
	return 0
}

// errUsage reports that flag parsing failed and the flag package has
// already printed why.
var errUsage = fmt.Errorf("usage")
