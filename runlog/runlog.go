// Package runlog reads and writes what a training run leaves in its output
// directory, for the application that trains (package finetune) and for
// the report that draws it, without either importing the other:
//
//	OUT/metrics.jsonl     one Metric per optimizer step
//	OUT/norms.jsonl       one NormRecord per recorded step: ‖s·B·A‖_F by module
//	OUT/run.json          RunInfo: the run's Settings, sizes and resources
//	OUT/checkpoint-<N>/   the state after step N (written by package train)
//	OUT/runs/             TensorBoard event files (EventWriter), when asked for
//
// The jsonl files are appended one line per write; a resumed run first
// keeps only the lines of steps up to the checkpoint it resumes from, so a
// file always reads as one run.
package runlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/golora/golora/internal/atomicfile"
)

// File names in a run directory.
const (
	MetricsFile = "metrics.jsonl"
	NormsFile   = "norms.jsonl"
	RunFile     = "run.json"
	// TrainerStateFile is the file whose presence marks a checkpoint
	// directory as complete (package train writes it last).
	TrainerStateFile = "trainer_state.json"
)

// Metric is one line of metrics.jsonl: the state after an optimizer step.
type Metric struct {
	Step         int      `json:"step"`
	Epoch        float64  `json:"epoch"`
	Loss         float64  `json:"loss"`
	Accuracy     float64  `json:"mean_token_accuracy"` // targets whose label is the logits' argmax, as a fraction
	LR           float64  `json:"lr"`
	GradNorm     float64  `json:"grad_norm"`
	Tokens       int      `json:"tokens"`
	TokensPerSec float64  `json:"tokens_per_sec"`
	ElapsedSec   float64  `json:"elapsed_sec"`
	ValidLoss    *float64 `json:"valid_loss,omitempty"`
	// Preference holds the metrics of a DPO or ORPO step, under TRL's
	// names at the line's top level; nil (absent) in other runs.
	*Preference
}

// Preference are the metrics of a preference-training step, means over
// its pairs, in TRL's names. The reward of a completion is β·(log π −
// log π_ref) in DPO and λ·log π in ORPO, where log π is the completion
// tokens' summed (DPO) or mean (ORPO) log-probability under the trained
// model and log π_ref under the reference.
type Preference struct {
	RewardsChosen   float64 `json:"rewards/chosen"`
	RewardsRejected float64 `json:"rewards/rejected"`
	// RewardsAccuracy is the fraction of pairs whose chosen reward is
	// above the rejected one; RewardsMargin the mean difference.
	RewardsAccuracy float64 `json:"rewards/accuracies"`
	RewardsMargin   float64 `json:"rewards/margins"`
	LogpsChosen     float64 `json:"logps/chosen"`
	LogpsRejected   float64 `json:"logps/rejected"`
	// ORPO alone: the mean of log σ(log odds ratio), the mean log odds
	// ratio, and the chosen completions' mean NLL per token.
	LogOddsRatio  *float64 `json:"log_odds_ratio,omitempty"`
	LogOddsChosen *float64 `json:"log_odds_chosen,omitempty"`
	NLLLoss       *float64 `json:"nll_loss,omitempty"`
}

// NormRecord is one line of norms.jsonl: after optimizer step Step (0: the
// adapter as training found it), the Frobenius norm of each module's update
// s·B·A, by module name (e.g. model.layers.0.self_attn.q_proj).
type NormRecord struct {
	Step  int                `json:"step"`
	Norms map[string]float64 `json:"norms"`
}

// Writer appends records of type T (Metric or NormRecord) to a jsonl file,
// one JSON line per Write.
type Writer[T any] struct{ f *os.File }

// OpenMetrics opens dir/metrics.jsonl for a run that continues from step
// start: empty for a fresh run (start 0), else cut to the lines of steps
// ≤ start.
func OpenMetrics(dir string, start int) (*Writer[Metric], error) {
	return open[Metric](filepath.Join(dir, MetricsFile), start)
}

// OpenNorms opens dir/norms.jsonl as OpenMetrics opens metrics.jsonl.
func OpenNorms(dir string, start int) (*Writer[NormRecord], error) {
	return open[NormRecord](filepath.Join(dir, NormsFile), start)
}

func open[T any](path string, start int) (*Writer[T], error) {
	var err error
	if start == 0 {
		err = os.WriteFile(path, nil, 0o644)
	} else {
		err = truncate(path, start)
	}
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &Writer[T]{f}, nil
}

// Write appends x as one line.
func (w *Writer[T]) Write(x T) error {
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	// One write call per line: a reader never sees a partial line unless
	// the machine stops mid-write, and a resumed run rewrites the file.
	if _, err := w.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", w.f.Name(), err)
	}
	return nil
}

// Close closes the file.
func (w *Writer[T]) Close() error { return w.f.Close() }

// truncate keeps the lines of a jsonl file whose "step" is ≤ upto (a file
// that does not exist becomes empty).
func truncate(path string, upto int) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(make([]byte, 1<<16), 1<<28)
	for sc.Scan() {
		var m struct{ Step int }
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Step <= upto {
			keep.Write(sc.Bytes())
			keep.WriteByte('\n')
		}
	}
	return atomicfile.WriteFile(path, keep.Bytes())
}

// ReadMetrics parses a metrics.jsonl file. On a bad line it returns the
// lines before it and an error naming path:line.
func ReadMetrics(path string) ([]Metric, error) { return read[Metric](path) }

// ReadNorms parses a norms.jsonl file as ReadMetrics does.
func ReadNorms(path string) ([]NormRecord, error) { return read[NormRecord](path) }

// read parses a jsonl file, skipping blank lines.
func read[T any](path string) ([]T, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<16), 1<<28)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var x T
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			return out, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, x)
	}
	return out, sc.Err()
}

// BestDir (OUT/best) holds the adapter of the evaluation with the lowest
// validation loss so far.
const BestDir = "best"

// CheckpointDir is the directory of the checkpoint after step.
func CheckpointDir(out string, step int) string {
	return filepath.Join(out, fmt.Sprintf("checkpoint-%d", step))
}

// LatestCheckpoint returns the step of the newest complete checkpoint in
// out (one with its TrainerStateFile), or 0 when there is none.
func LatestCheckpoint(out string) (int, error) {
	steps, err := Checkpoints(out)
	if len(steps) == 0 {
		return 0, err
	}
	return steps[len(steps)-1], nil
}

// Checkpoints returns the steps of the complete checkpoints in out (those
// with their TrainerStateFile), oldest first; none when out does not exist.
func Checkpoints(out string) ([]int, error) {
	entries, err := os.ReadDir(out)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), "checkpoint-")
		if n, err := strconv.Atoi(s); ok && err == nil && e.IsDir() {
			if _, err := os.Stat(filepath.Join(out, e.Name(), TrainerStateFile)); err == nil {
				steps = append(steps, n)
			}
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// Temporaries lists what interrupted writes leave at the top of a run
// directory: checkpoint-N.tmp, checkpoint-N.old, best.tmp and best.old
// directories (package train) and .NAME.tmp-* files (package atomicfile).
func Temporaries(out string) ([]string, error) {
	entries, err := os.ReadDir(out)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var tmp []string
	for _, e := range entries {
		n := e.Name()
		if (strings.HasPrefix(n, "checkpoint-") || n == BestDir+".tmp" || n == BestDir+".old") && (strings.HasSuffix(n, ".tmp") || strings.HasSuffix(n, ".old")) ||
			strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") {
			tmp = append(tmp, filepath.Join(out, n))
		}
	}
	return tmp, nil
}
