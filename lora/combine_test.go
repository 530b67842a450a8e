package lora

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/internal/linalg"
	"github.com/golora/golora/model"
)

// combineFixture is a tiny random Llama and two saved adapters with random
// B: one of rank 2 on q_proj and v_proj (alpha 4), one of rank 3 on v_proj
// and o_proj (alpha 5, rsLoRA), so q_proj and o_proj each lack one input.
func combineFixture(t *testing.T) (m *model.Model, dirs []string) {
	t.Helper()
	c, err := model.ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":19,"hidden_size":16,"intermediate_size":24,
		"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	m = model.NewRandom(c, 0.02, 1)
	rng := rand.New(rand.NewPCG(7, 8))
	for i, cfg := range []*Config{
		{R: 2, Alpha: 4, Targets: []string{"q_proj", "v_proj"}},
		{R: 3, Alpha: 5, RSLoRA: true, Targets: []string{"v_proj", "o_proj"}},
	} {
		a, err := New(m, "a", cfg, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range a.Modules {
			for j := range l.B.W.F32 {
				l.B.W.F32[j] = float32(rng.NormFloat64() * 0.3)
			}
		}
		dir := filepath.Join(t.TempDir(), "in")
		if err := a.Save(dir); err != nil {
			t.Fatal(err)
		}
		a.Detach(m)
		dirs = append(dirs, dir)
	}
	return m, dirs
}

func readInputs(t *testing.T, dirs []string, weights ...float64) []Input {
	t.Helper()
	ins := make([]Input, len(dirs))
	for i, d := range dirs {
		f, err := ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		ins[i] = Input{File: f, Weight: weights[i]}
	}
	return ins
}

// deltas is every module's s·B·A in float64, by module path.
func deltas(a *Adapter) map[string]linalg.Mat {
	out := map[string]linalg.Mat{}
	for path, l := range a.Modules {
		b, am := linalg.New(l.B.W.Rows, l.B.W.Cols), linalg.New(l.A.W.Rows, l.A.W.Cols)
		for i, x := range l.B.W.F32 {
			b.Data[i] = float64(x) * float64(l.Scale)
		}
		for i, x := range l.A.W.F32 {
			am.Data[i] = float64(x)
		}
		out[path] = linalg.Mul(b, am)
	}
	return out
}

// sumDeltas is Σ w_i·s_i·B_i·A_i per module, computed densely from the inputs.
func sumDeltas(ins []Input) map[string]linalg.Mat {
	out := map[string]linalg.Mat{}
	for _, in := range ins {
		for _, mod := range in.File.Modules {
			d, ok := out[mod.Path]
			if !ok {
				d = linalg.New(mod.B.Rows, mod.A.Cols)
				out[mod.Path] = d
			}
			ws := in.Weight * float64(in.File.Config.Scale())
			for i := 0; i < mod.B.Rows; i++ {
				for j := 0; j < mod.A.Cols; j++ {
					var x float64
					for k := 0; k < mod.A.Rows; k++ {
						x += float64(mod.B.F32[i*mod.B.Cols+k]) * float64(mod.A.F32[k*mod.A.Cols+j])
					}
					d.Data[i*d.Cols+j] += ws * x
				}
			}
		}
	}
	return out
}

func sub(a, b linalg.Mat) linalg.Mat {
	d := linalg.New(a.Rows, a.Cols)
	for i := range d.Data {
		d.Data[i] = a.Data[i] - b.Data[i]
	}
	return d
}

// checkDeltas fails unless got and want have the same modules and each
// ‖got−want‖_F ≤ tol·‖want‖_F.
func checkDeltas(t *testing.T, what string, got, want map[string]linalg.Mat, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d modules, want %d", what, len(got), len(want))
	}
	for path, w := range want {
		g, ok := got[path]
		if !ok {
			t.Fatalf("%s: module %s missing", what, path)
		}
		if e := sub(g, w).Frobenius() / w.Frobenius(); e > tol {
			t.Errorf("%s: module %s: relative error %g", what, path, e)
		}
	}
}

// A cat combination computes what its inputs attached at their weights
// compute, and records rank Σ r_i, alpha = r and the union of the targets.
func TestCombineCatMatchesAttached(t *testing.T) {
	m, dirs := combineFixture(t)
	ins := readInputs(t, dirs, 0.7, -1.3)
	c, err := Combine(ins, CombineCat, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cat")
	if err := c.Save(out); err != nil {
		t.Fatal(err)
	}
	f, err := ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Config.R != 5 || f.Config.Alpha != 5 || f.Config.RSLoRA || !slices.Equal(f.Config.Targets, []string{"o_proj", "q_proj", "v_proj"}) || len(f.Modules) != 6 {
		t.Fatalf("combined config r=%d alpha=%g rslora=%v targets %v, %d modules; want 5, 5, false, [o_proj q_proj v_proj], 6",
			f.Config.R, f.Config.Alpha, f.Config.RSLoRA, f.Config.Targets, len(f.Modules))
	}
	ids := [][]int{{1, 5, 9, 3, 17, 2}, {4, 4, 0, 11, 8, 6}}
	base := logits(t, m, ids)
	attached, err := AttachAll(m, []Spec{{Dir: dirs[0], Scale: 0.7}, {Dir: dirs[1], Scale: -1.3}})
	if err != nil {
		t.Fatal(err)
	}
	want := logits(t, m, ids)
	for _, a := range attached {
		a.Detach(m)
	}
	one, err := AttachAll(m, []Spec{{Dir: out, Scale: 1}})
	if err != nil {
		t.Fatal(err)
	}
	got := logits(t, m, ids)
	one[0].Detach(m)
	w64 := make([]float64, len(want))
	var moved float64
	for i, x := range want {
		w64[i] = float64(x)
		moved = math.Max(moved, math.Abs(float64(x-base[i])))
	}
	if moved < 1e-3 {
		t.Fatalf("the adapters change the logits by at most %g: the test would not see a wrong combination", moved)
	}
	if e := relErr(t, got, w64); e > 1e-5 {
		t.Errorf("combined logits differ from the attached adapters' by %g relative", e)
	}
}

// svd at full rank reproduces Σ w_i·s_i·B_i·A_i; at a lower rank its error
// is the norm of the dropped singular values (Eckart–Young).
func TestCombineSVD(t *testing.T) {
	_, dirs := combineFixture(t)
	ins := readInputs(t, dirs, 0.7, -1.3)
	want := sumDeltas(ins)
	cat, err := Combine(ins, CombineCat, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkDeltas(t, "cat", deltas(cat), want, 1e-6)
	full, err := Combine(ins, CombineSVD, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkDeltas(t, "svd at rank 5", deltas(full), deltas(cat), 1e-5)
	def, err := Combine(ins, CombineSVD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if def.Config.R != 3 || def.Config.Alpha != 3 {
		t.Errorf("svd without a rank: r=%d alpha=%g, want the largest input rank 3 and alpha 3", def.Config.R, def.Config.Alpha)
	}
	const r = 2
	low, err := Combine(ins, CombineSVD, r)
	if err != nil {
		t.Fatal(err)
	}
	got := deltas(low)
	truncated := 0 // modules whose ΔW has rank above r
	for path, w := range want {
		_, s, _ := linalg.SVD(w)
		var dropped float64
		for _, x := range s[r:] {
			dropped += x * x
		}
		dropped = math.Sqrt(dropped)
		e := sub(got[path], w).Frobenius()
		if dropped > 1e-3 {
			truncated++
		}
		if math.Abs(e-dropped) > 1e-5*w.Frobenius() {
			t.Errorf("module %s: rank-%d error %g, want the dropped singular values' norm %g (of %v)", path, r, e, dropped, s)
		}
	}
	if truncated == 0 {
		t.Fatal("no module's update has rank above 2: the test would not see a wrong truncation")
	}
}

// linear sums √(w_i·s_i)-weighted A's and B's, as PEFT does.
func TestCombineLinear(t *testing.T) {
	_, dirs := combineFixture(t)
	ins := readInputs(t, []string{dirs[0], dirs[0]}, 0.5, 2)
	c, err := Combine(ins, CombineLinear, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Both inputs are one adapter, so the result is (√(0.5s)+√(2s))²·B·A.
	s := float64(ins[0].File.Config.Scale())
	f := math.Pow(math.Sqrt(0.5*s)+math.Sqrt(2*s), 2) / s
	want := sumDeltas(readInputs(t, dirs[:1], f))
	checkDeltas(t, "linear", deltas(c), want, 1e-6)
	if c.Config.R != 2 || c.Config.Alpha != 2 {
		t.Errorf("linear: r=%d alpha=%g, want 2 and 2", c.Config.R, c.Config.Alpha)
	}
}

func TestCombineRefuses(t *testing.T) {
	_, dirs := combineFixture(t)
	regex := readInputs(t, dirs[:1], 1)[0]
	regex.File.Config.Targets, regex.File.Config.TargetRegex = nil, `.*\.q_proj`
	for _, tc := range []struct {
		ins    []Input
		method string
		rank   int
		want   string
	}{
		{readInputs(t, dirs, 1, 1), CombineLinear, 0, "needs equal ranks, got r = 2"},
		{readInputs(t, dirs, 1, math.NaN()), CombineCat, 0, "weight NaN is not finite"},
		{readInputs(t, dirs[:1], -1), CombineLinear, 0, "is negative"},
		{readInputs(t, dirs, 1, 1), CombineCat, 4, "a rank applies only to method svd"},
		{readInputs(t, dirs, 1, 1), CombineSVD, -1, "rank must be in"},
		{readInputs(t, dirs, 1, 1), "ties", 0, `method "ties" is not one of`},
		{nil, CombineCat, 0, "no adapters"},
		{[]Input{readInputs(t, dirs[1:], 1)[0], regex}, CombineCat, 0, "cannot combine a list with a regular expression"},
	} {
		_, err := Combine(tc.ins, tc.method, tc.rank)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s rank %d: got %v, want an error containing %q", tc.method, tc.rank, err, tc.want)
		}
	}
}
