package lora

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/quant"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// doraRef is the DoRA fixture (testdata/ref/make_dora.py): adapter_init is
// a PEFT DoRA adapter (use_dora, lora_magnitude_vector) on every linear of
// a two-layer Llama, with PyTorch's logits, loss and gradients.
const doraRef = "../testdata/ref/dora_train"

// TestDoRAAdapterLogits loads the PEFT DoRA adapter and compares the
// logits with PyTorch's (relative error 1e-4).
func TestDoRAAdapterLogits(t *testing.T) {
	e := loadExpected(t, doraRef)
	m := loadBase(t, doraRef)
	a, err := Load(filepath.Join(doraRef, "adapter_init"), m, "default")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Config.DoRA || len(a.Modules) != 7*m.Cfg.NumLayers {
		t.Fatalf("use_dora %v, %d modules", a.Config.DoRA, len(a.Modules))
	}
	rel := relErr(t, logits(t, m, e.IDs), flat3(e.WithInit))
	if msg := relErrCheck(rel); msg != "" {
		t.Error(msg)
	}
	t.Logf("DoRA logits: relative error %.3g", rel)
}

// TestDoRAAdapterGrads: the loss and the gradients of A, B and the
// magnitudes equal PyTorch's (the weight norm detached, as PEFT does).
func TestDoRAAdapterGrads(t *testing.T) { testPEFTAdapterGrads(t, doraRef) }

// TestDoRAMergeEqualsAdapter: merged, W' = (m/‖W+s·B·A‖)·(W+s·B·A) gives
// the adapter's logits; unmerged, the base's.
func TestDoRAMergeEqualsAdapter(t *testing.T) {
	testMergeEqualsAdapterAndUnmergeRestores(t, doraRef)
}

// TestDoRASaveRoundTrip: a saved DoRA adapter has use_dora and PEFT's
// lora_magnitude_vector names, and loads back to the same logits bit for
// bit.
func TestDoRASaveRoundTrip(t *testing.T) {
	e := loadExpected(t, doraRef)
	m := loadBase(t, doraRef)
	a, err := Load(filepath.Join(doraRef, "adapter_init"), m, "default")
	if err != nil {
		t.Fatal(err)
	}
	want := logits(t, m, e.IDs)
	dir := t.TempDir()
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["use_dora"] != true {
		t.Errorf("saved use_dora %v, want true", cfg["use_dora"])
	}
	f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const key = "base_model.model.model.layers.1.mlp.down_proj.lora_magnitude_vector"
	if tt, ok := f.Tensor(key); !ok || !slices.Equal(tt.Shape, []int{m.Cfg.HiddenSize}) {
		t.Errorf("saved %s: %v (present %v), want shape [%d]", key, tt.Shape, ok, m.Cfg.HiddenSize)
	}
	if n := len(f.Names()); n != 3*7*m.Cfg.NumLayers {
		t.Errorf("%d saved tensors, want A, B and magnitude of %d modules", n, 7*m.Cfg.NumLayers)
	}
	m2 := loadBase(t, doraRef)
	if _, err := Load(dir, m2, "default"); err != nil {
		t.Fatal(err)
	}
	if got := logits(t, m2, e.IDs); !slices.Equal(got, want) {
		t.Error("the reloaded adapter's logits differ")
	}
}

// TestDoRADecodeEqualsForward: with a DoRA adapter, a prefill and then one
// token at a time through the KV cache give the logits of the whole
// sequence's forward pass.
func TestDoRADecodeEqualsForward(t *testing.T) {
	e := loadExpected(t, doraRef)
	m := loadBase(t, doraRef)
	if _, err := Load(filepath.Join(doraRef, "adapter_init"), m, "default"); err != nil {
		t.Fatal(err)
	}
	ids := e.IDs[0]
	want := logits(t, m, [][]int{ids})
	V := m.Cfg.VocabSize
	c := m.NewCache(len(ids))
	var got []float32
	const prompt = 4
	s := m.NewState(1, prompt, false)
	if err := m.Decode(s, c, ids[:prompt]); err != nil {
		t.Fatal(err)
	}
	got = append(got, s.Logits...)
	s = m.NewState(1, 1, false)
	for _, id := range ids[prompt:] {
		if err := m.Decode(s, c, []int{id}); err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Logits[:V]...)
	}
	var worst float64
	for i, w := range want {
		worst = math.Max(worst, math.Abs(float64(got[i]-w)))
	}
	if worst > 1e-5 {
		t.Errorf("decoded logits differ from the forward pass's by up to %.3g", worst)
	}
	t.Logf("decode vs forward: largest difference %.3g", worst)
}

// TestDoRASharesNoModule: a DoRA adapter is the only adapter of its
// modules; attaching another one there (or a DoRA one next to a plain
// one) is refused and attaches nothing.
func TestDoRASharesNoModule(t *testing.T) {
	m := loadBase(t, doraRef)
	if _, err := Load(filepath.Join(doraRef, "adapter_init"), m, "dora"); err != nil {
		t.Fatal(err)
	}
	for _, dora := range []bool{false, true} {
		cfg := &Config{R: 2, Alpha: 2, DoRA: dora, Targets: []string{"q_proj"}}
		if _, err := New(m, "second", cfg, 1); err == nil || !containsAll(err.Error(), `"second"`, `"dora"`, "DoRA") {
			t.Errorf("DoRA %v: error %v, want a refusal naming both adapters", dora, err)
		}
	}
	if _, err := Load(filepath.Join(doraRef, "adapter_init"), m, "again"); err == nil || !containsAll(err.Error(), doraRef, "DoRA") {
		t.Errorf("second load: error %v", err)
	}
	for _, lin := range m.Linears() {
		if len(lin.LoRA) != 1 {
			t.Fatalf("%s has %d adapters after the refusals", lin.Name, len(lin.LoRA))
		}
	}
}

// TestNewDoRAOn4Bit: a fresh DoRA adapter on a 4-bit (NF4) base starts
// with m = ‖W‖ of the dequantized rows and leaves the logits as they are.
func TestNewDoRAOn4Bit(t *testing.T) {
	e := loadExpected(t, doraRef)
	m := loadBase(t, doraRef)
	if err := m.Quantize(quant.NF4, true); err != nil {
		t.Fatal(err)
	}
	before := logits(t, m, e.IDs)
	a, err := New(m, "default", &Config{R: 4, Alpha: 8, DoRA: true, Targets: []string{"all-linear"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	after := logits(t, m, e.IDs)
	var worst float64
	for i := range before {
		worst = math.Max(worst, math.Abs(float64(after[i]-before[i])))
	}
	if worst > 1e-4 {
		t.Errorf("a fresh DoRA adapter changes the 4-bit model's logits by %.3g", worst)
	}
	lin := m.Layers[0].Down
	row := make([]float32, lin.In)
	lin.W.W.Row(3, row)
	var ss float64
	for _, v := range row {
		ss += float64(v) * float64(v)
	}
	if got := a.Modules[lin.Name].Magnitude.W.F32[3]; math.Abs(float64(got)-math.Sqrt(ss)) > 1e-5*math.Sqrt(ss) {
		t.Errorf("magnitude %g, want ‖W_3‖ = %g", got, math.Sqrt(ss))
	}
	if lin.W.W.DType != tensor.Q4 {
		t.Fatalf("down_proj is %v after attaching", lin.W.W.DType)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
