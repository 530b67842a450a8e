package merge

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/export"
	"github.com/golora/golora/gguf"
	"github.com/golora/golora/internal/modeldir"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/quant"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer"
)

const ref = "../testdata/ref/lora_train"

var (
	adapterInit   = lora.Spec{Dir: filepath.Join(ref, "adapter_init"), Scale: 1}
	adapterRSLoRA = lora.Spec{Dir: filepath.Join(ref, "adapter_rslora_bf16"), Scale: 0.5}
	ids           = []int{3, 1, 4, 1, 5, 9, 2, 6}
)

// baseWithCompanions copies the reference base into a new directory and
// gives it one file of each companion kind.
func baseWithCompanions(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "base")
	os.Mkdir(dir, 0o755)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(ref, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	for _, f := range modeldir.Companions {
		os.WriteFile(filepath.Join(dir, f), []byte("companion "+f), 0o644)
	}
	return dir
}

// logits runs the model in dir, with specs attached, over ids.
func logits(t *testing.T, dir string, specs ...lora.Spec) []float32 {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := lora.AttachAll(m, specs); err != nil {
		t.Fatal(err)
	}
	s := m.NewState(1, len(ids), false)
	if err := m.Forward(s, ids); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), s.Logits[:len(ids)*m.Cfg.VocabSize]...)
}

// relErr is max|got−want| / max|want|.
func relErr(t *testing.T, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d logits, want %d", len(got), len(want))
	}
	var num, den float64
	for i := range want {
		num = math.Max(num, math.Abs(float64(got[i]-want[i])))
		den = math.Max(den, math.Abs(float64(want[i])))
	}
	return num / den
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteEqualsBaseWithAdapters(t *testing.T) {
	base := baseWithCompanions(t)
	out := filepath.Join(filepath.Dir(base), "merged")
	specs := []lora.Spec{adapterInit, adapterRSLoRA}
	res, err := Write(base, specs, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.FourBit || res.DType != tensor.F32 || res.Modules == 0 || res.RequantError != 0 {
		t.Errorf("result %+v", res)
	}
	want := logits(t, base, specs...)
	if e := relErr(t, logits(t, out), want); e > 1e-4 {
		t.Errorf("merged logits differ from the base with both adapters by %.3g", e)
	}
	// The adapters change the function: the comparison above means something.
	if e := relErr(t, logits(t, base), want); e < 1e-3 {
		t.Errorf("the adapters barely change the logits (%.3g): the test cannot tell a merge from none", e)
	}
	for _, f := range modeldir.Companions {
		if b, err := os.ReadFile(filepath.Join(out, f)); err != nil || string(b) != "companion "+f {
			t.Errorf("companion %s: %q, %v", f, b, err)
		}
	}
	if got := strings.Join(entries(t, filepath.Dir(base)), " "); got != "base merged" {
		t.Errorf("beside the output: %s (a temporary directory left?)", got)
	}
}

func TestWriteRefuses(t *testing.T) {
	base := baseWithCompanions(t)
	parent := filepath.Dir(base)
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "keep.txt"), []byte("a user's file"), 0o644)
	for _, tc := range []struct {
		name     string
		adapters []lora.Spec
		out      string
		want     string
	}{
		{"no adapter", nil, filepath.Join(parent, "o"), "no adapter"},
		{"out is the model", []lora.Spec{adapterInit}, base, "model directory"},
		{"out is not empty", []lora.Spec{adapterInit}, full, "not empty"},
		{"missing adapter", []lora.Spec{adapterInit, {Dir: filepath.Join(parent, "none"), Scale: 1}}, filepath.Join(parent, "o"), "none"},
		{"requantize a float base", []lora.Spec{adapterInit}, filepath.Join(parent, "o"), "not a 4-bit model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Write(base, tc.adapters, tc.out, Options{Requantize: strings.HasPrefix(tc.name, "requantize")})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to mention %q", err, tc.want)
			}
			if got := strings.Join(entries(t, parent), " "); got != "base" {
				t.Errorf("a refused merge left %s", got)
			}
		})
	}
}

// A companion that exists but cannot be read fails the merge after the
// weights were written: no half-written output may stay.
func TestWriteUnreadableCompanion(t *testing.T) {
	cases := map[string]func(path string) error{
		"a directory": func(p string) error { os.Remove(p); return os.Mkdir(p, 0o755) },
	}
	if os.Geteuid() != 0 { // root reads a mode 000 file
		cases["mode 000"] = func(p string) error { return os.Chmod(p, 0) }
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			base := baseWithCompanions(t)
			bad := filepath.Join(base, "tokenizer_config.json")
			if err := spoil(bad); err != nil {
				t.Fatal(err)
			}
			_, err := Write(base, []lora.Spec{adapterInit}, filepath.Join(filepath.Dir(base), "merged"), Options{})
			if err == nil || !strings.Contains(err.Error(), bad) {
				t.Errorf("err %v, want one naming %s", err, bad)
			}
			if got := strings.Join(entries(t, filepath.Dir(base)), " "); got != "base" {
				t.Errorf("a failed merge left %s", got)
			}
		})
	}
}

func TestWriteFourBitBase(t *testing.T) {
	dir := t.TempDir()
	q := filepath.Join(dir, "q")
	m, err := model.Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Quantize(quant.NF4, true); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(q, m.Embed.W.DType); err != nil {
		t.Fatal(err)
	}
	m.Close()

	// Dequantized: the merged model computes what the 4-bit base with the
	// adapter does.
	deq := filepath.Join(dir, "deq")
	res, err := Write(q, []lora.Spec{adapterInit}, deq, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.FourBit || res.QuantType != quant.NF4 || !res.Double || res.DType != tensor.F32 || res.RequantError != 0 {
		t.Errorf("result %+v", res)
	}
	want := logits(t, q, adapterInit)
	if e := relErr(t, logits(t, deq), want); e > 1e-4 {
		t.Errorf("merged (dequantized) logits differ from the 4-bit base with the adapter by %.3g", e)
	}

	// Requantized: stored in the base's 4-bit type again, with a small
	// added error.
	req := filepath.Join(dir, "req")
	res, err = Write(q, []lora.Spec{adapterInit}, req, Options{Requantize: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("requantized: relative RMS error %.4f", res.RequantError)
	if !(res.RequantError > 0 && res.RequantError < 0.2) {
		t.Errorf("relative RMS error of requantizing %g, want in (0, 0.2)", res.RequantError)
	}
	mr, err := model.Load(req)
	if err != nil {
		t.Fatal(err)
	}
	defer mr.Close()
	if qt, double, ok := mr.QuantType(); !ok || qt != quant.NF4 || !double {
		t.Errorf("requantized model: type %v, double %v, 4-bit %v; want NF4, double, 4-bit", qt, double, ok)
	}
	if e := relErr(t, logits(t, req), want); e > 0.2 {
		t.Errorf("requantized logits differ from the 4-bit base with the adapter by %.3g", e)
	}
}

// TestMergeGGUFTokenizer: merging into a GGUF base writes the tokenizer
// its tokenizer.ggml.* metadata holds (here bench/llamacpp/tokenizer.json,
// SentencePiece-style, exported with a chat template and special tokens):
// the merged directory's tokenizer encodes, decodes, and has the special
// tokens and chat template of the GGUF's. A GGUF without a tokenizer
// merges into a directory without one.
func TestMergeGGUFTokenizer(t *testing.T) {
	dir := baseWithCompanions(t)
	for _, f := range modeldir.Companions {
		os.Remove(filepath.Join(dir, f))
	}
	tj, err := os.ReadFile("../bench/llamacpp/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), tj, 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true,
		"chat_template": "{% for m in messages %}{{ bos_token }}{{ m['content'] }}{{ eos_token }}{% endfor %}"}`), 0o644)
	g := filepath.Join(t.TempDir(), "base.gguf")
	if err := export.WriteModel(g, dir, nil, gguf.F32, ""); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "merged")
	res, err := Write(g, []lora.Spec{adapterInit}, out, Options{})
	if err != nil || !res.GGUFTokenizer {
		t.Fatalf("merge: %v, tokenizer written %v", err, res.GGUFTokenizer)
	}
	want, err := tokenizer.Load(g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if want.ChatTemplate() == "" || got.ChatTemplate() != want.ChatTemplate() || got.BOS() != want.BOS() || got.EOS() != want.EOS() ||
		got.Pad() != want.Pad() || got.Unk() != want.Unk() || got.VocabSize() != want.VocabSize() {
		t.Errorf("merged tokenizer: template %q bos %d eos %d pad %d unk %d vocab %d, GGUF's %q %d %d %d %d %d", got.ChatTemplate(), got.BOS(), got.EOS(),
			got.Pad(), got.Unk(), got.VocabSize(), want.ChatTemplate(), want.BOS(), want.EOS(), want.Pad(), want.Unk(), want.VocabSize())
	}
	for _, text := range []string{"ab cd de", " abcde\nab", "<s>ab</s> c", "édé", ""} {
		for _, special := range []bool{true, false} {
			w, err1 := want.Encode(text, special)
			g, err2 := got.Encode(text, special)
			if err1 != nil || err2 != nil || !slices.Equal(g, w) {
				t.Errorf("Encode(%q, %v) = %v, %v; the GGUF's %v, %v", text, special, g, err2, w, err1)
			}
			wd, _ := want.Decode(w, !special)
			gd, err := got.Decode(w, !special)
			if err != nil || gd != wd {
				t.Errorf("Decode(%v) = %q, %v; the GGUF's %q", w, gd, err, wd)
			}
		}
	}

	m, err := model.Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	meta, tensors, err := export.Model(m, gguf.F32)
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(t.TempDir(), "bare.gguf")
	if err := gguf.Write(bare, meta, tensors); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(t.TempDir(), "merged")
	if res, err := Write(bare, []lora.Spec{adapterInit}, out, Options{}); err != nil || res.GGUFTokenizer {
		t.Errorf("merge of a GGUF without a tokenizer: %v, tokenizer written %v", err, res.GGUFTokenizer)
	}
	if _, err := os.Stat(filepath.Join(out, "tokenizer.json")); err == nil {
		t.Errorf("a tokenizer.json was written for a GGUF without a tokenizer")
	}
}
