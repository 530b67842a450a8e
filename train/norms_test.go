package train

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/golora/golora/data"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

func TestProductNormMatchesExplicitProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][3]int{{1, 1, 1}, {5, 3, 7}, {16, 8, 12}, {3, 4, 2}} {
		out, r, in := sh[0], sh[1], sh[2]
		B, A := make([]float32, out*r), make([]float32, r*in)
		for i := range B {
			B[i] = float32(rng.NormFloat64())
		}
		for i := range A {
			A[i] = float32(rng.NormFloat64())
		}
		var want float64
		for i := 0; i < out; i++ {
			for j := 0; j < in; j++ {
				var d float64
				for k := 0; k < r; k++ {
					d += float64(B[i*r+k]) * float64(A[k*in+j])
				}
				want += d * d
			}
		}
		want = math.Sqrt(want)
		got := ProductNorm(tensor.FromF32(B, out, r), tensor.FromF32(A, r, in))
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("%v: ‖BA‖ = %.12g, explicit product %.12g", sh, got, want)
		}
		l := &model.LoRA{A: model.NewParam("a", []int{r, in}, A), B: model.NewParam("b", []int{out, r}, B), Scale: 0.5}
		if u := UpdateNorm(l); math.Abs(u-want/2) > 1e-9*want {
			t.Errorf("%v: UpdateNorm %.12g, want %.12g", sh, u, want/2)
		}
	}
}

// recordedRun trains the reference model for steps steps with a Recorder
// every `every` steps, starting from step start of out.
func recordedRun(t *testing.T, out string, steps, every, saveEvery int, resume bool) *RunInfo {
	t.Helper()
	r := loadRef(t)
	o := refOptions(writeIDs(t, r), out, 1, 1)
	o.InitAdapter, o.Rank, o.Alpha, o.Targets = "", 2, 4, "q_proj,v_proj,down_proj"
	o.Steps, o.Schedule, o.SaveEvery = steps, "constant", saveEvery
	m, err := model.Load(o.Model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	exs, err := data.LoadFile(o.Data, noTokenizer{o.Model}, data.Options{MaxSeqLen: 512})
	if err != nil {
		t.Fatal(err)
	}
	run := &Run{Opt: o, Model: m, Train: exs, Valid: exs[:1]}
	if run.Adapter, err = NewAdapter(m, o); err != nil {
		t.Fatal(err)
	}
	if err := run.Prepare(); err != nil {
		t.Fatal(err)
	}
	start := 0
	if resume {
		if start, err = LatestCheckpoint(out); err != nil {
			t.Fatal(err)
		}
		if err := run.LoadCheckpoint(start); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := NewRecorder(run, every, start)
	if err != nil {
		t.Fatal(err)
	}
	called := 0
	run.OnStep = rec.Hook(func(Metric) { called++ })
	err = run.Fit(start)
	if err == nil {
		err = run.SaveFinal()
	}
	if err := rec.Finish(err); err != nil {
		t.Fatal(err)
	}
	if called != steps-start {
		t.Errorf("the chained OnStep ran %d times, want %d", called, steps-start)
	}
	// The last recorded norms are those of the saved adapter.
	norms, err := ReadNorms(filepath.Join(out, NormsFile))
	if err != nil {
		t.Fatal(err)
	}
	last := norms[len(norms)-1]
	if last.Step != steps || len(last.Norms) != 2*3 {
		t.Fatalf("last norm record: step %d with %d modules, want step %d with 6", last.Step, len(last.Norms), steps)
	}
	for name, l := range run.Adapter.Modules {
		if got, want := last.Norms[name], UpdateNorm(l); got != want || want == 0 {
			t.Errorf("%s: recorded %g, final adapter %g", name, got, want)
		}
	}
	ri, err := ReadRunInfo(filepath.Join(out, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	return ri
}

func TestRecorderWritesNormsAndRunInfo(t *testing.T) {
	out := t.TempDir()
	ri := recordedRun(t, out, 5, 2, 0, false)
	norms, _ := ReadNorms(filepath.Join(out, NormsFile))
	var steps []int
	for _, n := range norms {
		steps = append(steps, n.Step)
	}
	if want := []int{0, 2, 4, 5}; !equalInts(steps, want) {
		t.Errorf("recorded steps %v, want %v", steps, want)
	}
	for name, v := range norms[0].Norms {
		if v != 0 {
			t.Errorf("step 0: %s has ‖sBA‖ %g, want 0 (B starts at zero)", name, v)
		}
	}
	if ri.Status != "done" || ri.TotalSteps != 5 || ri.Tokens == 0 || !(ri.TokensPerSec > 0) ||
		ri.TrainableParams != ri.AdapterParams || ri.Scale != 2 || ri.Options.Rank != 2 || ri.NormEvery != 2 {
		t.Errorf("run.json: %+v", ri)
	}
	if _, err := os.Stat("/proc/self/status"); err == nil && ri.PeakRSSBytes < 1<<20 {
		t.Errorf("peak RSS %d bytes", ri.PeakRSSBytes)
	}
}

func TestRecorderResumeKeepsEarlierNorms(t *testing.T) {
	out := t.TempDir()
	recordedRun(t, out, 4, 1, 2, false)
	// Pretend the run died after checkpoint 2 with lines for steps 3, 4 written.
	ri := recordedRun(t, out, 4, 1, 2, true)
	norms, _ := ReadNorms(filepath.Join(out, NormsFile))
	var steps []int
	for _, n := range norms {
		steps = append(steps, n.Step)
	}
	if want := []int{0, 1, 2, 3, 4}; !equalInts(steps, want) {
		t.Errorf("after resume, recorded steps %v, want %v", steps, want)
	}
	if ri.StartStep != 2 {
		t.Errorf("start step %d, want 2", ri.StartStep)
	}
}

func TestDefaultNormEvery(t *testing.T) {
	for total, want := range map[int]int{1: 1, 100: 1, 101: 2, 500: 5, 1000: 10} {
		if got := DefaultNormEvery(total); got != want {
			t.Errorf("DefaultNormEvery(%d) = %d, want %d", total, got, want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
