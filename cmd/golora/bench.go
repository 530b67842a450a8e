package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/golora/golora/bench"
	"github.com/golora/golora/mem"
)

func init() {
	register("bench", "measure the GEMM (bench gemm) or training steps (bench train)", runBench)
}

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "gemm" && args[0] != "train") {
		fmt.Fprintln(stderr, "usage: golora bench gemm|train [flags]")
		return errUsage
	}
	fs := flag.NewFlagSet("bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	threads := fs.Int("threads", 0, "threads (0: all cores, or $GOLORA_THREADS)")
	enc := json.NewEncoder(stdout)
	if args[0] == "gemm" {
		m := fs.Int("m", 1024, "rows of C")
		n := fs.Int("n", 1536, "columns of C")
		k := fs.Int("k", 576, "inner dimension")
		trans := fs.String("trans", "nn", "nn, nt, tn or tt: whether A and B are transposed")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		r, err := bench.Gemm(*m, *n, *k, *trans, threadCount(*threads))
		if err != nil {
			return err
		}
		return enc.Encode(map[string]any{"m": *m, "n": *n, "k": *k, "trans": r.Trans, "threads": r.Threads,
			"gflops": r.GFLOPS, "seconds_per_call": r.Seconds, "peak_gflops": r.Peak})
	}
	cfgPath := fs.String("config", "", "config.json `FILE`: random weights of that shape")
	dir := fs.String("model", "", "model `DIR`: its config's shape, random weights")
	var o bench.TrainOptions
	fs.IntVar(&o.Batch, "batch-size", 4, "sequences per step")
	fs.IntVar(&o.SeqLen, "seq-len", 256, "tokens per sequence")
	fs.IntVar(&o.Steps, "steps", 3, "timed steps (after one warm-up step)")
	fs.IntVar(&o.Rank, "rank", 8, "LoRA rank")
	fs.StringVar(&o.Targets, "targets", "q_proj,k_proj,v_proj,o_proj", "LoRA targets")
	method := fs.String("method", "lora", "full, lora or qlora (nf4, double-quantized)")
	var ckptFlag *bool
	fs.Var(optBool{&ckptFlag}, "grad-checkpoint", "recompute activations in backward (default: on for qlora, as golora train)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to `FILE` (go tool pprof)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	c, _, err := configFlag(*cfgPath, *dir)
	if err != nil {
		return err
	}
	o.Threads, o.Method = threadCount(*threads), mem.Method(*method)
	o.GradCheckpoint = checkpointing(ckptFlag, o.Method)
	if o.Steps <= 0 || o.Batch <= 0 || o.SeqLen < 2 {
		return fmt.Errorf("--steps, --batch-size must be positive and --seq-len at least 2")
	}
	m, a, err := bench.Setup(c, o)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r, err := bench.Train(c, m, a, o)
	if err != nil {
		return err
	}
	return enc.Encode(r)
}
