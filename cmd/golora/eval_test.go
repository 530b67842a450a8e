package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/runlog"
)

// refSequences writes the lora_train fixture's sequences (with their
// masked labels) as jsonl and returns its expected losses.
func refSequences(t *testing.T) (path string, exp map[string]json.RawMessage) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(ref, "lora_train", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &exp)
	var ids, labels [][]int
	json.Unmarshal(exp["ids"], &ids)
	json.Unmarshal(exp["labels"], &labels)
	var b bytes.Buffer
	for i := range ids {
		line, _ := json.Marshal(map[string]any{"input_ids": ids[i], "labels": labels[i]})
		b.Write(append(line, '\n'))
	}
	path = filepath.Join(t.TempDir(), "ref.jsonl")
	os.WriteFile(path, b.Bytes(), 0o644)
	return path, exp
}

func TestEvalMatchesReference(t *testing.T) {
	data, exp := refSequences(t)
	var want float64
	json.Unmarshal(exp["loss_with_adapter_init"], &want)
	stdout, errs, code := golora(t, "eval", "--model", filepath.Join(ref, "lora_train"),
		"--adapter", filepath.Join(ref, "lora_train", "adapter_init"), "--data", data, "--json", "--batch-size", "1")
	if code != 0 {
		t.Fatalf("eval: %s", errs)
	}
	var r evalResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if math.Abs(r.Loss-want) > 1e-4*want {
		t.Errorf("loss %.7f, PyTorch %.7f", r.Loss, want)
	}
	// mean_token_accuracy from PyTorch's logits: position t predicts labels[t+1].
	var logits [][][]float64
	var labels [][]int
	json.Unmarshal(exp["logits_with_adapter_init"], &logits)
	json.Unmarshal(exp["labels"], &labels)
	hits, targets := 0, 0
	for b := range labels {
		for t := 0; t+1 < len(labels[b]); t++ {
			if labels[b][t+1] == -100 {
				continue
			}
			targets++
			row := logits[b][t]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == labels[b][t+1] {
				hits++
			}
		}
	}
	if wantAcc := float64(hits) / float64(targets); targets != 10 || r.Accuracy != wantAcc {
		t.Errorf("mean_token_accuracy %v, from PyTorch's logits %d/%d", r.Accuracy, hits, targets)
	}
	if math.Abs(r.Perplexity-math.Exp(r.Loss)) > 1e-9*r.Perplexity || r.Examples != 2 || r.Tokens != 10 {
		t.Errorf("perplexity %g for loss %g, %d examples, %d tokens (want 2 and 10: masked labels are not scored)", r.Perplexity, r.Loss, r.Examples, r.Tokens)
	}
	// Without the adapter the loss differs; the text form gives both numbers.
	text, errs, code := golora(t, "eval", "--model", filepath.Join(ref, "lora_train"), "--data", data)
	if code != 0 {
		t.Fatalf("eval: %s", errs)
	}
	var loss, ppl, acc float64
	if _, err := fmt.Sscanf(text, "loss %g nats/token, perplexity %g, mean token accuracy %g", &loss, &ppl, &acc); err != nil {
		t.Fatalf("text output %q: %v", text, err)
	}
	if loss == r.Loss || math.Abs(ppl-math.Exp(loss)) > 1e-3*ppl {
		t.Errorf("base model: loss %g (with the adapter %g), perplexity %g", loss, r.Loss, ppl)
	}
}

func TestEvalErrors(t *testing.T) {
	dir := t.TempDir()
	masked := filepath.Join(dir, "masked.jsonl")
	os.WriteFile(masked, []byte(`{"input_ids": [1, 2, 3], "labels": [-100, -100, -100]}`+"\n"), 0o644)
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"input_ids": [1, 2, 3]}`+"\n"+`{"input_ids": [1, 999]}`+"\n"), 0o644)
	m := filepath.Join(ref, "lora_train")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", m}, "--data"},
		{[]string{"eval", "--model", m, "--data", masked}, "masked.jsonl:1"},
		{[]string{"eval", "--model", m, "--data", bad}, "bad.jsonl:2"},
		{[]string{"eval", "--model", m, "--data", filepath.Join(dir, "none.jsonl")}, "none.jsonl"},
		{[]string{"eval", "--model", m, "--data", masked, "--adapter", filepath.Join(dir, "noadapter")}, "noadapter"},
		{[]string{"eval", "--model", m, "--data", masked, "--batch-size", "0"}, "--batch-size"},
	} {
		_, errs, code := golora(t, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errs, tc.want)
		}
	}
}

// eval scores {"messages"} data with the model's chat template, as
// training does: its loss over the validation file equals the valid_loss
// training reported for it at the end.
func TestEvalMatchesTrainingValidLoss(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"chat_template": "{% for m in messages %}<{{ m.role }}> {{ m.content }}\n{% endfor %}"}`), 0o644)
	var b strings.Builder
	for _, q := range []string{"the quick fox", "the lazy dog", "over the dog", "jumps over"} {
		fmt.Fprintf(&b, `{"messages": [{"role": "user", "content": "say %s"}, {"role": "assistant", "content": "%s the brown fox"}]}`+"\n", q, q)
	}
	chats := filepath.Join(t.TempDir(), "chats.jsonl")
	os.WriteFile(chats, []byte(b.String()), 0o644)
	out := filepath.Join(t.TempDir(), "adapter")
	if _, errs, code := golora(t, "train", "--model", dir, "--data", chats, "--valid", chats, "--out", out,
		"--steps", "3", "--batch-size", "2", "--lr", "0.01"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	ms, err := runlog.ReadMetrics(filepath.Join(out, runlog.MetricsFile))
	if err != nil || len(ms) != 3 || ms[2].ValidLoss == nil {
		t.Fatalf("metrics: %v %+v", err, ms)
	}
	stdout, errs, code := golora(t, "eval", "--model", dir, "--adapter", out, "--data", chats, "--json")
	if code != 0 {
		t.Fatalf("eval: %s", errs)
	}
	var r evalResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if want := *ms[2].ValidLoss; math.Abs(r.Loss-want) > 1e-6*want {
		t.Errorf("eval loss %.7f, training's final valid_loss %.7f", r.Loss, want)
	}
}

// --enable-thinking reaches the chat template in generate --chat, eval
// and train, and run.json records it.
func TestEnableThinkingFlag(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"chat_template": "{% for m in messages %}<{{ m.role }}> {% if m.role == 'assistant' and enable_thinking is defined and not enable_thinking %}the lazy dog {% endif %}{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant> {% if enable_thinking is defined and not enable_thinking %}the lazy dog {% endif %}{% endif %}"}`), 0o644)
	promptIDs := func(extra ...string) []int {
		t.Helper()
		out, errs, code := golora(t, append([]string{"generate", "--model", dir, "--prompt", "the dog", "--max-tokens", "1", "--json", "--chat", "--seed", "1"}, extra...)...)
		if code != 0 {
			t.Fatal(errs)
		}
		var r struct {
			PromptIDs []int `json:"prompt_ids"`
		}
		json.Unmarshal([]byte(out), &r)
		return r.PromptIDs
	}
	if a, b := promptIDs(), promptIDs("--enable-thinking=false"); len(b) <= len(a) {
		t.Errorf("generate --enable-thinking=false: prompt ids %v, without %v", b, a)
	}
	chats := filepath.Join(t.TempDir(), "chats.jsonl")
	os.WriteFile(chats, []byte(`{"messages": [{"role": "user", "content": "say the fox"}, {"role": "assistant", "content": "the quick brown fox"}]}`+"\n"), 0o644)
	loss := func(extra ...string) float64 {
		t.Helper()
		out, errs, code := golora(t, append([]string{"eval", "--model", dir, "--data", chats, "--json"}, extra...)...)
		if code != 0 {
			t.Fatal(errs)
		}
		var r evalResult
		json.Unmarshal([]byte(out), &r)
		return r.Loss
	}
	if a, b := loss(), loss("--enable-thinking=false"); a == b {
		t.Errorf("eval --enable-thinking=false scores the same loss %v", a)
	}
	out := filepath.Join(t.TempDir(), "adapter")
	if _, errs, code := golora(t, "train", "--model", dir, "--data", chats, "--out", out, "--steps", "1", "--enable-thinking=false"); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	ri, err := runlog.ReadRunInfo(filepath.Join(out, runlog.RunFile))
	if err != nil || ri.Options.EnableThinking == nil || *ri.Options.EnableThinking {
		t.Errorf("run.json enable-thinking: %v, %v", ri, err)
	}
}
