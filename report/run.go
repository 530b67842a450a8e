package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// Run is what a finished (or interrupted) training run left in its
// directory, as the report reads it. Every part but the directory itself
// may be missing; Notes says what was and why it matters.
type Run struct {
	Dir     string
	Info    *runlog.RunInfo  // run.json; nil for runs that did not write one
	Options *runlog.Settings // from run.json, else the newest checkpoint's trainer_state.json
	Metrics []runlog.Metric
	// Norms are ‖s·B·A‖_F by recorded step and module: from norms.jsonl,
	// else rebuilt from the checkpoints and the final adapter.
	Norms     []runlog.NormRecord
	NormsFrom string
	Adapter   *Adapter // the final adapter, or the newest checkpoint's; nil in full fine-tuning
	Full      bool     // a full fine-tuning run (it saved model weights, not an adapter)
	// SavedBytes is the size of what the run saved as its result: the
	// adapter (weights and config), or the full model.
	SavedBytes int64
	// SavedParams is the number of values in the saved weights.
	SavedParams int
	Notes       []string
}

// Adapter is a PEFT adapter read from disk.
type Adapter struct {
	Dir     string
	Config  *lora.Config
	Scale   float64
	Modules []*Module // by name
	Bytes   int64     // adapter_model.safetensors + adapter_config.json
}

// Module is one adapted linear module.
type Module struct {
	Name  string // model.layers.3.self_attn.q_proj
	Kind  string // q_proj
	Layer int    // -1 when the name carries no layer index
	A, B  tensor.Mat
	Norm  float64 // ‖s·B·A‖_F
}

// Load reads a run directory. It fails only when dir is not a run at all
// (no metrics.jsonl, no run.json and no saved weights).
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	found := false
	if ri, err := runlog.ReadRunInfo(filepath.Join(dir, runlog.RunFile)); err == nil {
		r.Info, r.Options, found = ri, &ri.Options, true
		r.Full = ri.Options.Full
	} else if !errors.Is(err, fs.ErrNotExist) {
		r.note("%v", err)
	}
	if r.Options == nil {
		if o, err := checkpointOptions(dir); err == nil && o != nil {
			r.Options = o
			r.Full = o.Full
		}
	}
	if ms, err := runlog.ReadMetrics(filepath.Join(dir, "metrics.jsonl")); err == nil {
		r.Metrics, found = ms, true
	} else if len(ms) > 0 {
		r.Metrics, found = ms, true
		r.note("%v (the lines before it are used)", err)
	} else if !errors.Is(err, fs.ErrNotExist) {
		r.note("%v", err)
	}
	// The result: an adapter, else a full model, else the newest checkpoint's.
	adir := dir
	if !exists(filepath.Join(dir, lora.WeightsFile)) && !exists(filepath.Join(dir, "config.json")) {
		if step, _ := runlog.LatestCheckpoint(dir); step > 0 {
			adir = runlog.CheckpointDir(dir, step)
			r.note("no final weights in %s: showing checkpoint-%d", dir, step)
		}
	}
	// A full fine-tuning run saves a model; an adapter left in the
	// directory by an earlier run is not its result.
	if exists(filepath.Join(adir, lora.WeightsFile)) && !r.Full {
		a, err := ReadAdapter(adir)
		if err != nil {
			return nil, err
		}
		r.Adapter, found = a, true
		r.SavedBytes = a.Bytes
		for _, m := range a.Modules {
			r.SavedParams += m.A.Rows*m.A.Cols + m.B.Rows*m.B.Cols
		}
	} else if exists(filepath.Join(adir, "config.json")) {
		if n, b, err := ModelSize(adir); err == nil {
			r.Full, found = true, true
			r.SavedBytes, r.SavedParams = b, n
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: not a golora training run (no metrics.jsonl, %s or saved weights)", dir, runlog.RunFile)
	}
	if r.Adapter != nil {
		r.loadNorms()
	}
	return r, nil
}

func (r *Run) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkpointOptions reads the options of the newest checkpoint.
func checkpointOptions(dir string) (*runlog.Settings, error) {
	step, err := runlog.LatestCheckpoint(dir)
	if err != nil || step == 0 {
		return nil, err
	}
	path := filepath.Join(runlog.CheckpointDir(dir, step), "trainer_state.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st struct {
		Options runlog.Settings `json:"options"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st.Options, nil
}

// loadNorms reads norms.jsonl, or rebuilds the norms from the checkpoints
// and the final adapter for runs that did not record them.
func (r *Run) loadNorms() {
	path := filepath.Join(r.Dir, runlog.NormsFile)
	ns, err := runlog.ReadNorms(path)
	if err == nil && len(ns) > 0 {
		r.Norms, r.NormsFrom = ns, runlog.NormsFile
		return
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.note("%v", err)
	}
	entries, _ := os.ReadDir(r.Dir)
	var steps []int
	for _, e := range entries {
		if s, ok := strings.CutPrefix(e.Name(), "checkpoint-"); ok && e.IsDir() {
			if n, err := strconv.Atoi(s); err == nil && exists(filepath.Join(r.Dir, e.Name(), lora.WeightsFile)) {
				steps = append(steps, n)
			}
		}
	}
	sort.Ints(steps)
	for _, s := range steps {
		a, err := ReadAdapter(runlog.CheckpointDir(r.Dir, s))
		if err != nil {
			r.note("%v", err)
			continue
		}
		r.Norms = append(r.Norms, a.normRecord(s))
	}
	last := 0
	if len(r.Metrics) > 0 {
		last = r.Metrics[len(r.Metrics)-1].Step
	}
	if r.Adapter.Dir == r.Dir && (len(steps) == 0 || last > steps[len(steps)-1]) {
		r.Norms = append(r.Norms, r.Adapter.normRecord(last))
	}
	r.NormsFrom = "checkpoints"
	r.note("no %s in %s (a run from before golora recorded norms): the norms are those of the checkpoints and the final adapter", runlog.NormsFile, r.Dir)
}

func (a *Adapter) normRecord(step int) runlog.NormRecord {
	nr := runlog.NormRecord{Step: step, Norms: map[string]float64{}}
	for _, m := range a.Modules {
		nr.Norms[m.Name] = m.Norm
	}
	return nr
}

// ReadAdapter reads a PEFT adapter directory without a base model
// (lora.ReadDir): its config and every module's A and B (as float32).
func ReadAdapter(dir string) (*Adapter, error) {
	f, err := lora.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	cfg := f.Config
	a := &Adapter{Dir: dir, Config: cfg, Scale: float64(cfg.Scale())}
	for _, p := range []string{filepath.Join(dir, lora.WeightsFile), filepath.Join(dir, lora.ConfigFile)} {
		if fi, err := os.Stat(p); err == nil {
			a.Bytes += fi.Size()
		}
	}
	for _, fm := range f.Modules {
		layer, ok := lora.LayerIndex(fm.Path)
		if !ok {
			layer = -1
		}
		m := &Module{Name: fm.Path, Kind: fm.Path[strings.LastIndex(fm.Path, ".")+1:], Layer: layer, A: fm.A, B: fm.B}
		m.Norm = a.Scale * lora.ProductNorm(m.B, m.A)
		a.Modules = append(a.Modules, m)
	}
	sort.Slice(a.Modules, func(i, j int) bool { return moduleLess(a.Modules[i], a.Modules[j]) })
	return a, nil
}

// moduleLess orders modules by layer, then by name.
func moduleLess(a, b *Module) bool {
	if a.Layer != b.Layer {
		return a.Layer < b.Layer
	}
	return a.Name < b.Name
}

// ModelSize returns the number of values and the bytes of a model
// directory's weights (with config.json and the shard index).
func ModelSize(dir string) (params int, bytes int64, err error) {
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return 0, 0, err
	}
	defer set.Close()
	for _, n := range set.Names() {
		t, _ := set.Tensor(n)
		params += t.NumElements()
	}
	files := append(set.Files(), filepath.Join(dir, "config.json"), filepath.Join(dir, safetensors.IndexFileName))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			bytes += fi.Size()
		}
	}
	return params, bytes, nil
}

// FinalValidLoss is the last validation loss of the run (NaN when none).
func (r *Run) FinalValidLoss() float64 {
	for i := len(r.Metrics) - 1; i >= 0; i-- {
		if v := r.Metrics[i].ValidLoss; v != nil {
			return *v
		}
	}
	return math.NaN()
}

// FinalLoss is the training loss of the last step (NaN when none).
func (r *Run) FinalLoss() float64 {
	if len(r.Metrics) == 0 {
		return math.NaN()
	}
	return r.Metrics[len(r.Metrics)-1].Loss
}

// TokensPerSec is the training throughput: tokens over the time spent in
// optimizer steps (validation excluded), from run.json or the metrics.
func (r *Run) TokensPerSec() float64 {
	if r.Info != nil && r.Info.TokensPerSec > 0 {
		return r.Info.TokensPerSec
	}
	var tok, sec float64
	for _, m := range r.Metrics {
		if m.TokensPerSec > 0 {
			tok += float64(m.Tokens)
			sec += float64(m.Tokens) / m.TokensPerSec
		}
	}
	if sec == 0 {
		return 0
	}
	return tok / sec
}

// TrainableParams is the number of trained values: from run.json, else
// those of the saved weights.
func (r *Run) TrainableParams() int {
	if r.Info != nil && r.Info.TrainableParams > 0 {
		return r.Info.TrainableParams
	}
	return r.SavedParams
}

// PeakRSS is the training process's peak resident memory in bytes (0 when
// not recorded).
func (r *Run) PeakRSS() int64 {
	if r.Info != nil {
		return r.Info.PeakRSSBytes
	}
	return 0
}

// ModelDir is the base model directory the run names (run.json, the
// checkpoint's options, or adapter_config.json's base_model_name_or_path).
func (r *Run) ModelDir() string {
	var cands []string
	if r.Info != nil {
		cands = append(cands, r.Info.ModelPath)
	}
	if r.Options != nil {
		cands = append(cands, r.Options.Model)
	}
	if r.Adapter != nil {
		cands = append(cands, r.Adapter.Config.BaseModel)
	}
	for _, c := range cands {
		if c != "" && exists(filepath.Join(c, "config.json")) {
			return c
		}
	}
	for _, c := range cands {
		if c != "" {
			return c
		}
	}
	return ""
}
