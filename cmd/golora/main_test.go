package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/golora/golora/finetune"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer"
)

// golora runs the CLI in-process and returns stdout, stderr and the exit code.
func golora(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

const ref = "../../testdata/ref"

type logitsOut struct {
	Logits [][]float64 `json:"logits"`
}

func parseLogits(t *testing.T, s string) [][]float64 {
	t.Helper()
	var l logitsOut
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatalf("logits output is not JSON: %v\n%s", err, s)
	}
	return l.Logits
}

// maxRelErr is max|got−want| / max|want| over two [positions][vocab]
// tables of the same shape; a shape mismatch fails the test.
func maxRelErr(t *testing.T, got, want [][]float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows of logits, want %d", len(got), len(want))
	}
	var num, den float64
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("row %d: %d logits, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			num = math.Max(num, math.Abs(got[i][j]-want[i][j]))
			den = math.Max(den, math.Abs(want[i][j]))
		}
	}
	return num / den
}

func idsArg(ids []int) string {
	var s []string
	for _, id := range ids {
		s = append(s, strconv.Itoa(id))
	}
	return strings.Join(s, ",")
}

func TestLogitsMatchesReference(t *testing.T) {
	for _, tc := range []struct{ dir, key, adapter string }{
		{"llama_f32", "logits", ""},
		{"qwen2_f32_bias", "logits", ""},
		{"qwen3_bf16_tied", "logits", ""},
		{"lora_train", "logits_with_adapter_init", "lora_train/adapter_init"},
		{"qwen3_lora_train", "logits_with_adapter_rslora", "qwen3_lora_train/adapter_rslora_bf16"},
		{"dora_train", "logits_with_adapter_init", "dora_train/adapter_init"},
		{"gpt2_bf16_bare", "logits", ""},
	} {
		t.Run(tc.dir+tc.adapter, func(t *testing.T) {
			var exp map[string]json.RawMessage
			raw, _ := os.ReadFile(filepath.Join(ref, tc.dir, "expected.json"))
			json.Unmarshal(raw, &exp)
			var ids [][]int
			var logits [][][]float64
			json.Unmarshal(exp["ids"], &ids)
			json.Unmarshal(exp[tc.key], &logits)
			args := []string{"logits", "--model", filepath.Join(ref, tc.dir), "--ids", idsArg(ids[0])}
			if tc.adapter != "" {
				args = append(args, "--adapter", filepath.Join(ref, tc.adapter))
			}
			out, errs, code := golora(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			got := parseLogits(t, out)
			if len(got) != len(ids[0]) {
				t.Fatalf("%d rows for %d ids", len(got), len(ids[0]))
			}
			if e := maxRelErr(t, got, logits[0]); e > 1e-4 {
				t.Errorf("relative error %.3g", e)
			}
		})
	}
}

func TestMergeEqualsAdapterLogits(t *testing.T) {
	for _, fixture := range []string{"lora_train", "qwen3_lora_train", "gpt2_lora_train", "dora_train"} {
		t.Run(fixture, func(t *testing.T) { testMergeEqualsAdapterLogits(t, fixture) })
	}
}

func testMergeEqualsAdapterLogits(t *testing.T, fixture string) {
	out := filepath.Join(t.TempDir(), "merged")
	_, errs, code := golora(t, "merge", "--model", filepath.Join(ref, fixture), "--adapter", filepath.Join(ref, fixture, "adapter_init"), "--out", out)
	if code != 0 {
		t.Fatalf("merge: %s", errs)
	}
	ids := "1,5,9,13,2,7"
	withAdapter, _, _ := golora(t, "logits", "--model", filepath.Join(ref, fixture), "--adapter", filepath.Join(ref, fixture, "adapter_init"), "--ids", ids)
	merged, errs, code := golora(t, "logits", "--model", out, "--ids", ids)
	if code != 0 {
		t.Fatalf("logits of merged model: %s", errs)
	}
	if e := maxRelErr(t, parseLogits(t, merged), parseLogits(t, withAdapter)); e > 1e-4 {
		t.Errorf("merged logits differ from adapter logits: %.3g", e)
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Error("merged model has no config.json")
	}
	if _, _, code := golora(t, "merge", "--model", out, "--adapter", filepath.Join(ref, fixture, "adapter_init"), "--out", out); code == 0 {
		t.Error("merging into the model's own directory must be refused")
	}
}

func TestInspect(t *testing.T) {
	out, errs, code := golora(t, "inspect", "--model", filepath.Join(ref, "llama_bf16_tied"), "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var r inspectReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Architecture != "LlamaForCausalLM" || !r.Tied || r.ByDType["BF16"] == 0 || r.Bytes != 2*r.ByDType["BF16"]+4*r.ByDType["F32"] {
		t.Errorf("unexpected report %+v", r)
	}
	sum := 0
	for _, n := range r.ByKind {
		sum += n
	}
	if sum != r.Params || r.ByKind["lm_head"] != 0 {
		t.Errorf("kinds %v do not add up to %d (tied: no lm_head)", r.ByKind, r.Params)
	}
	text, _, _ := golora(t, "inspect", "--model", filepath.Join(ref, "llama_f32"))
	if !strings.Contains(text, "LlamaForCausalLM") || !strings.Contains(text, "attention") {
		t.Errorf("text report lacks architecture or kinds:\n%s", text)
	}
	// Qwen3's head norms ([head_dim] q_norm and k_norm per layer) count as norms.
	out, errs, code = golora(t, "inspect", "--model", filepath.Join(ref, "qwen3_f32"), "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	r = inspectReport{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Architecture != "Qwen3ForCausalLM" || r.HeadDim != 16 || r.ByKind["norm"] != 2*(2*32+2*16)+32 ||
		r.ByKind["attention"] != 2*(64*32+2*32*32+32*64) {
		t.Errorf("qwen3 report %+v", r)
	}
	// GPT-2: wte and wpe are embeddings, ln_* norms (weights and biases).
	out, errs, code = golora(t, "inspect", "--model", filepath.Join(ref, "gpt2_f32"), "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	r = inspectReport{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Architecture != "GPT2LMHeadModel" || r.ByKind["embedding"] != 64*32+16*32 || r.ByKind["norm"] != 2*2*2*32+2*32 ||
		r.ByKind["other"] != 0 || r.ByKind["lm_head"] != 0 {
		t.Errorf("gpt2 report %+v", r)
	}
}

func TestTrainCLIWithConfigFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d.jsonl")
	os.WriteFile(data, []byte(`{"input_ids": [1, 2, 3, 4, 5, 6]}`+"\n"+`{"input_ids": [7, 8, 9, 10], "labels": [-100, -100, 9, 10]}`+"\n"), 0o644)
	cfg := filepath.Join(dir, "c.json")
	os.WriteFile(cfg, []byte(`{"rank": 2, "alpha": 4, "targets": "q_proj,v_proj", "steps": 3, "batch-size": 2, "lr": 0.01}`), 0o644)
	out := filepath.Join(dir, "out")
	_, errs, code := golora(t, "train", "--config", cfg, "--model", filepath.Join(ref, "lora_train"), "--data", data, "--out", out, "--rank", "4")
	if code != 0 {
		t.Fatalf("train: %s", errs)
	}
	if !strings.Contains(errs, "trainable params: ") || !strings.Contains(errs, "|| all params: ") || !strings.Contains(errs, "|| trainable%: ") {
		t.Errorf("no PEFT-style parameter report in %q", errs)
	}
	raw, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ac map[string]any
	json.Unmarshal(raw, &ac)
	if ac["r"] != 4.0 || ac["lora_alpha"] != 4.0 {
		t.Errorf("flags should override the config file: r=%v alpha=%v", ac["r"], ac["lora_alpha"])
	}
	lines := bytes.Count(must(os.ReadFile(filepath.Join(out, "metrics.jsonl"))), []byte("\n"))
	if lines != 3 {
		t.Errorf("metrics.jsonl has %d lines, want 3", lines)
	}
	if _, _, code := golora(t, "logits", "--model", filepath.Join(ref, "lora_train"), "--adapter", out, "--ids", "1,2"); code != 0 {
		t.Error("the trained adapter does not load")
	}
}

// QLoRA checkpoints gradients unless the flag or the config file says
// otherwise; plain LoRA does not.
func TestQuantizeTurnsOnGradCheckpoint(t *testing.T) {
	dir := t.TempDir()
	off := filepath.Join(dir, "off.json")
	os.WriteFile(off, []byte(`{"quantize": "nf4", "grad-checkpoint": false}`), 0o644)
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--quantize", "nf4"}, true},
		{[]string{"--quantize", "fp4", "--grad-checkpoint=false"}, false},
		{[]string{"--config", off}, false},
		{[]string{"--config", off, "--grad-checkpoint"}, true},
		{[]string{"--grad-checkpoint"}, true},
	} {
		o, err := parseTrainPlus(cli.NewFlagSet("train", io.Discard), tc.args, nil)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if o.Checkpointing(false) != tc.want {
			t.Errorf("%v: grad-checkpoint %v, want %v", tc.args, o.Checkpointing(false), tc.want)
		}
	}
	// A checkpoint stored in 4 bits is QLoRA without --quantize.
	if o := finetune.Defaults(); !o.Checkpointing(true) {
		t.Error("a 4-bit base should checkpoint gradients by default")
	}
	// mem and bench follow the same rule.
	no := false
	if !checkpointing(nil, true) || checkpointing(nil, false) || checkpointing(&no, true) {
		t.Error("mem/bench --grad-checkpoint: want on by default for qlora only, and off when given false")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, "unknown command"},
		{[]string{"logits", "--model", filepath.Join(ref, "llama_f32"), "--ids", "1,x"}, "--ids"},
		{[]string{"logits", "--model", filepath.Join(ref, "llama_f32"), "--ids", "1,999"}, "999"},
		{[]string{"logits", "--model", "/nonexistent", "--ids", "1"}, "/nonexistent"},
		{[]string{"train", "--model", filepath.Join(ref, "lora_train"), "--data", "x.jsonl", "--out", "o", "--steps", "1", "--lr-schedule", "zigzag"}, "zigzag"},
		{[]string{"train", "--model", filepath.Join(ref, "lora_train"), "--data", "x.jsonl", "--out", "o"}, "--steps or --epochs"},
	} {
		_, errs, code := golora(t, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errs, tc.want)
		}
	}
}

// tinyModelWithTokenizer writes a random Llama with a byte-level BPE
// tokenizer learned from a few sentences.
func tinyModelWithTokenizer(t *testing.T) string {
	t.Helper()
	return tinyModelSized(t, 16, 32)
}

// tinyModelSized is tinyModelWithTokenizer with the given hidden and
// intermediate sizes.
func tinyModelSized(t *testing.T, hidden, intermediate int) string {
	t.Helper()
	dir := t.TempDir()
	tok, err := tokenizer.TrainByteLevel([]byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 20)), 280, []string{"<|endoftext|>"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ParseConfig([]byte(`{"architectures":["LlamaForCausalLM"],"vocab_size":`+strconv.Itoa(tok.VocabSize())+`,
		"hidden_size":`+strconv.Itoa(hidden)+`,"intermediate_size":`+strconv.Itoa(intermediate)+`,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,
		"max_position_embeddings":64,"tie_word_embeddings":true}`), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	if err := model.NewRandom(cfg, 0.5, 1).Save(dir, tensor.BF16); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGenerate(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	out, errs, code := golora(t, "generate", "--model", dir, "--prompt", "the quick", "--max-tokens", "8", "--temperature", "0", "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var r struct {
		PromptIDs []int   `json:"prompt_ids"`
		IDs       []int   `json:"ids"`
		Text      string  `json:"text"`
		TPS       float64 `json:"tokens_per_sec"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(r.PromptIDs) == 0 || len(r.IDs) == 0 || len(r.IDs) > 8 || r.TPS <= 0 {
		t.Errorf("unexpected result %+v", r)
	}
	// Streaming prints the same text the JSON reports.
	text, _, code := golora(t, "generate", "--model", dir, "--prompt", "the quick", "--max-tokens", "8", "--temperature", "0")
	if code != 0 || strings.TrimSuffix(text, "\n") != r.Text {
		t.Errorf("streamed %q, JSON text %q", text, r.Text)
	}
}

func TestQuantizeAndMergeInto4Bit(t *testing.T) {
	dir := t.TempDir()
	q := filepath.Join(dir, "q")
	base, adapter := filepath.Join(ref, "lora_train"), filepath.Join(ref, "lora_train", "adapter_init")
	if _, errs, code := golora(t, "quantize", "--model", base, "--out", q, "--type", "nf4", "--double-quant"); code != 0 {
		t.Fatal(errs)
	}
	raw, _ := os.ReadFile(filepath.Join(q, "config.json"))
	if !strings.Contains(string(raw), `"quant_method": "bitsandbytes"`) {
		t.Errorf("config.json lacks the bitsandbytes quantization_config:\n%s", raw)
	}
	ids := "3,1,4,1,5,9"
	withAdapter, errs, code := golora(t, "logits", "--model", q, "--adapter", adapter, "--ids", ids)
	if code != 0 {
		t.Fatal(errs)
	}
	merged := filepath.Join(dir, "merged")
	out, errs, code := golora(t, "merge", "--model", q, "--adapter", adapter, "--out", merged)
	if code != 0 || !strings.Contains(out, "dequantized") {
		t.Fatalf("merge into a 4-bit base: exit %d, %s%s", code, out, errs)
	}
	got, _, _ := golora(t, "logits", "--model", merged, "--ids", ids)
	if e := maxRelErr(t, parseLogits(t, got), parseLogits(t, withAdapter)); e > 1e-4 {
		t.Errorf("merged (dequantized) logits differ from 4-bit base + adapter by %.3g", e)
	}
	req := filepath.Join(dir, "requant")
	out, errs, code = golora(t, "merge", "--model", q, "--adapter", adapter, "--out", req, "--requantize")
	if code != 0 || !strings.Contains(out, "relative RMS error") {
		t.Fatalf("--requantize: exit %d, %s%s", code, out, errs)
	}
	if _, _, code := golora(t, "merge", "--model", base, "--adapter", adapter, "--out", filepath.Join(dir, "x"), "--requantize"); code == 0 {
		t.Error("--requantize on an unquantized base must be refused")
	}
}

func TestTokenizeCLI(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	out, errs, code := golora(t, "tokenize", "--tokenizer", dir, "--text", "the lazy dog")
	if code != 0 {
		t.Fatal(errs)
	}
	var r struct{ IDs []int }
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.IDs) == 0 {
		t.Fatalf("%q: %v", out, err)
	}
	var parts []string
	for _, id := range r.IDs {
		parts = append(parts, strconv.Itoa(id))
	}
	out, errs, code = golora(t, "tokenize", "--tokenizer", dir, "--decode", "--ids", strings.Join(parts, ","))
	if code != 0 || !strings.Contains(out, `"the lazy dog"`) {
		t.Errorf("decode: %s %s", out, errs)
	}
}

func TestGenerateChatUsesTemplate(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	plain, _, _ := golora(t, "generate", "--model", dir, "--prompt", "the dog", "--max-tokens", "2", "--json")
	// Without a template the ChatML fallback wraps the prompt.
	fallback, errs, code := golora(t, "generate", "--model", dir, "--prompt", "the dog", "--max-tokens", "2", "--json", "--chat")
	if code != 0 {
		t.Fatal(errs)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"chat_template": "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"}`), 0o644)
	templ, errs, code := golora(t, "generate", "--model", dir, "--prompt", "the dog", "--max-tokens", "2", "--json", "--chat")
	if code != 0 {
		t.Fatal(errs)
	}
	var p, f, tm struct {
		PromptIDs []int `json:"prompt_ids"`
	}
	json.Unmarshal([]byte(plain), &p)
	json.Unmarshal([]byte(fallback), &f)
	json.Unmarshal([]byte(templ), &tm)
	if len(f.PromptIDs) <= len(p.PromptIDs) || len(tm.PromptIDs) <= len(p.PromptIDs) || slices.Equal(f.PromptIDs, tm.PromptIDs) {
		t.Errorf("prompt ids: plain %v, ChatML %v, template %v", p.PromptIDs, f.PromptIDs, tm.PromptIDs)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"chat_template": "{% macro x() %}{% endmacro %}"}`), 0o644)
	if _, errs, code := golora(t, "generate", "--model", dir, "--prompt", "x", "--chat"); code == 0 || !strings.Contains(errs, "macro") {
		t.Errorf("an unsupported template must be refused naming the construct: %s", errs)
	}
}

// --dropout is tracked as given or not: unset, an --init-adapter's own
// lora_dropout applies; given (0 included), it overrides the adapter's.
func TestDropoutFlagIsExplicit(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"dropout": 0.2}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "unset"},
		{[]string{"--dropout", "0"}, "0"},
		{[]string{"--dropout=0.05"}, "0.05"},
		{[]string{"--config", cfg}, "0.2"},
		{[]string{"--config", cfg, "--dropout", "0"}, "0"},
	} {
		o, err := parseTrainPlus(cli.NewFlagSet("train", io.Discard), tc.args, nil)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		got := "unset"
		if o.Dropout != nil {
			got = strconv.FormatFloat(*o.Dropout, 'g', -1, 64)
		}
		if got != tc.want {
			t.Errorf("%v: dropout %s, want %s", tc.args, got, tc.want)
		}
	}
}

// A YAML --config with PEFT's and TRL's names trains like golora's own keys.
func TestTrainConfigFileYAMLWithPEFTNames(t *testing.T) {
	dir := t.TempDir()
	yaml := filepath.Join(dir, "c.yaml")
	os.WriteFile(yaml, []byte("r: 2\nlora_alpha: 4\ntarget_modules:\n  - q_proj\n  - v_proj\nlearning_rate: 1.0e-2\n"+
		"lr_scheduler_type: cosine\nwarmup_steps: 1\nmax_steps: 3\nper_device_train_batch_size: 2\ngradient_accumulation_steps: 2\n"+
		"max_seq_length: 64\nweight_decay: 0.1\nmax_grad_norm: 0.5\nseed: 7\nlora_dropout: 0.05\n"), 0o644)
	o, err := parseTrainPlus(cli.NewFlagSet("train", io.Discard), []string{"--config", yaml, "--seed", "9"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := finetune.Defaults()
	want.Rank, want.Alpha, want.Targets, want.LR, want.Schedule, want.Warmup, want.Steps = 2, 4, "q_proj,v_proj", 0.01, "cosine", 1, 3
	want.BatchSize, want.GradAccum, want.MaxSeqLen, want.WeightDecay, want.MaxGradNorm, want.Seed = 2, 2, 64, 0.1, 0.5, 9
	dropout := 0.05
	want.Dropout = &dropout
	if !reflect.DeepEqual(o, want) {
		t.Errorf("options\n%+v\nwant\n%+v", o, want)
	}
	for _, tc := range []struct{ text, want string }{
		{"lerning_rate: 0.1\n", `c2.yaml: unknown key "lerning_rate" (did you mean "learning_rate"?)`},
		{"r: 8\nrank: 16\n", `c2.yaml: "r" and "rank" both set rank, to 8 and 16`},
		{"num_train_epochs: many\n", `c2.yaml: num_train_epochs: want a number, got "many"`},
	} {
		bad := filepath.Join(dir, "c2.yaml")
		os.WriteFile(bad, []byte(tc.text), 0o644)
		if _, errs, code := golora(t, "train", "--config", bad); code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, %q, want %q", tc.text, code, errs, tc.want)
		}
	}
}

// Every alias of the config file names a key of finetune.Options.
func TestConfigAliasesNameTrainKeys(t *testing.T) {
	keys := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[finetune.Options]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		keys[name] = true
	}
	for alias, a := range finetune.ConfigAliases {
		if !keys[a.Key] {
			t.Errorf("alias %s names %q, not a key of finetune.Options", alias, a.Key)
		}
	}
}
