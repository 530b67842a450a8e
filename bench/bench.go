// Package bench measures golora: the GEMM alone and whole training steps,
// in GFLOP/s, tokens/s, model FLOP utilisation (MFU) against the machine's
// float32 peak, and peak resident memory.
package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/golora/golora/data"
	"github.com/golora/golora/gguf"
	"github.com/golora/golora/internal/rss"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
	"github.com/golora/golora/quant"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tensor/kernels"
	"github.com/golora/golora/train"
)

// PeakGFLOPS is the float32 peak of threads cores: the active GEMM
// micro-kernel's measured rate on cache-resident data (tensor.KernelGFLOPS,
// a quarter of a second, measured once) times threads. It is what the
// machine can reach, not a clock-times-width figure: a VM's /proc/cpuinfo
// often reports the base clock.
func PeakGFLOPS(threads int) float64 {
	return float64(threads) * corePeak()
}

var corePeak = sync.OnceValue(func() float64 { return tensor.KernelGFLOPS(250 * time.Millisecond) })

// Theoretical is the float32 peak of threads cores from their clock:
// threads × ClockGHz × FLOPsPerCycle, the clock measured on that many busy
// cores (tensor.MeasureClock, a quarter of a second), FLOP per cycle that
// of the active kernel set (tensor.PeakFLOPsPerCycle). GFLOPS is 0 where
// either is unknown.
type Theoretical struct {
	ClockGHz      float64 `json:"clock_ghz"`
	ClockMethod   string  `json:"clock_method"`
	FLOPsPerCycle int     `json:"flops_per_cycle"`
	GFLOPS        float64 `json:"theoretical_peak_gflops"`
}

// TheoreticalPeak measures the clock of threads cores and returns their
// theoretical peak. Called right after a timed run, the cores are still
// at the clock that work ran at.
func TheoreticalPeak(threads int) Theoretical {
	c := tensor.MeasureClock(250*time.Millisecond, threads)
	f := tensor.PeakFLOPsPerCycle()
	return Theoretical{ClockGHz: c.GHz, ClockMethod: c.Method, FLOPsPerCycle: f, GFLOPS: float64(threads) * c.GHz * float64(f)}
}

// fraction is part/whole, 0 when whole is 0.
func fraction(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return part / whole
}

// GemmResult is one GEMM measurement.
type GemmResult struct {
	M, N, K int     `json:"-"`
	Trans   string  `json:"trans"`
	Threads int     `json:"threads"`
	Seconds float64 `json:"seconds_per_call"`
	GFLOPS  float64 `json:"gflops"`
	// CPUGFLOPS is the rate over the processor time the process used
	// divided by threads (getrusage; 0 where it is not read): GFLOPS on an
	// idle machine, and on a shared one without the time the threads
	// waited for a core. Waiting that spins counts as work.
	CPUGFLOPS float64 `json:"cpu_gflops"`
	Peak      float64 `json:"peak_gflops"` // PeakGFLOPS
	Theoretical
	FractionOfTheoretical float64 `json:"fraction_of_theoretical"` // GFLOPS / Theoretical.GFLOPS
	Kernels               string  `json:"kernels"`                 // the kernel set that ran (package kernels)
}

// Gemm times C = op(A)·op(B) for trans "nn", "nt", "tn" or "tt" over about
// a second.
func Gemm(m, n, k int, trans string, threads int) (GemmResult, error) {
	if len(trans) != 2 || strings.Trim(trans, "nt") != "" {
		return GemmResult{}, fmt.Errorf("--trans %q: want nn, nt, tn or tt", trans)
	}
	if m <= 0 || n <= 0 || k <= 0 {
		return GemmResult{}, fmt.Errorf("m, n and k must be positive")
	}
	tensor.SetThreads(threads)
	ta, tb := trans[0] == 't', trans[1] == 't'
	r := rand.New(rand.NewPCG(1, 1))
	mat := func(rows, cols int) tensor.Mat {
		d := make([]float32, rows*cols)
		for i := range d {
			d[i] = r.Float32() - 0.5
		}
		return tensor.FromF32(d, rows, cols)
	}
	a, b := mat(m, k), mat(k, n)
	if ta {
		a = mat(k, m)
	}
	if tb {
		b = mat(n, k)
	}
	c := make([]float32, m*n)
	tensor.Gemm(ta, tb, 1, a, b, 0, c, n) // warm up
	calls := 0
	start, cpu0 := time.Now(), cpuSeconds()
	for time.Since(start) < time.Second || calls < 3 {
		tensor.Gemm(ta, tb, 1, a, b, 0, c, n)
		calls++
	}
	sec := time.Since(start).Seconds() / float64(calls)
	cpu := (cpuSeconds() - cpu0) / float64(calls) / float64(tensor.Threads())
	flops := 2 * float64(m) * float64(n) * float64(k)
	res := GemmResult{M: m, N: n, K: k, Trans: trans, Threads: tensor.Threads(), Seconds: sec,
		GFLOPS: flops / sec / 1e9, CPUGFLOPS: fraction(flops/1e9, cpu), Theoretical: TheoreticalPeak(tensor.Threads()),
		Peak: PeakGFLOPS(tensor.Threads()), Kernels: kernels.Active().String()}
	res.FractionOfTheoretical = fraction(res.GFLOPS, res.Theoretical.GFLOPS)
	return res, nil
}

// TrainOptions describe a training-step measurement.
type TrainOptions struct {
	Batch, SeqLen, Steps int
	Rank                 int
	Targets              string
	Threads              int
	Method               mem.Method // full, lora or qlora
	GradCheckpoint       bool
	// DType holds the random base in float32, bfloat16 or float16, as a
	// checkpoint stored in it is held (lora and full; qlora's non-4-bit
	// weights are float32).
	DType tensor.DType
	// ExampleLen, when > 0, trains on Examples random examples of about
	// that many tokens instead of Batch sequences of SeqLen: their lengths
	// are drawn from an exponential distribution of mean ExampleLen,
	// rounded and kept within [2, SeqLen] (many short examples, a long
	// tail, as chat data has). Unpacked, every row holds one example padded
	// to the longest (golora train's rule); with Packing, Batch rows of
	// SeqLen tokens hold as many as fit. Tokens counts real tokens only.
	ExampleLen int
	Packing    bool
	// GGML, when not empty, names a ggml type ("q4_k") the random base's
	// matrices are held in, as golora holds a GGUF of that type
	// (model.NewRandomGGML; lora only).
	GGML string
}

// Examples is how many examples a run with TrainOptions.ExampleLen draws
// from (its longest is the unpacked rows' length).
const Examples = 2048

// TrainResult is what `golora bench train` prints.
type TrainResult struct {
	Method       string  `json:"method"`
	Params       int     `json:"params"`
	Trainable    int     `json:"trainable_params"`
	Tokens       int     `json:"tokens_per_step"` // real (unpadded) tokens, the mean over the timed steps
	RowLen       int     `json:"row_len"`         // tokens per row, padding included
	StepSeconds  float64 `json:"step_seconds"`
	TokensPerSec float64 `json:"tokens_per_sec"`
	GFLOPS       float64 `json:"gflops"`
	PeakGFLOPS   float64 `json:"peak_gflops"`
	MFU          float64 `json:"mfu"` // GFLOPS / PeakGFLOPS
	Theoretical
	TheoreticalMFU float64 `json:"mfu_theoretical"` // GFLOPS / Theoretical.GFLOPS
	PeakRSS        int64   `json:"peak_rss_bytes"`
	PredictedBytes int64   `json:"predicted_bytes"`
	Threads        int     `json:"threads"`
	DType          string  `json:"dtype"`   // the base's storage type
	Kernels        string  `json:"kernels"` // the kernel set that ran (package kernels)
	Loss           float64 `json:"final_loss"`
}

// Train measures optimizer steps of train.Run (forward, loss, backward,
// clipping, AdamW; lr 1e-4 constant, no dropout) on m and the adapter a
// (nil for full fine-tuning), as Setup prepares them, over one batch of
// random token ids, or random examples (TrainOptions.ExampleLen). With
// examples, GFLOPS and MFU count the model's work on the real tokens
// (exampleFLOPs): what padding costs shows as a lower MFU.
func Train(c *model.Config, m *model.Model, a *lora.Adapter, o TrainOptions) (TrainResult, error) {
	res := TrainResult{Method: string(o.Method), Threads: tensor.Threads(), DType: o.DType.String(), Kernels: kernels.Active().String(), Params: m.NumParams()}
	if o.GGML != "" {
		res.DType = o.GGML
	}
	opt := train.Defaults()
	ckpt := o.GradCheckpoint
	opt.GradCheckpoint = &ckpt
	opt.BatchSize, opt.Steps, opt.LR, opt.Schedule, opt.Shuffle = o.Batch, o.Steps+1, 1e-4, "constant", false
	opt.Packing = o.Packing
	exs := examples(c, o)
	run := &train.Run{Config: opt, Model: m, Adapter: a, Full: o.Method == mem.Full, Train: exs, PackLen: o.SeqLen}
	if err := run.Prepare(); err != nil {
		return res, err
	}
	res.RowLen = run.T
	res.Trainable = run.TrainableParams()
	if _, err := run.Step(0); err != nil { // warm up: first-touch of every buffer
		return res, err
	}
	start := time.Now()
	tokens := 0
	for k := 1; k <= o.Steps; k++ {
		st, err := run.Step(k)
		if err != nil {
			return res, err
		}
		res.Loss = st.Loss
		tokens += st.Tokens
	}
	res.StepSeconds = time.Since(start).Seconds() / float64(o.Steps)
	res.Tokens = tokens / o.Steps
	res.TokensPerSec = float64(tokens) / float64(o.Steps) / res.StepSeconds
	flops := StepFLOPs(c, o)
	if o.ExampleLen > 0 {
		flops = float64(tokens) / float64(o.Steps) * exampleFLOPs(c, o, exs)
	}
	res.GFLOPS = flops / res.StepSeconds / 1e9
	res.Theoretical = TheoreticalPeak(res.Threads)
	res.TheoreticalMFU = fraction(res.GFLOPS, res.Theoretical.GFLOPS)
	res.PeakGFLOPS = PeakGFLOPS(res.Threads)
	res.MFU = res.GFLOPS / res.PeakGFLOPS
	res.PeakRSS = rss.Peak()
	pred, err := mem.Predict(c, mem.Options{Method: o.Method, DTypeSize: o.DType.Size(), Rank: o.Rank, Targets: o.Targets,
		Batch: o.Batch, SeqLen: run.T, Threads: tensor.Threads(), DoubleQuant: true, GradCheckpoint: o.GradCheckpoint})
	if o.GGML != "" {
		pred.HoldBase(mem.Base(m))
	}
	if err == nil {
		res.PredictedBytes = pred.TotalBytes
	}
	return res, nil
}

// examples are Batch random sequences of SeqLen tokens or, with
// ExampleLen, Examples of random lengths (TrainOptions.ExampleLen).
func examples(c *model.Config, o TrainOptions) []data.Example {
	r := rand.New(rand.NewPCG(2, 2))
	lens := make([]int, o.Batch)
	for i := range lens {
		lens[i] = o.SeqLen
	}
	if o.ExampleLen > 0 {
		lens = make([]int, Examples)
		for i := range lens {
			lens[i] = min(max(int(math.Round(r.ExpFloat64()*float64(o.ExampleLen))), 2), o.SeqLen)
		}
	}
	exs := make([]data.Example, len(lens))
	for b, n := range lens {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = r.IntN(c.VocabSize)
		}
		exs[b] = data.Example{IDs: ids, Labels: ids}
	}
	return exs
}

// Setup builds a random model of config c ready for the method: weights in
// o.DType, or 4-bit linears drawn one at a time for qlora, with a fresh
// adapter on the targets unless the method is full.
func Setup(c *model.Config, o TrainOptions) (*model.Model, *lora.Adapter, error) {
	tensor.SetThreads(o.Threads)
	var m *model.Model
	var err error
	if o.GGML != "" {
		t, ok := gguf.ParseType(o.GGML)
		if !ok {
			return nil, nil, fmt.Errorf("bench: unknown ggml type %q", o.GGML)
		}
		m, err = model.NewRandomGGML(c, 0.02, 1, t)
	} else if o.Method == mem.QLoRA {
		m, err = model.NewRandomQuantized(c, 0.02, 1, quant.NF4, true)
	} else if o.DType != tensor.F32 {
		m = model.NewRandomDType(c, 0.02, 1, o.DType)
	} else {
		m = model.NewRandom(c, 0.02, 1)
	}
	if err != nil || o.Method == mem.Full {
		return m, nil, err
	}
	a, err := lora.New(m, "bench", loraConfig(o), 1)
	return m, a, err
}

// loraConfig is the adapter Setup attaches: rank o.Rank on o.Targets
// (the syntax of golora train --targets), alpha 2·rank, gaussian A.
func loraConfig(o TrainOptions) *lora.Config {
	cfg := &lora.Config{R: o.Rank, Alpha: float64(2 * o.Rank), Init: "gaussian"}
	cfg.ParseTargets(o.Targets)
	return cfg
}

// StepFLOPs counts the floating-point operations of one training step as
// computed: every linear's forward (2·N·in·out, the output head included),
// the input gradient of every linear, weight gradients for trainable
// weights (full: all; LoRA: only the low-rank factors, whose products are
// counted too), and attention's products (forward QKᵀ and PV, backward the
// recomputed QKᵀ, dV, dP, dQ, dK) over the scores it computes
// (Config.AttentionScores). What gradient checkpointing recomputes is not
// counted: MFU counts the model's work, not the recomputation. Targets
// that select no module (which Setup refuses) count no LoRA work.
func StepFLOPs(c *model.Config, o TrainOptions) float64 {
	return float64(o.Batch*o.SeqLen)*tokenFLOPs(c, o) + float64(o.Batch)*attentionFLOPs(c, o.SeqLen)
}

// exampleFLOPs is the model's work per real token of training on exs
// (StepFLOPs' count for each example alone, summed, over their tokens):
// padding, computed or not, does not count.
func exampleFLOPs(c *model.Config, o TrainOptions, exs []data.Example) float64 {
	var flops, tokens float64
	for _, e := range exs {
		n := len(e.IDs)
		flops += float64(n)*tokenFLOPs(c, o) + attentionFLOPs(c, n)
		tokens += float64(n)
	}
	return flops / tokens
}

// attentionFLOPs is StepFLOPs' attention count for one sequence of T
// tokens.
func attentionFLOPs(c *model.Config, T int) float64 {
	return float64(c.NumHeads) * 2 * float64(c.AttentionScores(T)) * float64(c.HeadDim) * 7 // scores: all layers
}

// tokenFLOPs is StepFLOPs' count per token but attention's.
func tokenFLOPs(c *model.Config, o TrainOptions) float64 {
	C, V := float64(c.HiddenSize), float64(c.VocabSize)
	var linear, adapters float64
	for _, s := range c.LayerLinears() {
		linear += float64(s.In) * float64(s.Out)
	}
	L := float64(c.NumLayers)
	linear *= L
	if o.Method != mem.Full {
		specs, _ := lora.ConfigTargets(c, loraConfig(o))
		for _, s := range specs {
			adapters += float64(o.Rank) * float64(s.In+s.Out)
		}
	}
	head := C * V
	fwd := 2 * (linear + head)
	bwdX := 2 * (linear + head)
	var bwdW float64
	if o.Method == mem.Full {
		bwdW = 2 * (linear + head)
	}
	loraFLOPs := 2 * adapters * 4 // forward (two products) and backward (dxa, dB, dA, dx)
	return fwd + bwdX + bwdW + loraFLOPs
}
