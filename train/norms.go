package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/golora/golora/internal/rss"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
)

// What a report needs beyond metrics.jsonl and the saved weights is written
// by a Recorder next to them:
//
//	OUT/norms.jsonl  one line per recorded step: ‖s·B·A‖_F of every module
//	OUT/run.json     the run's settings, sizes and resources (RunInfo)
const (
	NormsFile = "norms.jsonl"
	RunFile   = "run.json"
)

// NormRecord is one line of norms.jsonl: after optimizer step Step (0: the
// adapter as training found it), the Frobenius norm of each module's update
// s·B·A, by module name (e.g. model.layers.0.self_attn.q_proj).
type NormRecord struct {
	Step  int                `json:"step"`
	Norms map[string]float64 `json:"norms"`
}

// RunInfo is run.json: what a run was asked to do and what it cost.
type RunInfo struct {
	Options   Options `json:"options"`
	ModelPath string  `json:"model_path"` // Options.Model made absolute
	// Status is "running" while training, then "done" or "failed" (Error
	// says why).
	Status          string  `json:"status"`
	Error           string  `json:"error,omitempty"`
	StartStep       int     `json:"start_step"` // > 0 for a resumed run
	TotalSteps      int     `json:"total_steps"`
	SeqLen          int     `json:"seq_len"` // padded tokens per sequence
	TrainExamples   int     `json:"train_examples"`
	ValidExamples   int     `json:"valid_examples"`
	TrainableParams int     `json:"trainable_params"`
	BaseParams      int     `json:"base_params"`
	AdapterParams   int     `json:"adapter_params"`
	Scale           float64 `json:"scale,omitempty"` // LoRA s = alpha/r (or alpha/√r)
	NormEvery       int     `json:"norm_every"`
	Threads         int     `json:"threads"`
	GoVersion       string  `json:"go_version"`
	Platform        string  `json:"platform"`
	Started         string  `json:"started"` // RFC 3339
	ElapsedSec      float64 `json:"elapsed_sec"`
	Tokens          int     `json:"tokens"`         // real tokens trained on by this process
	TokensPerSec    float64 `json:"tokens_per_sec"` // Tokens / time spent in optimizer steps
	PeakRSSBytes    int64   `json:"peak_rss_bytes"` // VmHWM; 0 where unknown
}

// ReadRunInfo parses a run.json.
func ReadRunInfo(path string) (*RunInfo, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ri RunInfo
	if err := json.Unmarshal(raw, &ri); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &ri, nil
}

// ReadNorms parses a norms.jsonl file.
func ReadNorms(path string) ([]NormRecord, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []NormRecord
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<16), 1<<28)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r NormRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return out, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// UpdateNorm is ‖s·B·A‖_F of one LoRA module, B: [out, r], A: [r, in],
// computed through the r×r Gram matrices, ‖BA‖²_F = Σ_ij (BᵀB)_ij (AAᵀ)_ij,
// in O(r²·(in+out)) without forming the out×in product.
func UpdateNorm(l *model.LoRA) float64 {
	return float64(l.Scale) * ProductNorm(l.B.W, l.A.W)
}

// ProductNorm is ‖B·A‖_F for B: [out, r] and A: [r, in] (any dtype),
// accumulated in float64.
func ProductNorm(B, A tensor.Mat) float64 {
	r := B.Cols
	if A.Rows != r {
		panic(fmt.Sprintf("train.ProductNorm: B is %d×%d, A is %d×%d", B.Rows, B.Cols, A.Rows, A.Cols))
	}
	gb := make([]float64, r*r) // BᵀB
	row := make([]float32, max(B.Cols, A.Cols))
	for i := 0; i < B.Rows; i++ {
		b := B.Row(i, row)
		for p := 0; p < r; p++ {
			for q := 0; q < r; q++ {
				gb[p*r+q] += float64(b[p]) * float64(b[q])
			}
		}
	}
	arows := make([][]float32, r)
	for p := range arows {
		arows[p] = append([]float32(nil), A.Row(p, row)...)
	}
	var sum float64
	for p := 0; p < r; p++ {
		for q := 0; q < r; q++ {
			if gb[p*r+q] == 0 {
				continue
			}
			var d float64 // (AAᵀ)_pq
			for j, x := range arows[p] {
				d += float64(x) * float64(arows[q][j])
			}
			sum += gb[p*r+q] * d
		}
	}
	return math.Sqrt(max(sum, 0))
}

// Recorder writes norms.jsonl and run.json for a run. Make one after
// Prepare (and after LoadCheckpoint when resuming), chain Hook into
// Run.OnStep, and call Finish when training ends.
type Recorder struct {
	run     *Run
	every   int
	f       *os.File
	info    RunInfo
	t0      time.Time
	stepSec float64 // time spent in optimizer steps (excluding validation)
	err     error   // first write error; reported by Finish
}

// DefaultNormEvery is the interval NewRecorder uses for every ≤ 0: about a
// hundred columns for the report's heatmaps.
func DefaultNormEvery(total int) int { return max(1, (total+99)/100) }

// NewRecorder starts recording a prepared run that continues from step
// start (0 for a fresh run): it writes run.json with status "running" and
// opens norms.jsonl (kept up to start when resuming); a fresh LoRA run gets
// a line for step 0. Norms are recorded every `every` steps (≤ 0: the
// DefaultNormEvery) and after the last step. Full fine-tuning records no
// norms.
func NewRecorder(r *Run, every, start int) (*Recorder, error) {
	if every <= 0 {
		every = DefaultNormEvery(r.total)
	}
	rec := &Recorder{run: r, every: every, t0: time.Now()}
	abs := r.Opt.Model
	if abs != "" {
		if a, err := filepath.Abs(abs); err == nil {
			abs = a
		}
	}
	trainable := 0
	for _, p := range r.params {
		trainable += p.NumElements()
	}
	rec.info = RunInfo{
		Options: r.Opt, ModelPath: abs, Status: "running", StartStep: start, TotalSteps: r.total, SeqLen: r.T,
		TrainExamples: len(r.Train), ValidExamples: len(r.Valid), TrainableParams: trainable,
		BaseParams: r.Model.NumParams(), NormEvery: every, Threads: tensor.Threads(),
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Started: rec.t0.UTC().Format(time.RFC3339),
	}
	if r.Adapter != nil && !r.Opt.Full {
		rec.info.AdapterParams = r.Adapter.NumParams()
		rec.info.Scale = float64(r.Adapter.Config.Scale())
	}
	if err := rec.writeInfo(); err != nil {
		return nil, err
	}
	if r.Adapter == nil || r.Opt.Full {
		if start == 0 { // no norms: drop those of an earlier run in the directory
			if err := os.Remove(filepath.Join(r.Opt.Out, NormsFile)); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		}
		return rec, nil
	}
	path := filepath.Join(r.Opt.Out, NormsFile)
	var err error
	if start == 0 {
		err = os.WriteFile(path, nil, 0o644)
	} else {
		err = truncateMetrics(path, start)
	}
	if err != nil {
		return nil, err
	}
	if rec.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
		return nil, err
	}
	if start == 0 {
		if err := rec.record(0); err != nil {
			rec.f.Close()
			return nil, err
		}
	}
	return rec, nil
}

// Hook returns an OnStep function that records and then calls next (which
// may be nil): r.OnStep = rec.Hook(r.OnStep).
func (rec *Recorder) Hook(next func(Metric)) func(Metric) {
	return func(m Metric) {
		rec.Step(m)
		if next != nil {
			next(m)
		}
	}
}

// Step takes the metric of a finished optimizer step; the first error is
// kept for Finish (OnStep cannot return one).
func (rec *Recorder) Step(m Metric) {
	rec.info.Tokens += m.Tokens
	if m.TokensPerSec > 0 {
		rec.stepSec += float64(m.Tokens) / m.TokensPerSec
	}
	if rec.f != nil && rec.err == nil && (m.Step%rec.every == 0 || m.Step == rec.run.total) {
		rec.err = rec.record(m.Step)
	}
}

// record appends the norms after step to norms.jsonl, in one write.
func (rec *Recorder) record(step int) error {
	nr := NormRecord{Step: step, Norms: map[string]float64{}}
	for name, l := range rec.run.Adapter.Modules {
		nr.Norms[name] = UpdateNorm(l)
	}
	b, err := json.Marshal(nr)
	if err != nil {
		return err
	}
	if _, err := rec.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", rec.f.Name(), err)
	}
	return nil
}

// Finish closes norms.jsonl and rewrites run.json with the outcome (runErr
// nil: "done"), the elapsed time, tokens/s and peak RSS. It returns the
// first error met while recording.
func (rec *Recorder) Finish(runErr error) error {
	if rec.f != nil {
		if err := rec.f.Close(); err != nil && rec.err == nil {
			rec.err = err
		}
		rec.f = nil
	}
	rec.info.Status = "done"
	if runErr != nil {
		rec.info.Status, rec.info.Error = "failed", runErr.Error()
	}
	rec.info.ElapsedSec = time.Since(rec.t0).Seconds()
	if rec.stepSec > 0 {
		rec.info.TokensPerSec = float64(rec.info.Tokens) / rec.stepSec
	}
	rec.info.PeakRSSBytes = rss.Peak()
	if err := rec.writeInfo(); err != nil && rec.err == nil {
		rec.err = err
	}
	return rec.err
}

func (rec *Recorder) writeInfo() error {
	js, err := json.MarshalIndent(rec.info, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(rec.run.Opt.Out, RunFile), append(js, '\n'))
}
