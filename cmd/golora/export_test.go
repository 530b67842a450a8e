package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golora/golora/export"
	"github.com/golora/golora/gguf"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer/tokenizertest"
)

// TestExportGGUF runs export gguf on the adapter and base of the export
// package's converter fixtures: the file equals what the library writes
// (checked there against llama.cpp's convert_lora_to_gguf.py), and a bad
// --outtype is a usage error.
func TestExportGGUF(t *testing.T) {
	const td = "../../export/testdata"
	out := filepath.Join(t.TempDir(), "a.gguf")
	stdout, stderr, code := golora(t, "export", "gguf", "--model", td+"/llama", "--adapter", td+"/adapter", "--out", out, "--outtype", "q8_0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "Q8_0") {
		t.Errorf("stdout %q does not name the type", stdout)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if typ, _ := f.String("general.type"); typ != "adapter" || len(f.Tensors()) != 28 {
		t.Errorf("general.type %q, %d tensors; want adapter, 28", typ, len(f.Tensors()))
	}
	_, stderr, code = golora(t, "export", "gguf", "--model", td+"/llama", "--adapter", td+"/adapter", "--out", out, "--outtype", "q4_k")
	if code != 2 || !strings.Contains(stderr, "bf16, f16, f32, q8_0") {
		t.Errorf("--outtype q4_k: exit %d, %q", code, stderr)
	}
	_, stderr, code = golora(t, "export", "gguf", "--model", td+"/llama", "--adapter", td+"/adapter", "--out", out, "--outtype", "q4_k_m")
	if code != 2 || !strings.Contains(stderr, "want one of bf16, f16, f32, q8_0") {
		t.Errorf("--adapter with --outtype q4_k_m: exit %d, %q", code, stderr)
	}
}

// TestExportGGUFQ4KM: export gguf --outtype q4_k_m writes the whole model
// as llama-quantize's Q4_K_M (general.file_type 15, Q6_K for the rows of
// 256 of the tied output); q4_0 as its Q4_0 (file type 2).
func TestExportGGUFQ4KM(t *testing.T) {
	hf := tinyModelSized(t, 256, 512)
	for _, c := range []struct {
		outtype string
		ftype   uint32
	}{{"q4_k_m", 15}, {"q4_0", 2}} {
		out := filepath.Join(t.TempDir(), "m.gguf")
		stdout, stderr, code := golora(t, "export", "gguf", "--model", hf, "--out", out, "--outtype", c.outtype, "--pre", "gpt-2")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.outtype, code, stderr)
		}
		if !strings.Contains(stdout, strings.ToUpper(c.outtype)) {
			t.Errorf("stdout %q does not name %s", stdout, c.outtype)
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		ft, _ := f.Value("general.file_type")
		emb, ok := f.Tensor("token_embd.weight")
		if ft != c.ftype || !ok || emb.Type != gguf.Q6_K {
			t.Errorf("%s: general.file_type %v, token_embd.weight %v; want %d, Q6_K", c.outtype, ft, emb.Type, c.ftype)
		}
		f.Close()
	}
}

// TestLogitsOfGGUF: --model file.gguf runs the model a GGUF holds: the
// logits of a reference model exported to an f32 GGUF equal the original's
// (the same printed numbers); a command that needs the tokenizer names the
// tokenizer key the GGUF lacks.
func TestLogitsOfGGUF(t *testing.T) {
	hf, err := model.Load(ref + "/llama_f32")
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	meta, tensors, err := export.Model(hf, gguf.F32)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := gguf.Write(path, meta, tensors); err != nil {
		t.Fatal(err)
	}
	want, stderr, code := golora(t, "logits", "--model", ref+"/llama_f32", "--ids", "1,2,3,4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, stderr, code := golora(t, "logits", "--model", path, "--ids", "1,2,3,4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got != want {
		t.Errorf("logits of the GGUF\n%s\ndiffer from the original's\n%s", got, want)
	}
	out, stderr, code := golora(t, "inspect", "--model", path)
	if code != 0 || !strings.Contains(out, "LlamaForCausalLM") {
		t.Errorf("inspect on a GGUF: exit %d, %q %q", code, out, stderr)
	}
	_, stderr, code = golora(t, "generate", "--model", path, "--prompt", "a", "--max-tokens", "1")
	if code == 0 || !strings.Contains(stderr, `"tokenizer.ggml.model": missing`) {
		t.Errorf("generate on a GGUF: exit %d, %q", code, stderr)
	}
}

// TestExportGGUFModel: export gguf without --adapter writes the whole model
// (a random one of export's fixture shape with GPT-2's tokenizer, an adapter
// merged in) and a Modelfile, and greedy generate on the GGUF gives the text
// it gives on the directory with the adapter; a model without a
// tokenizer.json is refused naming the file, and --merge with --adapter is
// a usage error.
func TestExportGGUFModel(t *testing.T) {
	dir := t.TempDir()
	js := tokenizertest.Gunzip(t, "../../tokenizer/testdata/gpt2/tokenizer.json.gz")
	cfgJS, err := os.ReadFile("../../export/testdata/llama/config.json")
	if err != nil {
		t.Fatal(err)
	}
	cfgJS = []byte(strings.Replace(string(cfgJS), `"vocab_size": 32`, `"vocab_size": 50257`, 1))
	for name, data := range map[string][]byte{"tokenizer.json": js, "config.json": cfgJS} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := model.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil || cfg.VocabSize != 50257 {
		t.Fatalf("config: %v, vocab %d", err, cfg.VocabSize)
	}
	m := model.NewRandom(cfg, 0.1, 3)
	if err := m.Save(dir, tensor.F32); err != nil {
		t.Fatal(err)
	}
	m.Close()
	const adapter = "../../export/testdata/adapter"
	out := filepath.Join(t.TempDir(), "m.gguf")
	stdout, stderr, code := golora(t, "export", "gguf", "--model", dir, "--merge", adapter+":0.5", "--out", out)
	if code != 0 || !strings.Contains(stdout, "Modelfile") {
		t.Fatalf("exit %d: %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out), "Modelfile")); err != nil {
		t.Error(err)
	}
	gen := []string{"generate", "--prompt", "Hello world", "--max-tokens", "6", "--temperature", "0"}
	want, stderr, code := golora(t, append(gen, "--model", dir, "--adapter", adapter+":0.5")...)
	if code != 0 {
		t.Fatalf("generate on the directory: exit %d: %s", code, stderr)
	}
	got, stderr, code := golora(t, append(gen, "--model", out)...)
	if code != 0 || got != want {
		t.Errorf("generate on the GGUF: exit %d, %q (%s); on the directory %q", code, got, stderr, want)
	}

	_, stderr, code = golora(t, "export", "gguf", "--model", ref+"/llama_f32", "--out", out)
	if code != 1 || !strings.Contains(stderr, "tokenizer.json") {
		t.Errorf("model without a tokenizer: exit %d, %q", code, stderr)
	}
	_, stderr, code = golora(t, "export", "gguf", "--model", ref+"/llama_f32", "--adapter", "../../export/testdata/adapter",
		"--merge", "../../export/testdata/adapter", "--out", out)
	if code != 2 || !strings.Contains(stderr, "--merge") {
		t.Errorf("--adapter with --merge: exit %d, %q", code, stderr)
	}
}
