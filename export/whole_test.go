package export

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer/tokenizertest"
)

// gpt2Model writes a random model of testdata/llama's shape with GPT-2's
// vocabulary (50257 rows) and tokenizer.json into a directory it returns.
func gpt2Model(t *testing.T) string {
	t.Helper()
	tok, dir := tokenizertest.Load(t, "gpt2")
	data, err := os.ReadFile("testdata/llama/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	raw["vocab_size"] = tok.VocabSize()
	if data, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m := model.NewRandom(cfg, 0.1, 7)
	defer m.Close()
	if err := m.Save(dir, tensor.F32); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWriteModel: a model with GPT-2's byte-level tokenizer, an adapter
// merged in, exported as an f32 GGUF, reads back with every tokenizer key
// (GPT-2's pre name "gpt-2" found by the check-text hash), loads as a model
// whose logits equal those of the directory with the adapter applied
// unmerged, and has a Modelfile beside it.
func TestWriteModel(t *testing.T) {
	dir := gpt2Model(t)
	specs := []lora.Spec{{Dir: "testdata/adapter", Scale: 0.5}}
	out := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteModel(out, dir, specs, gguf.F32, ""); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for key, want := range map[string]any{
		"general.architecture":         "llama",
		"tokenizer.ggml.model":         "gpt2",
		"tokenizer.ggml.pre":           "gpt-2",
		"tokenizer.ggml.bos_token_id":  uint32(50256),
		"tokenizer.ggml.eos_token_id":  uint32(50256),
		"tokenizer.ggml.add_bos_token": false,
		"tokenizer.ggml.add_eos_token": false,
		"llama.vocab_size":             uint32(50257),
		"llama.rope.dimension_count":   uint32(16),
		"general.quantization_version": uint32(2),
	} {
		if v, _ := f.Value(key); v != want {
			t.Errorf("%s = %v (%T), want %v", key, v, v, want)
		}
	}
	toks, _ := f.Value("tokenizer.ggml.tokens")
	types, _ := f.Value("tokenizer.ggml.token_type")
	merges, _ := f.Value("tokenizer.ggml.merges")
	if tl, ok := toks.([]string); !ok || len(tl) != 50257 || tl[50256] != "<|endoftext|>" {
		t.Errorf("tokenizer.ggml.tokens: %T of %d", toks, len(tl))
	}
	if tt, ok := types.([]int32); !ok || len(tt) != 50257 || tt[50256] != tokControl || tt[0] != tokNormal {
		t.Errorf("tokenizer.ggml.token_type: %T", types)
	}
	if ml, ok := merges.([]string); !ok || len(ml) != 50000 || ml[0] != "Ġ t" {
		t.Errorf("tokenizer.ggml.merges: %T", merges)
	}

	mf, err := os.ReadFile(filepath.Join(filepath.Dir(out), "Modelfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM ./m.gguf\n", "PARAMETER stop \"<|endoftext|>\"\n"} {
		if !strings.Contains(string(mf), want) {
			t.Errorf("Modelfile lacks %q:\n%s", want, mf)
		}
	}

	hf, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	if _, err := lora.AttachAll(hf, specs); err != nil {
		t.Fatal(err)
	}
	back, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	ids := []int{50256, 464, 2068, 7586, 21831, 18045, 625, 262}
	want, got := logits(t, hf, ids), logits(t, back, ids)
	var maxAbs, maxDiff float64
	for i := range want {
		maxAbs = max(maxAbs, math.Abs(float64(want[i])))
		maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[i])))
	}
	if maxDiff > 1e-5*maxAbs {
		t.Errorf("logits differ by %g (max |logit| %g)", maxDiff, maxAbs)
	}
	t.Logf("max |Δlogit| %.3g of max |logit| %.3g", maxDiff, maxAbs)
}
