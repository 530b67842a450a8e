package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/golora/golora/data"
	"github.com/golora/golora/internal/testref"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/runlog"
)

// prefFixture is testdata/ref/preference/expected.json, written by
// make_preference.py (TRL's DPO and ORPO in float64 PyTorch).
type prefFixture struct {
	Pairs []struct {
		Chosen, Rejected struct {
			IDs    []int `json:"ids"`
			Labels []int `json:"labels"`
		}
	} `json:"pairs"`
	Cases map[string]struct {
		Method         string                     `json:"method"`
		Beta           float64                    `json:"beta"`
		LabelSmoothing float64                    `json:"label_smoothing"`
		Lambda         float64                    `json:"lambda"`
		Batch          int                        `json:"batch"`
		Accum          int                        `json:"accum"`
		RefAdapter     string                     `json:"ref_adapter"`
		Steps          []map[string]float64       `json:"steps"`
		Final          map[string]json.RawMessage `json:"final"`
	} `json:"cases"`
}

func loadPrefFixture(t *testing.T) (string, prefFixture, []data.Pair) {
	t.Helper()
	dir := testref.DirOf("preference")
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f prefFixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	pairs := make([]data.Pair, len(f.Pairs))
	for i, p := range f.Pairs {
		pairs[i] = data.Pair{Chosen: data.Example{IDs: p.Chosen.IDs, Labels: p.Chosen.Labels},
			Rejected: data.Example{IDs: p.Rejected.IDs, Labels: p.Rejected.Labels}}
	}
	return dir, f, pairs
}

// loadRefModel loads the model of the training fixture in dir with its
// adapter_init attached as "default".
func loadRefModel(t *testing.T, dir string) (*model.Model, *lora.Adapter) {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	a, err := lora.Load(filepath.Join(dir, "adapter_init"), m, "default")
	if err != nil {
		t.Fatal(err)
	}
	return m, a
}

// prefMetrics are the Preference fields by their TRL names.
func prefMetrics(p *runlog.Preference) map[string]float64 {
	raw, _ := json.Marshal(p)
	var m map[string]float64
	json.Unmarshal(raw, &m)
	return m
}

// TestPreferenceMatchesPyTorch trains the fixture's adapter with DPO (the
// reference the base with the adapter off; label smoothing with gradient
// accumulation; a reference adapter) and ORPO (two micro-batches of two
// pairs) and compares every step's loss, gradient norm and TRL metrics and
// the adapter after the last step with PyTorch's, to 1e-4 relative.
func TestPreferenceMatchesPyTorch(t *testing.T) {
	dir, f, pairs := loadPrefFixture(t)
	names := make([]string, 0, len(f.Cases))
	for name := range f.Cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, ckpt := range []bool{false, true} {
			testPreferenceCase(t, dir, name, f, pairs, ckpt)
		}
	}
}

// testPreferenceCase runs case name of the fixture, with or without
// gradient checkpointing.
func testPreferenceCase(t *testing.T, dir, name string, f prefFixture, pairs []data.Pair, ckpt bool) {
	tc := f.Cases[name]
	if ckpt {
		name += "/checkpointed"
	}
	t.Run(name, func(t *testing.T) {
		m, a := loadRefModel(t, dir)
		c := Defaults()
		c.GradCheckpoint = &ckpt
		c.LR, c.Schedule, c.Warmup, c.Steps = 1e-2, "linear", 1, len(tc.Steps)
		c.BatchSize, c.GradAccum = tc.Batch, tc.Accum
		c.WeightDecay, c.MaxGradNorm, c.Shuffle = 0.01, 1, false
		c.Method, c.Beta, c.LabelSmoothing, c.Lambda = tc.Method, tc.Beta, tc.LabelSmoothing, tc.Lambda
		r := &Run{Config: c, Model: m, Adapter: a, Pairs: pairs}
		if tc.RefAdapter != "" {
			var err error
			if r.RefAdapter, err = lora.Load(filepath.Join(dir, tc.RefAdapter), m, "ref"); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Prepare(); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		check := func(what string, got, want float64) {
			e := math.Abs(got-want) / math.Max(math.Abs(want), 1e-3)
			worst = math.Max(worst, e)
			if e > 1e-4 {
				t.Errorf("%s: %.7g, PyTorch %.7g", what, got, want)
			}
		}
		for k, want := range tc.Steps {
			st, err := r.Step(k)
			if err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("step %d loss", k), st.Loss, want["loss"])
			check(fmt.Sprintf("step %d grad_norm", k), st.GradNorm, want["grad_norm"])
			got := prefMetrics(st.Preference)
			for key, w := range want {
				if strings.Contains(key, "/") || strings.Contains(key, "_odds") || key == "nll_loss" {
					g, ok := got[key]
					if !ok {
						t.Fatalf("step %d: no metric %s", k, key)
					}
					check(fmt.Sprintf("step %d %s", k, key), g, w)
				}
			}
			if len(got) != len(want)-4 { // step, lr, loss, grad_norm
				t.Errorf("step %d: metrics %v, PyTorch's %v", k, got, want)
			}
		}
		for key, raw := range tc.Final {
			var v any
			json.Unmarshal(raw, &v)
			want := testref.Flat(v)
			mod, ab, _ := strings.Cut(strings.TrimPrefix(key, "base_model.model."), ".lora_")
			l := a.Modules[mod]
			if l == nil {
				t.Fatalf("no module %s", mod)
			}
			got := l.A.W.F32
			if ab == "B.weight" {
				got = l.B.W.F32
			}
			var num, den float64
			for i := range want {
				num = math.Max(num, math.Abs(float64(got[i])-want[i]))
				den = math.Max(den, math.Abs(want[i]))
			}
			worst = math.Max(worst, num/den)
			if num/den > 1e-4 {
				t.Errorf("%s after training: relative error %.3g", key, num/den)
			}
		}
		t.Logf("largest relative error (losses, gradient norms, metrics, final weights): %.2g", worst)
	})
}

// TestPreferenceGrad checks the gradient a DPO (label smoothing on) and
// an ORPO step backpropagate into the adapter against central differences
// of the same loss computed by evaluatePairs (forward passes only).
func TestPreferenceGrad(t *testing.T) {
	dir, _, pairs := loadPrefFixture(t)
	for _, method := range []string{MethodDPO, MethodORPO} {
		t.Run(method, func(t *testing.T) {
			m, a := loadRefModel(t, dir)
			c := Defaults()
			c.Steps, c.BatchSize, c.Shuffle = 1, 3, false
			c.Method, c.Beta, c.LabelSmoothing, c.Lambda = method, 2, 0.1, 0.5
			if method == MethodORPO {
				c.LabelSmoothing = 0
			}
			r := &Run{Config: c, Model: m, Adapter: a, Pairs: pairs}
			if err := r.Prepare(); err != nil {
				t.Fatal(err)
			}
			var st StepStats
			if err := r.preferenceStep(0, &st); err != nil {
				t.Fatal(err)
			}
			batch := pairs[:3]
			loss := func() float64 {
				l, err := r.evaluatePairs(batch)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			if l := loss(); math.Abs(l-st.Loss) > 1e-6*math.Abs(l) {
				t.Fatalf("evaluatePairs %v, the step's loss %v", l, st.Loss)
			}
			const h = 1e-2
			for _, p := range a.Params() {
				g := append([]float32(nil), p.Grad...)
				var scale float64
				for _, v := range g {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				for i := 0; i < len(g); i += 7 {
					old := p.W.F32[i]
					p.W.F32[i] = old + h
					lp := loss()
					p.W.F32[i] = old - h
					lm := loss()
					p.W.F32[i] = old
					num := (lp - lm) / (2 * h)
					if d := math.Abs(num - float64(g[i])); d > 2e-3*scale+1e-5 {
						t.Errorf("%s[%d]: gradient %.6g, central difference %.6g (max |grad| %.3g)", p.Name, i, g[i], num, scale)
					}
				}
			}
		})
	}
}

// A DPO run continued from a checkpoint makes the steps and validation
// losses of the uninterrupted run, bit for bit; an ORPO run refuses its
// checkpoint.
func TestPreferenceResumesBitIdentically(t *testing.T) {
	dir, _, pairs := loadPrefFixture(t)
	c := Defaults()
	c.Steps, c.BatchSize, c.SaveEvery, c.EvalEvery, c.LR = 4, 1, 2, 1, 1e-2
	c.Method, c.LabelSmoothing = MethodDPO, 0.1
	newRun := func(c Config) *Run {
		m, a := loadRefModel(t, dir)
		r := &Run{Config: c, Model: m, Adapter: a, Pairs: pairs, ValidPairs: pairs[:3]}
		if err := r.Prepare(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	full := newRun(c)
	fullSink := &recorder{dir: t.TempDir()}
	full.Sink = fullSink
	if err := full.Fit(0); err != nil {
		t.Fatal(err)
	}
	resumed := newRun(c)
	sink := resumeAt(t, resumed, fullSink.dir, 2, 2)
	for i, m := range sink.metrics {
		w := fullSink.metrics[2+i]
		if m.Loss != w.Loss || m.GradNorm != w.GradNorm || *m.ValidLoss != *w.ValidLoss || *m.Preference != *w.Preference {
			t.Errorf("step %d: %+v %+v, uninterrupted %+v %+v", m.Step, m, *m.Preference, w, *w.Preference)
		}
	}
	for i, p := range full.Adapter.Params() {
		if !slices.Equal(p.W.F32, resumed.Adapter.Params()[i].W.F32) {
			t.Errorf("%s differs from the uninterrupted run's", p.Name)
		}
	}
	c.Method, c.LabelSmoothing = MethodORPO, 0
	if _, err := newRun(c).LoadCheckpoint(runlog.CheckpointDir(fullSink.dir, 2)); err == nil || !strings.Contains(err.Error(), "belongs to a dpo run, this run is orpo") {
		t.Errorf("an orpo run loaded a dpo checkpoint: %v", err)
	}
}
