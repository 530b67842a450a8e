package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// A checkpoint is a directory holding the trainable weights (a PEFT
// adapter, or model.safetensors in full fine-tuning), the AdamW moments in
// optimizer.safetensors and trainer_state.json (CheckpointState: the step,
// the run's length, its Config and the application's Settings). It is
// written into a temporary directory (DIR.tmp) that is renamed into place,
// so a checkpoint directory either is complete or does not exist.

const (
	optimizerFile = "optimizer.safetensors"
	paramsFile    = "model.safetensors"
)

// CheckpointState is a checkpoint's trainer_state.json.
type CheckpointState struct {
	Step   int    `json:"step"`        // optimizer steps made
	Total  int    `json:"total_steps"` // the run's length when it was written
	Config Config `json:"options"`
	// Settings are the Run's Settings when it had them (checkpoints of
	// earlier golora versions have none).
	Settings *runlog.Settings `json:"settings,omitempty"`
}

// ReadCheckpointState reads the trainer_state.json of the checkpoint in
// dir.
func ReadCheckpointState(dir string) (CheckpointState, error) {
	var st CheckpointState
	path := filepath.Join(dir, runlog.TrainerStateFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// SaveCheckpoint writes the run's state after its last step into dir
// (replacing what is there); dir's parent must exist. On an error (a full
// disk, a read-only directory) the temporary directory is removed and dir
// is left as it was.
func (r *Run) SaveCheckpoint(dir string) (err error) {
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
			err = fmt.Errorf("checkpoint %s: %w", dir, err)
		}
	}()
	if err := r.SaveWeights(tmp); err != nil {
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
	js, _ := json.MarshalIndent(CheckpointState{Step: r.done, Total: r.total, Config: r.Config, Settings: r.Settings}, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(tmp, runlog.TrainerStateFile), append(js, '\n')); err != nil {
		return err
	}
	return replaceDir(tmp, dir)
}

// replaceDir renames the complete directory tmp to dir. An existing dir
// is moved aside (DIR.old), not deleted, until tmp is in place.
func replaceDir(tmp, dir string) error {
	old := dir + ".old"
	os.RemoveAll(old)
	moved := os.Rename(dir, old) == nil
	if err := os.Rename(tmp, dir); err != nil {
		if moved {
			os.Rename(old, dir)
		}
		return err
	}
	return os.RemoveAll(old)
}

// SaveWeightsAtomically is SaveWeights into DIR.tmp renamed into place:
// dir holds either the weights it held before or the new ones, whole.
func (r *Run) SaveWeightsAtomically(dir string) (err error) {
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := r.SaveWeights(tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := replaceDir(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// SaveWeights writes the trainable weights into dir (made if missing): the
// adapter as a PEFT directory, or in full fine-tuning the whole model as
// float32 model.safetensors and config.json.
func (r *Run) SaveWeights(dir string) error {
	if !r.Full {
		return r.Adapter.Save(dir)
	}
	return r.Model.Save(dir, tensor.F32)
}

// LoadCheckpoint restores weights and optimizer state from the checkpoint
// in dir and returns its step, from which Fit continues. The run must have
// been prepared with the same Config and data, except that it may be
// longer (more Steps or Epochs) than the run that wrote the checkpoint: it
// is then extended, as the Hugging Face Trainer extends a run resumed with
// a larger max_steps (the scheduler is rebuilt for the new length and its
// step count restored). With N the checkpointed run's length and M > N
// this run's, the steps before the checkpoint's step S were made with
// optim.LR over N and every step k ≥ S gets optim.LR(Schedule, LR, k,
// Warmup, M), the rate an uninterrupted M-step run has at k: constant
// stays LR; linear is LR·(M−k)/max(1, M−Warmup) past the warmup, so a
// completed run (S = N) goes on from LR·(M−N)/(M−Warmup) down to LR/(M−Warmup)
// at k = M−1; cosine is LR·½(1+cos(π·(k−Warmup)/max(1, M−Warmup))). A
// shorter run than the checkpoint's is refused.
func (r *Run) LoadCheckpoint(dir string) (step int, err error) {
	st, err := ReadCheckpointState(dir)
	if err != nil {
		return 0, err
	}
	if st.Total > r.total || st.Step > r.total {
		return 0, fmt.Errorf("%s: the checkpoint belongs to a run of %d steps, this run has %d: a resumed run can be extended (more steps or epochs), not shortened", dir, st.Total, r.total)
	}
	if have, want := st.Config.method(), r.Config.method(); have != want {
		return 0, fmt.Errorf("%s: the checkpoint belongs to a %s run, this run is %s; resume with the same options", dir, have, want)
	}
	if st.Config.Packing != r.Config.Packing {
		return 0, fmt.Errorf("%s: the checkpoint belongs to a run with packing %v, this run has %v: its steps draw other examples; resume with the same options", dir, st.Config.Packing, r.Config.Packing)
	}
	wfile := filepath.Join(dir, paramsFile)
	if !r.Full {
		wfile = filepath.Join(dir, lora.WeightsFile)
	}
	wf, err := safetensors.Open(wfile)
	if err != nil {
		return 0, err
	}
	defer wf.Close()
	of, err := safetensors.Open(filepath.Join(dir, optimizerFile))
	if err != nil {
		return 0, err
	}
	defer of.Close()
	n, err := strconv.Atoi(of.Metadata()["optimizer_step"])
	if err != nil {
		return 0, fmt.Errorf("%s: metadata optimizer_step missing", of.Path())
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
			return 0, err
		}
		if err := get(of, "exp_avg."+p.Name, m[i]); err != nil {
			return 0, err
		}
		if err := get(of, "exp_avg_sq."+p.Name, v[i]); err != nil {
			return 0, err
		}
	}
	if err := r.opt.SetState(m, v, n); err != nil {
		return 0, err
	}
	r.done = st.Step
	return st.Step, nil
}
