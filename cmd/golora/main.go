// Command golora fine-tunes Hugging Face transformer models with LoRA and
// QLoRA on a CPU, writes PEFT adapters, merges and generates with them.
//
// Each subcommand lives in its own file and registers itself in app.
package main

import (
	"io"
	"os"
	"strconv"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/tensor"
)

// app holds the commands; the init functions of the subcommand files
// register theirs.
var app = cli.NewApp("golora", "golora fine-tunes Hugging Face language models (Llama, Mistral, Qwen2, Qwen3, GPT-2) with LoRA and QLoRA on a CPU.")

func register(c *cli.Command) { app.Register(c) }

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

// run runs the command line args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return app.Main(args, stdout, stderr)
}
