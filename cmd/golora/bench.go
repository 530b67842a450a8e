package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/golora/golora/bench"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tensor/kernels"
)

func init() {
	register(&cli.Command{Name: "bench", Summary: "measure the GEMM (bench gemm), training steps (bench train) or serving (bench serve)", Subcommands: []*cli.Command{
		{Name: "gemm", Summary: "GFLOP/s of the matrix product C = op(A)·op(B)", Run: runBenchGemm,
			Usage: "bench gemm [--m N --n N --k N] [--trans nn|nt|tn|tt] [--threads N] [--kernels SET]",
			Doc: "Times the GEMM that every product of golora goes through, C = op(A)·op(B) with op(A) m×k and op(B) k×n, and prints one JSON object with its GFLOP/s, the machine's peak as the micro-kernel measures it (peak_gflops), " +
				"and the theoretical peak: the clock measured on the busy cores right after the run (clock_ghz, and how: clock_method) " +
				"× the kernel set's FLOP per cycle × threads, with the fraction of it reached."},
		{Name: "train", Summary: "tokens/s, GFLOP/s and peak RSS of training steps on random weights", Run: runBenchTrain,
			Usage: "bench train (--model-config FILE | --model DIR) [--method full|lora|qlora] [flags]",
			Doc: "Times training steps of a model of the shape a config.json gives, with random weights, after one warm-up step, " +
				"and prints one JSON object: tokens/s, GFLOP/s, model FLOP utilisation against the micro-kernel's measured peak (mfu) " +
				"and against the theoretical peak from the measured clock (mfu_theoretical, with clock_ghz and clock_method), peak RSS and the predicted memory. " +
				"Rank, targets, batch size, sequence length and gradient checkpointing default to what golora train runs. " +
				"With --example-len the steps train on short random examples, unpacked or --packing, and tokens/s counts real (non-pad) tokens."},
		{Name: "serve", Summary: "aggregate tokens/s of the serve scheduler per client count, one adapter and mixed", Run: runBenchServe,
			Usage: "bench serve (--model-config FILE | --model DIR) [--clients 1,4,16] [--requests R] [--adapters N] [--max-tokens T]",
			Doc: "Decodes greedily with golora serve's scheduler (no HTTP) on a model of the shape a config.json gives, with random weights " +
				"and N random rank-8 adapters on every linear module, after one warm-up round, and prints one JSON object: for each client count, " +
				"the aggregate tokens/s with every stream on the base model, on one adapter and with the streams spread over the adapters, their ratio, " +
				"the one-adapter speed over the first client count's, and the one-adapter requests/s with the time to first token and between tokens at p50 and p99; " +
				"then the peak resident memory."},
	}})
}

// benchPerfFlags defines bench's --threads and --kernels flags; call the
// function it returns after parsing to apply --kernels.
func benchPerfFlags(fs *cli.FlagSet) (*int, func() error) {
	fs.Group("Performance")
	threads := fs.Int("threads", 0, "threads (0: all cores, or $GOLORA_THREADS)")
	set := fs.String("kernels", "", "kernel `SET` avx512, avx2 or go (default: $GOLORA_KERNELS, else the best the CPU runs)")
	return threads, func() error {
		if *set == "" {
			return nil
		}
		s, err := kernels.Parse(*set)
		if err == nil {
			err = kernels.Use(s)
		}
		if err != nil {
			return cli.Usagef("--kernels: %v", err)
		}
		return nil
	}
}

func runBenchGemm(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Shape")
	m := fs.Int("m", 1024, "rows of C")
	n := fs.Int("n", 1536, "columns of C")
	k := fs.Int("k", 576, "inner dimension")
	trans := fs.String("trans", "nn", "`OPS` nn, nt, tn or tt: whether A and B are transposed")
	threads, useKernels := benchPerfFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := useKernels(); err != nil {
		return err
	}
	r, err := bench.Gemm(*m, *n, *k, *trans, threadCount(*threads))
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]any{"m": *m, "n": *n, "k": *k, "trans": r.Trans, "threads": r.Threads,
		"gflops": r.GFLOPS, "cpu_gflops": r.CPUGFLOPS, "seconds_per_call": r.Seconds, "peak_gflops": r.Peak, "kernels": r.Kernels,
		"clock_ghz": r.ClockGHz, "clock_method": r.ClockMethod, "flops_per_cycle": r.FLOPsPerCycle,
		"theoretical_peak_gflops": r.Theoretical.GFLOPS, "fraction_of_theoretical": r.FractionOfTheoretical})
}

func runBenchTrain(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	cfgPath, dir := modelConfigFlags(fs)
	dtype := dtypeFlag(fs)
	var o bench.TrainOptions
	fs.Group("Method")
	method := fs.String("method", "lora", "fine-tuning `METHOD`: full, lora or qlora (nf4, double-quantized)")
	fs.StringVar(&o.GGML, "ggml", "", "lora: hold the base's matrices in ggml `TYPE` (q4_k, q8_0, ...) as a GGUF of that type is held")
	runFlags(fs, &o.Rank, &o.Targets, &o.Batch, &o.SeqLen)
	fs.IntVar(&o.ExampleLen, "example-len", 0, fmt.Sprintf("train on %d random examples of about `MEAN` tokens (exponentially distributed, at most --seq-len), one per row padded to the longest, instead of --batch-size sequences of --seq-len", bench.Examples))
	fs.BoolVar(&o.Packing, "packing", false, "with --example-len: pack the examples into --batch-size rows of --seq-len tokens, as golora train --packing")
	fs.Group("Measurement")
	fs.IntVar(&o.Steps, "steps", 3, "timed steps (after one warm-up step)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to `FILE` (go tool pprof)")
	threads, useKernels := benchPerfFlags(fs)
	var ckptFlag *bool
	fs.OptBoolVar(&ckptFlag, "grad-checkpoint", "recompute activations in backward (default: on for qlora, as golora train)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := useKernels(); err != nil {
		return err
	}
	c, _, err := configFlag(*cfgPath, *dir)
	if err != nil {
		return err
	}
	o.Threads, o.Method = threadCount(*threads), mem.Method(*method)
	if o.DType, err = parseDType(*dtype); err != nil {
		return err
	}
	if o.DType != tensor.F32 && o.Method == mem.QLoRA {
		return cli.Usagef("--dtype %s: qlora's random base is float32 outside its 4-bit linears; --dtype applies to lora and full", *dtype)
	}
	if o.GGML != "" && (o.Method != mem.LoRA || o.DType != tensor.F32) {
		return cli.Usagef("--ggml applies to lora on a float32 --dtype: the ggml type is the base's dtype")
	}
	o.GradCheckpoint = checkpointing(ckptFlag, o.Method == mem.QLoRA || o.GGML != "")
	if o.Steps <= 0 || o.Batch <= 0 || o.SeqLen < 2 || o.ExampleLen < 0 {
		return fmt.Errorf("--steps, --batch-size must be positive, --seq-len at least 2 and --example-len not negative")
	}
	if o.Packing && o.ExampleLen == 0 {
		return cli.Usagef("--packing packs examples of --example-len tokens")
	}
	m, a, err := bench.Setup(c, o)
	if err != nil {
		return err
	}
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	r, err := bench.Train(c, m, a, o)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(r)
}

// startCPUProfile starts a CPU profile into the file path (none when path
// is empty) and returns the function that ends it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
