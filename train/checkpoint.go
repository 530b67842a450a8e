package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// A checkpoint is OUT/checkpoint-<step>/ holding the trainable weights (a
// PEFT adapter, or model.safetensors in full fine-tuning), the AdamW moments
// in optimizer.safetensors and trainer_state.json. It is written into a
// temporary directory that is renamed into place, so a checkpoint directory
// either is complete or does not exist.

const (
	optimizerFile = "optimizer.safetensors"
	stateFile     = "trainer_state.json"
	paramsFile    = "model.safetensors"
)

type trainerState struct {
	Step    int     `json:"step"`
	Total   int     `json:"total_steps"`
	Options Options `json:"options"`
}

// CheckpointDir is the directory of the checkpoint after step.
func CheckpointDir(out string, step int) string {
	return filepath.Join(out, fmt.Sprintf("checkpoint-%d", step))
}

// SaveCheckpoint writes the checkpoint after step.
func (r *Run) SaveCheckpoint(step int) error {
	final := CheckpointDir(r.Opt.Out, step)
	tmp := final + ".tmp"
	os.RemoveAll(tmp)
	if err := r.saveWeights(tmp); err != nil {
		return err
	}
	m, v, n := r.opt.State()
	var ts []safetensors.Tensor
	for i, p := range r.params {
		ts = append(ts, safetensors.FromF32("exp_avg."+p.Name, []int{len(m[i])}, m[i]),
			safetensors.FromF32("exp_avg_sq."+p.Name, []int{len(v[i])}, v[i]))
	}
	if err := safetensors.Write(filepath.Join(tmp, optimizerFile), ts, map[string]string{"optimizer_step": strconv.Itoa(n)}); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(trainerState{Step: step, Total: r.total, Options: r.Opt}, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(tmp, stateFile), append(js, '\n')); err != nil {
		return err
	}
	os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// saveWeights writes the trainable weights: the adapter, or the full model.
func (r *Run) saveWeights(dir string) error {
	if r.Adapter != nil && !r.Opt.Full {
		return r.Adapter.Save(dir)
	}
	return r.Model.Save(dir, tensor.F32)
}

// SaveFinal writes the trained adapter (or model) into OUT.
func (r *Run) SaveFinal() error { return r.saveWeights(r.Opt.Out) }

// LatestCheckpoint returns the step of the newest complete checkpoint in
// out, or 0 when there is none.
func LatestCheckpoint(out string) (int, error) {
	entries, err := os.ReadDir(out)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, err
	}
	var steps []int
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), "checkpoint-")
		if n, err := strconv.Atoi(s); ok && err == nil && e.IsDir() {
			if _, err := os.Stat(filepath.Join(out, e.Name(), stateFile)); err == nil {
				steps = append(steps, n)
			}
		}
	}
	if len(steps) == 0 {
		return 0, nil
	}
	sort.Ints(steps)
	return steps[len(steps)-1], nil
}

// LoadCheckpoint restores weights and optimizer state from the checkpoint
// after step; the run must have been prepared with the same options.
func (r *Run) LoadCheckpoint(step int) error {
	dir := CheckpointDir(r.Opt.Out, step)
	var st trainerState
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Total != r.total {
		return fmt.Errorf("%s: the checkpoint belongs to a run of %d steps, this run has %d; resume with the same options", dir, st.Total, r.total)
	}
	wfile := filepath.Join(dir, paramsFile)
	if r.Adapter != nil && !r.Opt.Full {
		wfile = filepath.Join(dir, "adapter_model.safetensors")
	}
	wf, err := safetensors.Open(wfile)
	if err != nil {
		return err
	}
	defer wf.Close()
	of, err := safetensors.Open(filepath.Join(dir, optimizerFile))
	if err != nil {
		return err
	}
	defer of.Close()
	n, err := strconv.Atoi(of.Metadata()["optimizer_step"])
	if err != nil {
		return fmt.Errorf("%s: metadata optimizer_step missing", of.Path())
	}
	get := func(f *safetensors.File, name string, dst []float32) error {
		t, ok := f.Tensor(name)
		if !ok {
			return fmt.Errorf("%s: tensor %q is missing", f.Path(), name)
		}
		v, err := t.F32()
		if err != nil {
			return err
		}
		if len(v) != len(dst) {
			return fmt.Errorf("%s: tensor %q has %d values, want %d", f.Path(), name, len(v), len(dst))
		}
		copy(dst, v)
		return nil
	}
	m, v, _ := r.opt.State()
	for i, p := range r.params {
		if err := get(wf, p.Name, p.W.F32); err != nil {
			return err
		}
		if err := get(of, "exp_avg."+p.Name, m[i]); err != nil {
			return err
		}
		if err := get(of, "exp_avg_sq."+p.Name, v[i]); err != nil {
			return err
		}
	}
	return r.opt.SetState(m, v, n)
}

// truncateMetrics keeps the lines of metrics.jsonl whose step is ≤ upto.
func truncateMetrics(path string, upto int) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var m struct{ Step int }
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Step <= upto {
			keep.Write(sc.Bytes())
			keep.WriteByte('\n')
		}
	}
	return atomicfile.WriteFile(path, keep.Bytes())
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
