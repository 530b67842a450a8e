package main

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/internal/cli"
)

// golora train --method dpo (and orpo) on string and conversational pairs
// writes an adapter, and metrics.jsonl lines with TRL's preference keys.
func TestTrainPreferenceCLI(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	pairs := filepath.Join(t.TempDir(), "pairs.jsonl")
	os.WriteFile(pairs, []byte(`{"prompt": "the quick", "chosen": " brown fox", "rejected": " lazy dog"}
{"prompt": [{"role": "user", "content": "the lazy"}], "chosen": [{"role": "assistant", "content": "dog"}], "rejected": [{"role": "assistant", "content": "fox jumps"}]}
{"prompt": "jumps over", "chosen": " the lazy dog.", "rejected": " the"}
`), 0o644)
	for _, tc := range []struct {
		method string
		args   []string
		keys   []string
	}{
		{"dpo", []string{"--beta", "0.5", "--label-smoothing", "0.1"}, nil},
		{"orpo", []string{"--lambda", "0.2"}, []string{"log_odds_ratio", "log_odds_chosen", "nll_loss"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "adapter")
			args := append([]string{"train", "--model", dir, "--data", pairs, "--valid", pairs, "--out", out, "--method", tc.method,
				"--steps", "3", "--batch-size", "2", "--lr", "0.01"}, tc.args...)
			if _, errs, code := golora(t, args...); code != 0 {
				t.Fatalf("train: %s", errs)
			}
			if _, err := os.Stat(filepath.Join(out, "adapter_model.safetensors")); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			n := 0
			for ; sc.Scan(); n++ {
				var m map[string]float64
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Fatal(err)
				}
				for _, k := range append([]string{"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"}, tc.keys...) {
					if v, ok := m[k]; !ok || math.IsNaN(v) {
						t.Errorf("line %d: %s = %v, %v", n+1, k, v, ok)
					}
				}
				if d := m["rewards/margins"] - (m["rewards/chosen"] - m["rewards/rejected"]); math.Abs(d) > 1e-9 {
					t.Errorf("line %d: margin %v is not chosen − rejected", n+1, m["rewards/margins"])
				}
				if n == 2 {
					if _, ok := m["valid_loss"]; !ok {
						t.Error("no valid_loss after the last step")
					}
				}
			}
			if n != 3 {
				t.Errorf("%d metric lines, want 3", n)
			}
			report, err := os.ReadFile(filepath.Join(out, "report.html"))
			if err != nil || !strings.Contains(string(report), "rewards/margins") || !strings.Contains(string(report), strings.ToUpper(tc.method)+" loss") || !strings.Contains(string(report), "3 "+tc.method+" pairs") {
				t.Errorf("report.html: %v, shows rewards/margins: %v", err, strings.Contains(string(report), "rewards/margins"))
			}
		})
	}
}

// Preference flags and data that do not go together are refused with a
// message that says why.
func TestTrainPreferenceErrors(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	tmp := t.TempDir()
	pairs := filepath.Join(tmp, "pairs.jsonl")
	os.WriteFile(pairs, []byte(`{"prompt": "the quick", "chosen": " brown fox", "rejected": " lazy dog"}`+"\n"), 0o644)
	texts := filepath.Join(tmp, "texts.jsonl")
	os.WriteFile(texts, []byte(`{"text": "the quick brown fox"}`+"\n"), 0o644)
	cfg := filepath.Join(tmp, "c.yaml")
	os.WriteFile(cfg, []byte("method: dpo\nloss_type: ipo\n"), 0o644)
	base := []string{"train", "--model", dir, "--out", filepath.Join(tmp, "out"), "--steps", "1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", pairs}, "holds preference pairs: golora train --method dpo or orpo trains on them"},
		{[]string{"--data", texts, "--method", "dpo"}, `texts.jsonl:1: preference format without "prompt" (--method dpo trains on {"prompt", "chosen", "rejected"} lines)`},
		{[]string{"--data", pairs, "--ref-adapter", tmp}, "--ref-adapter is DPO's reference model: it needs --method dpo"},
		{[]string{"--data", pairs, "--method", "kto"}, `method "kto": want sft, dpo or orpo`},
		{[]string{"--data", pairs, "--method", "dpo", "--full"}, "cannot be combined with --full"},
		{[]string{"--data", pairs, "--method", "orpo", "--train-on-prompt"}, "--train-on-prompt is for sft"},
		{[]string{"--data", pairs, "--method", "orpo", "--label-smoothing", "0.1"}, "label-smoothing is DPO's"},
		{[]string{"--data", pairs, "--config", cfg}, `loss-type "ipo": only TRL's "sigmoid" DPO loss is implemented`},
	} {
		if _, errs, code := golora(t, append(base, tc.args...)...); code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q, want %q", tc.args, code, errs, tc.want)
		}
	}
	if _, errs, code := golora(t, "eval", "--model", dir, "--data", pairs); code == 0 || !strings.Contains(errs, "holds preference pairs") {
		t.Errorf("eval of pairs: exit %d, %q", code, errs)
	}
}

// A config file's TRL names of the DPO settings set golora's.
func TestTrainPreferenceConfigFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("method: dpo\nbeta: 0.25\nlabel_smoothing: 0.2\nloss_type: sigmoid\n"), 0o644)
	o, err := parseTrainPlus(cli.NewFlagSet("train", io.Discard), []string{"--config", cfg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Method != "dpo" || o.Beta != 0.25 || o.LabelSmoothing != 0.2 || o.LossType != "sigmoid" {
		t.Errorf("method %q beta %v label smoothing %v loss type %q", o.Method, o.Beta, o.LabelSmoothing, o.LossType)
	}
}

// golora mem --pairs counts two sequences a pair and the reference's
// forward state.
func TestMemPairs(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	var act [2]int64
	for i, args := range [][]string{{"mem", "--model", dir, "--json"}, {"mem", "--model", dir, "--json", "--pairs"}} {
		stdout, errs, code := golora(t, args...)
		if code != 0 {
			t.Fatalf("%v: %s", args, errs)
		}
		var b struct {
			Activations int64 `json:"activations_bytes"`
		}
		if err := json.Unmarshal([]byte(stdout), &b); err != nil {
			t.Fatal(err)
		}
		act[i] = b.Activations
	}
	if act[1] <= 2*act[0] {
		t.Errorf("activations %d bytes with --pairs, %d without: want more than twice as many", act[1], act[0])
	}
}
