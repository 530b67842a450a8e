package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// fixture mirrors testdata/torch_fixture.json (see gen_torch_fixture.py).
type fixture struct {
	TorchVersion string `json:"torch_version"`
	AdamW        []struct {
		Name        string
		Beta1       float64
		Beta2       float64
		Eps         float64
		WeightDecay float64 `json:"weight_decay"`
		Init        [][]float32
		Steps       []struct {
			LR       float64
			Grads    [][]float32
			Params   [][]float32
			ExpAvg   [][]float32 `json:"exp_avg"`
			ExpAvgSq [][]float32 `json:"exp_avg_sq"`
		}
	}
	Schedules []struct {
		Kind          string
		Base          float64
		Warmup, Total int
		LRs           []float64 `json:"lrs"`
	}
	Clip []struct {
		MaxNorm float64 `json:"max_norm"`
		Grads   [][]float32
		Norm    float64
		Clipped [][]float32
	}
}

func loadFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "torch_fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("torch_fixture.json: %v", err)
	}
	if len(f.AdamW) == 0 || len(f.Schedules) == 0 || len(f.Clip) == 0 {
		t.Fatal("torch_fixture.json: empty section")
	}
	return &f
}

func clone(x [][]float32) [][]float32 {
	y := make([][]float32, len(x))
	for i := range x {
		y[i] = append([]float32(nil), x[i]...)
	}
	return y
}

// ulps is the distance between a and b in units in the last place.
func ulps(a, b float32) int64 {
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia < 0x80000000 != (ib < 0x80000000) { // different signs
		return ia&0x7fffffff + ib&0x7fffffff
	}
	if d := ia - ib; d >= 0 {
		return d
	} else {
		return -d
	}
}

// maxULP is how far each float32 may be from torch's. The fixture was made by
// torch 1.13 on an AVX2 CPU, which Step follows bit for bit.
const maxULP = 0

func compare(t *testing.T, what string, got, want [][]float32, tol int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s[%d]: %d elements, want %d", what, i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if d := ulps(got[i][j], want[i][j]); d > tol {
				t.Errorf("%s[%d][%d] = %v, torch %v (%d ulp)", what, i, j, got[i][j], want[i][j], d)
			}
		}
	}
}

func TestAdamWMatchesTorch(t *testing.T) {
	f := loadFixture(t)
	for _, c := range f.AdamW {
		t.Run(c.Name, func(t *testing.T) {
			params := clone(c.Init)
			o := NewAdamW(params, c.Beta1, c.Beta2, c.Eps, c.WeightDecay)
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			for k, s := range c.Steps {
				// The fixture's lr comes from torch's LambdaLR with linear warmup.
				o.Step(params, s.Grads, s.LR)
				if o.StepCount() != k+1 || o.LR != s.LR {
					t.Fatalf("step %d: StepCount %d LR %v", k, o.StepCount(), o.LR)
				}
				m, v, _ := o.State()
				compare(t, fmt.Sprintf("step %d exp_avg", k), m, s.ExpAvg, maxULP)
				compare(t, fmt.Sprintf("step %d exp_avg_sq", k), v, s.ExpAvgSq, maxULP)
				compare(t, fmt.Sprintf("step %d params", k), params, s.Params, maxULP)
			}
			if c.Steps[0].LR != 0 {
				t.Errorf("fixture's first lr %v, want 0 (warmup)", c.Steps[0].LR)
			}
		})
	}
}

// TestAdamWReference checks Step against the textbook formula in float64, so a
// wrong formula cannot hide behind a wrong fixture.
func TestAdamWReference(t *testing.T) {
	p := [][]float32{{0.5, -1.25, 3}, {2}}
	g := [][]float32{{0.1, -0.2, 0}, {4}}
	const lr, b1, b2, eps, wd = 0.01, 0.9, 0.99, 1e-8, 0.1
	o := NewAdamW(p, b1, b2, eps, wd)
	ref := [][]float64{{0.5, -1.25, 3}, {2}}
	m := [][]float64{{0, 0, 0}, {0}}
	v := [][]float64{{0, 0, 0}, {0}}
	for step := 1; step <= 4; step++ {
		o.Step(p, g, lr)
		for i := range ref {
			for j := range ref[i] {
				gg := float64(g[i][j])
				ref[i][j] -= lr * wd * ref[i][j]
				m[i][j] = b1*m[i][j] + (1-b1)*gg
				v[i][j] = b2*v[i][j] + (1-b2)*gg*gg
				mh := m[i][j] / (1 - math.Pow(b1, float64(step)))
				vh := v[i][j] / (1 - math.Pow(b2, float64(step)))
				ref[i][j] -= lr * mh / (math.Sqrt(vh) + eps)
				if d := math.Abs(float64(p[i][j]) - ref[i][j]); d > 1e-6 {
					t.Errorf("step %d p[%d][%d] = %v, reference %v", step, i, j, p[i][j], ref[i][j])
				}
			}
		}
	}
}

func TestAdamWResumeBitIdentical(t *testing.T) {
	init := [][]float32{{0.1, -0.7, 2.5, 1e-3}, {-3, 0.25}}
	grad := func(k int) [][]float32 {
		s := float32(k + 1)
		return [][]float32{{0.3 * s, -0.1, 1 / s, 0}, {s, -2 / s}}
	}
	full := clone(init)
	a := NewAdamW(full, 0.9, 0.999, 1e-8, 0.01)
	for k := 0; k < 6; k++ {
		a.Step(full, grad(k), 1e-2/float64(k+1))
	}

	part := clone(init)
	b := NewAdamW(part, 0.9, 0.999, 1e-8, 0.01)
	for k := 0; k < 3; k++ {
		b.Step(part, grad(k), 1e-2/float64(k+1))
	}
	m, v, step := b.State()
	m, v = clone(m), clone(v) // as if written to and read back from disk
	c := NewAdamW(part, 0.9, 0.999, 1e-8, 0.01)
	if err := c.SetState(m, v, step); err != nil {
		t.Fatal(err)
	}
	for k := 3; k < 6; k++ {
		c.Step(part, grad(k), 1e-2/float64(k+1))
	}
	compare(t, "resumed params", part, full, 0)
	if c.StepCount() != 6 {
		t.Errorf("StepCount %d, want 6", c.StepCount())
	}
}

func TestAdamWSetStateErrors(t *testing.T) {
	o := NewAdamW([][]float32{make([]float32, 3), make([]float32, 2)}, 0.9, 0.999, 1e-8, 0)
	ok := [][]float32{make([]float32, 3), make([]float32, 2)}
	for _, tc := range []struct {
		name string
		m, v [][]float32
		step int
	}{
		{"negative step", ok, ok, -1},
		{"too few", ok[:1], ok, 1},
		{"wrong length", ok, [][]float32{make([]float32, 3), make([]float32, 1)}, 1},
	} {
		if err := o.SetState(tc.m, tc.v, tc.step); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if err := o.SetState(ok, ok, 7); err != nil || o.StepCount() != 7 {
		t.Errorf("valid state: %v, step %d", err, o.StepCount())
	}
}

func TestAdamWValidate(t *testing.T) {
	for _, tc := range []struct {
		b1, b2, eps, wd float64
		ok              bool
	}{
		{0.9, 0.999, 1e-8, 0.01, true},
		{0, 0, 0, 0, true},
		{1, 0.999, 1e-8, 0, false},
		{0.9, -0.1, 1e-8, 0, false},
		{0.9, 0.999, -1, 0, false},
		{0.9, 0.999, 1e-8, math.NaN(), false},
	} {
		err := NewAdamW(nil, tc.b1, tc.b2, tc.eps, tc.wd).Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err %v", tc, err)
		}
	}
}

func TestAdamWStepAllocatesNothing(t *testing.T) {
	p := [][]float32{make([]float32, 100), make([]float32, 7)}
	g := [][]float32{make([]float32, 100), make([]float32, 7)}
	for i := range g[0] {
		g[0][i] = float32(i) - 50
	}
	o := NewAdamW(p, 0.9, 0.999, 1e-8, 0.01)
	if n := testing.AllocsPerRun(10, func() { o.Step(p, g, 1e-3) }); n != 0 {
		t.Errorf("Step allocates %v times", n)
	}
}

func TestAdamWStepShapeMismatchPanics(t *testing.T) {
	o := NewAdamW([][]float32{make([]float32, 2)}, 0.9, 0.999, 1e-8, 0)
	defer func() {
		if recover() == nil {
			t.Error("no panic on mismatched grad")
		}
	}()
	o.Step([][]float32{make([]float32, 2)}, [][]float32{make([]float32, 3)}, 1e-3)
}

func TestLRMatchesTorch(t *testing.T) {
	f := loadFixture(t)
	for _, c := range f.Schedules {
		for s, want := range c.LRs {
			got, err := LR(c.Kind, c.Base, s, c.Warmup, c.Total)
			if err != nil {
				t.Fatal(err)
			}
			// Bit-identical except where Go's and libm's cos round differently.
			if d := math.Abs(got - want); d > 1e-15*c.Base {
				t.Errorf("%s base %v warmup %d total %d step %d: %v, torch %v", c.Kind, c.Base, c.Warmup, c.Total, s, got, want)
			}
		}
	}
}

func TestLRShapes(t *testing.T) {
	for _, tc := range []struct {
		kind                string
		step, warmup, total int
		want                float64
	}{
		{"constant", 0, 0, 10, 1},
		{"constant", 0, 4, 10, 0},
		{"constant", 2, 4, 10, 0.5},
		{"constant", 50, 4, 10, 1},
		{"linear", 4, 4, 10, 1},
		{"linear", 7, 4, 10, 0.5},
		{"linear", 10, 4, 10, 0},
		{"linear", 12, 4, 10, 0},
		{"cosine", 4, 4, 10, 1},
		{"cosine", 7, 4, 10, 0.5},
		{"cosine", 10, 4, 10, 0},
		{"cosine", 1, 0, 1, 0},
	} {
		got, err := LR(tc.kind, 2, tc.step, tc.warmup, tc.total)
		if err != nil || math.Abs(got-2*tc.want) > 1e-15 {
			t.Errorf("LR(%s, 2, %d, %d, %d) = %v, %v; want %v", tc.kind, tc.step, tc.warmup, tc.total, got, err, 2*tc.want)
		}
	}
}

func TestLRErrors(t *testing.T) {
	for _, tc := range []struct {
		kind                string
		base                float64
		step, warmup, total int
	}{
		{"cosine_with_restarts", 1, 0, 0, 1},
		{"", 1, 0, 0, 1},
		{"linear", 1, -1, 0, 1},
		{"linear", 1, 0, -1, 1},
		{"linear", 1, 0, 0, -1},
		{"constant", math.Inf(1), 0, 0, 1},
	} {
		if _, err := LR(tc.kind, tc.base, tc.step, tc.warmup, tc.total); err == nil {
			t.Errorf("LR(%q, %v, %d, %d, %d): no error", tc.kind, tc.base, tc.step, tc.warmup, tc.total)
		}
	}
}

func TestClipGradNormMatchesTorch(t *testing.T) {
	f := loadFixture(t)
	for _, c := range f.Clip {
		g := clone(c.Grads)
		norm := ClipGradNorm(g, c.MaxNorm)
		// torch reduces in float32; ours is float64.
		if math.Abs(norm-c.Norm) > 1e-6*c.Norm {
			t.Errorf("max_norm %v: norm %v, torch %v", c.MaxNorm, norm, c.Norm)
		}
		compare(t, "clipped", g, c.Clipped, 1) // exact today; torch's float32 norm may round differently
	}
}

func TestClipGradNorm(t *testing.T) {
	for _, tc := range []struct {
		name    string
		grads   [][]float32
		maxNorm float64
		norm    float64
		want    [][]float32
	}{
		{"clipped", [][]float32{{3}, {4}}, 1, 5, [][]float32{{0.5999999}, {0.79999983}}}, // 3/(5+1e-6), 4/(5+1e-6)
		{"below", [][]float32{{0.3}, {0.4}}, 1, 0.5, [][]float32{{0.3}, {0.4}}},
		{"disabled", [][]float32{{3}, {4}}, 0, 5, [][]float32{{3}, {4}}},
		{"empty", nil, 1, 0, nil},
		{"inf left alone", [][]float32{{float32(math.Inf(1))}, {1}}, 1, math.Inf(1), [][]float32{{float32(math.Inf(1))}, {1}}},
	} {
		norm := ClipGradNorm(tc.grads, tc.maxNorm)
		if math.Abs(norm-tc.norm) > 1e-6 && norm != tc.norm {
			t.Errorf("%s: norm %v, want %v", tc.name, norm, tc.norm)
		}
		compare(t, tc.name, tc.grads, tc.want, 1)
	}
	if n := ClipGradNorm([][]float32{{float32(math.NaN())}}, 1); !math.IsNaN(n) {
		t.Errorf("NaN grad: norm %v", n)
	}
}

// TestLRExactCount holds the schedule to torch's float64 bits. Constant and
// linear are a division and a product, each correctly rounded, computed as
// transformers does, so they are bit-identical. Cosine goes through
// math.Cos, which may round differently from libm's cos: it stays within
// 4 units in the last place (the fixture has 2 values 2 ulp off, the
// other 25 exact). The learning rates are non-negative, so their bit
// patterns order like their values.
func TestLRExactCount(t *testing.T) {
	f := loadFixture(t)
	kinds := map[string]int{}
	for _, c := range f.Schedules {
		var tol int64
		if c.Kind == "cosine" {
			tol = 4
		}
		for s, want := range c.LRs {
			got, err := LR(c.Kind, c.Base, s, c.Warmup, c.Total)
			if err != nil {
				t.Fatal(err)
			}
			kinds[c.Kind]++
			if d := int64(math.Float64bits(got)) - int64(math.Float64bits(want)); d < -tol || d > tol {
				t.Errorf("%s base %v warmup %d total %d step %d: %v, torch %v (%d ulp, allowed %d)", c.Kind, c.Base, c.Warmup, c.Total, s, got, want, d, tol)
			}
		}
	}
	for _, k := range []string{"constant", "linear", "cosine"} {
		if kinds[k] == 0 {
			t.Errorf("fixture has no %s schedule values", k)
		}
	}
}

func BenchmarkAdamWStep(b *testing.B) {
	const n = 1 << 20
	p := [][]float32{make([]float32, n)}
	g := [][]float32{make([]float32, n)}
	for i := range g[0] {
		g[0][i] = float32(i%7) - 3
	}
	o := NewAdamW(p, 0.9, 0.999, 1e-8, 0.01)
	b.SetBytes(4 * 4 * n) // p, g, m, v
	for b.Loop() {
		o.Step(p, g, 1e-3)
	}
}
