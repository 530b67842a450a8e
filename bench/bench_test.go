package bench

import (
	"math"
	"testing"

	"github.com/golora/golora/mem"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor/kernels"
)

// tinyConfig is a two-layer Llama of width 32.
func tinyConfig(t *testing.T) *model.Config {
	t.Helper()
	c, err := model.ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":50,"hidden_size":32,
		"intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2}`), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setupTrain runs Setup and Train for o.
func setupTrain(t *testing.T, c *model.Config, o TrainOptions) TrainResult {
	t.Helper()
	m, a, err := Setup(c, o)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Train(c, m, a, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTrainTiny(t *testing.T) {
	c := tinyConfig(t)
	for _, method := range []mem.Method{mem.Full, mem.LoRA, mem.QLoRA} {
		o := TrainOptions{Batch: 2, SeqLen: 8, Steps: 2, Rank: 4, Targets: "q_proj,v_proj", Threads: 1, Method: method}
		r := setupTrain(t, c, o)
		if r.Tokens != 16 || r.TokensPerSec <= 0 || r.GFLOPS <= 0 || r.PredictedBytes <= 0 || r.Loss <= 0 || r.Kernels != kernels.Active().String() {
			t.Errorf("%s: %+v", method, r)
		}
		// The theoretical peak is threads × the measured clock × the
		// kernel set's FLOP per cycle, and mfu_theoretical the rate over it.
		if peak := float64(r.Threads) * r.ClockGHz * float64(r.FLOPsPerCycle); r.ClockMethod == "" ||
			math.Abs(r.Theoretical.GFLOPS-peak) > 1e-9*peak || (peak > 0 && math.Abs(r.TheoreticalMFU-r.GFLOPS/peak) > 1e-9) {
			t.Errorf("%s: theoretical peak %+v, mfu_theoretical %g for %g GFLOP/s", method, r.Theoretical, r.TheoreticalMFU, r.GFLOPS)
		}
		wantTrainable := 2 * 4 * (32 + 32 + 32 + 16) // layers × rank × (in+out) of q and v
		if method == mem.Full {
			wantTrainable = r.Params
		}
		if r.Trainable != wantTrainable {
			t.Errorf("%s: %d trainable, want %d", method, r.Trainable, wantTrainable)
		}
	}
	full := StepFLOPs(c, TrainOptions{Batch: 1, SeqLen: 8, Method: mem.Full})
	lora := StepFLOPs(c, TrainOptions{Batch: 1, SeqLen: 8, Method: mem.LoRA, Rank: 4, Targets: "q_proj"})
	if !(lora < full) {
		t.Errorf("a LoRA step (%g FLOPs) should cost less than a full one (%g)", lora, full)
	}
	// LoRA work follows golora train's --targets syntax: 8·N·r·(in+out)
	// per adapted module (two products forward, four backward).
	frozen := StepFLOPs(c, TrainOptions{Batch: 1, SeqLen: 8, Method: mem.LoRA, Rank: 4, Targets: "lm_head"})
	for _, targets := range []string{"q_proj", `re:.*\.q_proj`, "self_attn.q_proj"} {
		got := StepFLOPs(c, TrainOptions{Batch: 1, SeqLen: 8, Method: mem.LoRA, Rank: 4, Targets: targets}) - frozen
		if want := float64(8 * 8 * 4 * (32 + 32) * 2); got != want {
			t.Errorf("targets %s: LoRA adds %g FLOPs, want %g", targets, got, want)
		}
	}
}

// TestTrainExamples: short random examples run one per row, padded to the
// longest, or packed into rows of --seq-len; both count real tokens only.
func TestTrainExamples(t *testing.T) {
	c := tinyConfig(t)
	exs := examples(c, TrainOptions{SeqLen: 64, ExampleLen: 8})
	longest, tokens := 0, 0
	for _, e := range exs {
		longest, tokens = max(longest, len(e.IDs)), tokens+len(e.IDs)
		if len(e.IDs) < 2 || len(e.IDs) > 64 {
			t.Fatalf("example of %d tokens", len(e.IDs))
		}
	}
	if len(exs) != Examples || tokens < 7*len(exs) || tokens > 9*len(exs) {
		t.Fatalf("%d examples, mean length %v", len(exs), float64(tokens)/float64(len(exs)))
	}
	for _, packing := range []bool{false, true} {
		o := TrainOptions{Batch: 2, SeqLen: 64, Steps: 2, Rank: 4, Targets: "q_proj,v_proj", Threads: 1, Method: mem.LoRA,
			ExampleLen: 8, Packing: packing}
		r := setupTrain(t, c, o)
		rowLen, minTokens, maxTokens := longest, 4, 2*longest
		if packing {
			rowLen, minTokens, maxTokens = 64, 64, 128
		}
		if r.RowLen != rowLen || r.Tokens < minTokens || r.Tokens > maxTokens || r.GFLOPS <= 0 || r.TokensPerSec <= 0 {
			t.Errorf("packing %v: %+v (longest example %d)", packing, r, longest)
		}
	}
}
