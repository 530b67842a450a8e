package lora

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/internal/testref"
	"github.com/golora/golora/model"
	"github.com/golora/golora/safetensors"
)

// testdata/ref/lora_train holds a base model, two adapters in PEFT's layout
// and logits computed by an independent PyTorch implementation;
// qwen3_lora_train holds the same for a Qwen3 model (q/k head norms, the
// adapters on q_proj, k_proj and v_proj), gpt2_lora_train for GPT-2 (its
// Conv1D c_attn and c_fc, fan_in_fan_out), gemma2_lora_train for Gemma 2
// (soft-capped, its (1 + w) norms).
const ref = "../testdata/ref/lora_train"

// refs are the fixtures of the tests that run on each.
var refs = []string{ref, "../testdata/ref/qwen3_lora_train", "../testdata/ref/gpt2_lora_train", "../testdata/ref/gemma2_lora_train", "../testdata/ref/phi3_lora_train"}

// forEachRef runs f on each fixture directory of refs as a subtest.
func forEachRef(t *testing.T, f func(t *testing.T, dir string)) {
	for _, dir := range refs {
		t.Run(filepath.Base(dir), func(t *testing.T) { f(t, dir) })
	}
}

type expected struct {
	IDs          [][]int        `json:"ids"`
	Labels       [][]int        `json:"labels"`
	Base         [][][]float64  `json:"logits_base"`
	WithInit     [][][]float64  `json:"logits_with_adapter_init"`
	WithRSLoRABF [][][]float64  `json:"logits_with_adapter_rslora"`
	LossInit     float64        `json:"loss_with_adapter_init"`
	GradsInit    map[string]any `json:"grads_init"` // by PEFT key
}

func loadExpected(t *testing.T, dir string) expected {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func loadBase(t *testing.T, dir string) *model.Model {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func logits(t *testing.T, m *model.Model, ids [][]int) []float32 {
	t.Helper()
	s := m.NewState(len(ids), len(ids[0]), false)
	var flat []int
	for _, r := range ids {
		flat = append(flat, r...)
	}
	if err := m.Forward(s, flat); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(s.Logits)
}

// relErr is max|got−want| / max|want|. Slices of different lengths fail
// the test.
func relErr(t *testing.T, got []float32, want []float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, reference has %d", len(got), len(want))
	}
	var num, den float64
	for i, w := range want {
		num = math.Max(num, math.Abs(float64(got[i])-w))
		den = math.Max(den, math.Abs(w))
	}
	return num / den
}

// flat3 flattens [B][T][V] logits row-major.
func flat3(x [][][]float64) []float64 {
	var out []float64
	for _, a := range x {
		out = append(out, slices.Concat(a...)...)
	}
	return out
}

func TestPEFTAdapterLogits(t *testing.T) { forEachRef(t, testPEFTAdapterLogits) }

func testPEFTAdapterLogits(t *testing.T, ref string) {
	e := loadExpected(t, ref)
	for _, tc := range []struct {
		dir  string
		want [][][]float64
	}{
		{"adapter_init", e.WithInit},
		{"adapter_rslora_bf16", e.WithRSLoRABF},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			m := loadBase(t, ref)
			if err := relErrCheck(relErr(t, logits(t, m, e.IDs), flat3(e.Base))); err != "" {
				t.Fatal("base " + err)
			}
			if _, err := Load(filepath.Join(ref, tc.dir), m, "default"); err != nil {
				t.Fatal(err)
			}
			if err := relErrCheck(relErr(t, logits(t, m, e.IDs), flat3(tc.want))); err != "" {
				t.Error("with adapter " + err)
			}
		})
	}
}

// relErrCheck describes a relative error above the 1e-4 criterion, or "".
func relErrCheck(e float64) string {
	if e > 1e-4 {
		return fmt.Sprintf("logits: relative error %.3g > 1e-4", e)
	}
	return ""
}

// TestPEFTAdapterGrads compares the gradients of the masked mean loss with
// respect to adapter_init's A and B (base frozen, no clipping) with the
// reference's grads_init, and the loss with loss_with_adapter_init. The
// loss is Σ CE over the targets labels[b][t+1] ≠ -100, divided by their
// count (10 in the fixture).
func TestPEFTAdapterGrads(t *testing.T) { forEachRef(t, testPEFTAdapterGrads) }

func testPEFTAdapterGrads(t *testing.T, ref string) {
	e := loadExpected(t, ref)
	if len(e.GradsInit) == 0 {
		t.Fatal("fixture has no grads_init")
	}
	m := loadBase(t, ref)
	a, err := Load(filepath.Join(ref, "adapter_init"), m, "default")
	if err != nil {
		t.Fatal(err)
	}
	a.SetTrainable(true)
	ids, labels := slices.Concat(e.IDs...), slices.Concat(e.Labels...)
	B, T := len(e.IDs), len(e.IDs[0])
	targets := 0
	for b := range B {
		for _, l := range e.Labels[b][1:] {
			if l != model.IgnoreIndex {
				targets++
			}
		}
	}
	s := m.NewState(B, T, true)
	if err := m.Forward(s, ids); err != nil {
		t.Fatal(err)
	}
	sum, count, err := m.Loss(s, labels, float32(targets))
	if err != nil {
		t.Fatal(err)
	}
	if count != targets {
		t.Fatalf("loss counted %d targets, want %d", count, targets)
	}
	if loss := sum / float64(count); math.Abs(loss-e.LossInit) > 1e-4*e.LossInit {
		t.Errorf("loss %.7g, reference %.7g", loss, e.LossInit)
	}
	m.Backward(s)
	params := a.Params()
	if len(params) != len(e.GradsInit) {
		t.Fatalf("%d adapter tensors, reference has gradients of %d", len(params), len(e.GradsInit))
	}
	worst := 0.0
	for _, p := range params {
		want, ok := e.GradsInit[p.Name]
		if !ok {
			t.Fatalf("reference has no gradient for %s", p.Name)
		}
		err := relErr(t, p.Grad, testref.Flat(want))
		if err > 1e-4 {
			t.Errorf("%s: gradient relative error %.3g > 1e-4", p.Name, err)
		}
		worst = math.Max(worst, err)
	}
	t.Logf("gradients of %d tensors: largest relative error %.3g", len(params), worst)
}

func TestSaveRoundTripKeepsPEFTNames(t *testing.T) {
	m := loadBase(t, ref)
	a, err := Load(filepath.Join(ref, "adapter_rslora_bf16"), m, "default")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	orig, err := safetensors.Open(filepath.Join(ref, "adapter_rslora_bf16", WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	saved, err := safetensors.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer saved.Close()
	if !slices.Equal(orig.Names(), saved.Names()) {
		t.Fatalf("saved names differ from PEFT's:\n%v\n%v", saved.Names(), orig.Names())
	}
	for _, n := range orig.Names() {
		o, _ := orig.Tensor(n)
		s, _ := saved.Tensor(n)
		if !slices.Equal(o.Shape, s.Shape) {
			t.Errorf("%s: shape %v, PEFT wrote %v", n, s.Shape, o.Shape)
		}
	}
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.R != 8 || cfg.Alpha != 16 || !cfg.RSLoRA || len(cfg.Targets) != 4 {
		t.Errorf("config after round trip: %+v", cfg)
	}
	// Reloaded, the adapter computes the same logits.
	m2 := loadBase(t, ref)
	if _, err := Load(dir, m2, "default"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(logits(t, m, [][]int{{1, 2, 3}}), logits(t, m2, [][]int{{1, 2, 3}})) {
		t.Error("reloaded adapter gives different logits")
	}
}

func TestMergeEqualsAdapterAndUnmergeRestores(t *testing.T) {
	forEachRef(t, testMergeEqualsAdapterAndUnmergeRestores)
}

func testMergeEqualsAdapterAndUnmergeRestores(t *testing.T, ref string) {
	e := loadExpected(t, ref)
	m := loadBase(t, ref)
	a, err := Load(filepath.Join(ref, "adapter_init"), m, "default")
	if err != nil {
		t.Fatal(err)
	}
	a.Merge(m, 1)
	for _, lin := range m.Linears() {
		for _, l := range lin.LoRA {
			if !l.Disabled {
				t.Fatalf("%s: adapter still active after merge", lin.Name)
			}
		}
	}
	if msg := relErrCheck(relErr(t, logits(t, m, e.IDs), flat3(e.WithInit))); msg != "" {
		t.Error("merged " + msg)
	}
	a.Unmerge(m, 1)
	a.SetEnabled(false)
	if msg := relErrCheck(relErr(t, logits(t, m, e.IDs), flat3(e.Base))); msg != "" {
		t.Error("unmerged " + msg)
	}
}

func TestNewAdapterStartsAsIdentity(t *testing.T) {
	m := loadBase(t, ref)
	before := logits(t, m, [][]int{{5, 6, 7, 8}})
	for _, init := range []string{"default", "gaussian"} {
		cfg := &Config{R: 4, Alpha: 8, Init: init, Targets: []string{"all-linear"}}
		a, err := New(m, init, cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(a.Modules); got != 7*m.Cfg.NumLayers {
			t.Errorf("all-linear: %d modules, want %d", got, 7*m.Cfg.NumLayers)
		}
		for name, l := range a.Modules {
			bound := 1 / math.Sqrt(float64(l.A.W.Cols))
			if init == "gaussian" {
				bound = 6.0 / float64(cfg.R) // six standard deviations
			}
			for _, v := range l.A.W.F32 {
				if math.Abs(float64(v)) > bound {
					t.Fatalf("%s %s: A entry %g outside ±%g", init, name, v, bound)
				}
			}
			for _, v := range l.B.W.F32 {
				if v != 0 {
					t.Fatalf("%s: B not zero", name)
				}
			}
		}
		if !slices.Equal(before, logits(t, m, [][]int{{5, 6, 7, 8}})) {
			t.Errorf("%s: a fresh adapter changed the logits", init)
		}
		a.Detach(m)
	}
}

func TestTargets(t *testing.T) {
	m := loadBase(t, ref) // 2 layers
	qwen3, gpt2 := loadBase(t, refs[1]), loadBase(t, refs[2])
	for _, tc := range []struct {
		m       *model.Model
		targets string
		layers  []int
		want    int
	}{
		{m, "q_proj,v_proj", nil, 4},
		{m, "all-linear", nil, 14},
		{m, "re:.*\\.(q|k)_proj", nil, 4},
		{m, "re:model\\.layers\\.1\\.mlp\\..*", nil, 3},
		{m, "mlp.down_proj", nil, 2},
		{m, "q_proj", []int{1}, 1},
		{qwen3, "all-linear", nil, 14}, // q_norm and k_norm are not linear
		{gpt2, "all-linear", nil, 8},   // c_attn, attn.c_proj, c_fc, mlp.c_proj
		{gpt2, "c_proj", nil, 4},       // both c_proj of each layer, as PEFT matches suffixes
		{gpt2, "c_attn", []int{1}, 1},  // GPT-2's layers are h.N
	} {
		m := tc.m
		cfg := &Config{R: 2, Alpha: 2, Layers: tc.layers}
		cfg.ParseTargets(tc.targets)
		lins, err := Targets(m, cfg)
		if err != nil {
			t.Errorf("%s: %v", tc.targets, err)
			continue
		}
		if len(lins) != tc.want {
			t.Errorf("%s %v: %d modules, want %d", tc.targets, tc.layers, len(lins), tc.want)
		}
		// The same selection from the config alone, in the same order.
		specs, err := ConfigTargets(m.Cfg, cfg)
		if err != nil {
			t.Errorf("%s: ConfigTargets: %v", tc.targets, err)
			continue
		}
		if len(specs) != len(lins) {
			t.Errorf("%s %v: ConfigTargets selects %d modules, Targets %d", tc.targets, tc.layers, len(specs), len(lins))
			continue
		}
		for i, s := range specs {
			if l := lins[i]; !strings.HasSuffix(l.Name, "."+s.Name) || s.In != l.In || s.Out != l.Out {
				t.Errorf("%s: module %d is %s %d→%d from the config, %s %d→%d in the model", tc.targets, i, s.Name, s.In, s.Out, l.Name, l.In, l.Out)
			}
		}
	}
	cfg := &Config{R: 2, Alpha: 2}
	cfg.ParseTargets("qkv_proj")
	_, err := Targets(m, cfg)
	if err == nil || !strings.Contains(err.Error(), "q_proj") || !strings.Contains(err.Error(), "qkv_proj") {
		t.Errorf("a target matching nothing should list the model's modules, got %v", err)
	}
	if _, err2 := ConfigTargets(m.Cfg, cfg); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("ConfigTargets of a target matching nothing: %v, want Targets' %v", err2, err)
	}
	cfg.ParseTargets("lm_head")
	if _, err := Targets(m, cfg); err == nil {
		t.Error("lm_head must not be a LoRA target")
	}
}

// writeAdapter writes an adapter directory with the given tensors and config.
func writeAdapter(t *testing.T, cfg string, ts []safetensors.Tensor) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadRefusesAdaptersThatDoNotFit(t *testing.T) {
	const cfg = `{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["q_proj"]}`
	q := "base_model.model.model.layers.0.self_attn.q_proj"
	A := func(name string, rows, cols int) safetensors.Tensor {
		return safetensors.FromF32(name, []int{rows, cols}, make([]float32, rows*cols))
	}
	for _, tc := range []struct {
		name, cfg, want string
		ts              []safetensors.Tensor
	}{
		{"wrong A shape", cfg, "model.layers.0.self_attn.q_proj", []safetensors.Tensor{A(q+".lora_A.weight", 2, 31), A(q+".lora_B.weight", 32, 2)}},
		{"wrong rank", cfg, "shape", []safetensors.Tensor{A(q+".lora_A.weight", 3, 32), A(q+".lora_B.weight", 32, 3)}},
		{"missing B", cfg, "only one of lora_A and lora_B", []safetensors.Tensor{A(q+".lora_A.weight", 2, 32)}},
		{"unknown module", cfg, "model.layers.9.self_attn.q_proj", []safetensors.Tensor{
			A("base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight", 2, 32), A("base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight", 32, 2)}},
		{"not a lora key", cfg, "model.embed_tokens.weight", []safetensors.Tensor{A("model.embed_tokens.weight", 2, 2)}},
		{"dora magnitude shape", `{"r":2,"lora_alpha":4,"target_modules":["q_proj"],"use_dora":true}`, "[32]", []safetensors.Tensor{
			A(q+".lora_A.weight", 2, 32), A(q+".lora_B.weight", 32, 2), safetensors.FromF32(q+".lora_magnitude_vector", []int{31}, make([]float32, 31))}},
		{"bad r", `{"r":0,"target_modules":["q_proj"]}`, `"r"`, nil},
		{"not lora", `{"peft_type":"IA3","r":2,"target_modules":["q_proj"]}`, "peft_type", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadBase(t, ref)
			dir := writeAdapter(t, tc.cfg, tc.ts)
			_, err := Load(dir, m, "x")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParsePEFTKey(t *testing.T) {
	for key, want := range map[string][2]string{
		"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight":         {"model.layers.0.self_attn.q_proj", "A"},
		"base_model.model.model.layers.0.mlp.down_proj.lora_B.default.weight":    {"model.layers.0.mlp.down_proj", "B"},
		"base_model.model.model.layers.0.self_attn.q_proj.lora_embedding_A":      {"", ""},
		"base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector": {"model.layers.0.self_attn.q_proj", "M"},
		"base_model.model.lora_magnitude_vector":                                 {"", ""},
		"model.layers.0.self_attn.q_proj.lora_A.weight":                          {"", ""},
	} {
		mod, which, ok := parsePEFTKey(key)
		if want[0] == "" {
			if ok {
				t.Errorf("%s: accepted as %s %s", key, mod, which)
			}
			continue
		}
		if !ok || mod != want[0] || which != want[1] {
			t.Errorf("%s: got %q %q %v, want %v", key, mod, which, ok, want)
		}
	}
}

// TestFanInFanOut: an adapter on GPT-2's Conv1D modules is written with
// fan_in_fan_out true, as PEFT writes it, one on Linear modules with false,
// whatever the config read said (PEFT decides it by module type too).
func TestFanInFanOut(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want bool
	}{{ref, false}, {"../testdata/ref/gpt2_lora_train", true}} {
		a, err := Load(filepath.Join(tc.ref, "adapter_init"), loadBase(t, tc.ref), "default")
		if err != nil {
			t.Fatal(err)
		}
		a.Config.FanInFanOut = !tc.want
		a.Config.raw["fan_in_fan_out"] = !tc.want
		dir := t.TempDir()
		if _, err := New(loadBase(t, tc.ref), "x", a.Config, 1); err != nil {
			t.Fatal(err)
		}
		if err := a.Save(dir); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(filepath.Join(dir, ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		if c.FanInFanOut != tc.want {
			t.Errorf("%s: saved fan_in_fan_out %v, want %v", tc.ref, c.FanInFanOut, tc.want)
		}
	}
}
