package export

import (
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer"
	"github.com/golora/golora/tokenizer/tokenizertest"
)

// configWith writes the config.json at src with the keys of set replaced
// into dir and loads it.
func configWith(t *testing.T, src, dir string, set map[string]any) *model.Config {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	maps.Copy(raw, set)
	if data, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// tinyModel writes a random model of testdata/llama's shape with the
// vocabulary (as many rows) and tokenizer.json of tokenizer/testdata/NAME
// into a directory it returns.
func tinyModel(t *testing.T, name string) string {
	t.Helper()
	tok, dir := tokenizertest.Load(t, name)
	cfg := configWith(t, "testdata/llama/config.json", dir, map[string]any{"vocab_size": tok.VocabSize()})
	m := model.NewRandom(cfg, 0.1, 7)
	defer m.Close()
	if err := m.Save(dir, tensor.F32); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeModel exports dir with the specs merged as typ into a temporary
// file, which it returns open, after checking that each key of want has
// its value.
func writeModel(t *testing.T, dir string, specs []lora.Spec, typ gguf.Type, want map[string]any) (string, *gguf.File) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteModel(out, dir, specs, typ, ""); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	for key, w := range want {
		if v, _ := f.Value(key); v != w {
			t.Errorf("%s = %v (%T), want %v", key, v, v, w)
		}
	}
	return out, f
}

// TestWriteModel: a model with GPT-2's byte-level tokenizer, an adapter
// merged in, exported as an f32 GGUF, reads back with every tokenizer key
// (GPT-2's pre name "gpt-2" found by the check-text hash), loads as a model
// whose logits equal those of the directory with the adapter applied
// unmerged, and has a Modelfile beside it.
func TestWriteModel(t *testing.T) {
	dir := tinyModel(t, "gpt2")
	specs := []lora.Spec{{Dir: "testdata/adapter", Scale: 0.5}}
	out, f := writeModel(t, dir, specs, gguf.F32, map[string]any{
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
	})
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

// TestWriteModelSentencePiece: a model with the SentencePiece-style llama2
// fixture's tokenizer is exported with llama.cpp's SPM tokenizer metadata
// (scores, byte, unknown and control types, the space prefix), and the
// GGUF's tokenizer, read back, encodes like the tokenizer.json.
func TestWriteModelSentencePiece(t *testing.T) {
	dir := tinyModel(t, "llama2")
	out, f := writeModel(t, dir, nil, gguf.F16, map[string]any{
		"tokenizer.ggml.model":            "llama",
		"tokenizer.ggml.pre":              "default",
		"tokenizer.ggml.add_space_prefix": true,
		"tokenizer.ggml.unknown_token_id": uint32(0),
		"tokenizer.ggml.bos_token_id":     uint32(1),
		"tokenizer.ggml.add_bos_token":    true,
	})
	if _, ok := f.Value("tokenizer.ggml.merges"); ok {
		t.Error("tokenizer.ggml.merges written for an SPM vocabulary")
	}
	v, _ := f.Value("tokenizer.ggml.token_type")
	types, _ := v.([]int32)
	v, _ = f.Value("tokenizer.ggml.scores")
	scores, _ := v.([]float32)
	if len(types) != 32000 || len(scores) != 32000 {
		t.Fatalf("%d types, %d scores", len(types), len(scores))
	}
	// <unk> <s> </s> <0x00>; merge 0 is "▁ t" (261), "▁▁" (259) comes
	// from merge 58876, the one its SentencePiece score of -1e9 puts last
	// but for a few.
	if types[0] != tokUnknown || types[1] != tokControl || types[2] != tokControl || types[3] != tokByte || types[261] != tokNormal {
		t.Errorf("token types %v … %d", types[:4], types[261])
	}
	if scores[261] != 0 || scores[259] != -58876 || scores[3] != 0 || scores[1] != 0 {
		t.Errorf("scores[261] = %g, scores[259] = %g, scores[3] = %g, scores[1] = %g", scores[261], scores[259], scores[3], scores[1])
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	const text = "Hello  world, <s>ünïcödé 𝔘 \t end"
	want, err1 := tok.Encode(text, true)
	got, err2 := back.Encode(text, true)
	if err1 != nil || err2 != nil || !slices.Equal(got, want) {
		t.Errorf("Encode(%q) = %v (%v), want %v (%v)", text, got, err2, want, err1)
	}
}

// TestWriteModelGemma3Vocab: a Gemma 3 whose embedding has more rows (64)
// than its tokenizer has ids (bench/llamacpp/tokenizer.json's 16) is
// exported with the padding rows cut, as llama.cpp's converter does, and a
// token list as long; read back, it has that vocabulary and the logits of
// the original's first 16 tokens. A Llama keeps its padding rows (the
// converter keeps them).
func TestWriteModelGemma3Vocab(t *testing.T) {
	for _, c := range []struct {
		ref  string
		rows int
	}{{"gemma3_f32", 16}, {"lora_train", 64}} {
		t.Run(c.ref, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"../testdata/ref/" + c.ref + "/config.json", "../testdata/ref/" + c.ref + "/model.safetensors", "../bench/llamacpp/tokenizer.json"} {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(f, "config.json") { // the attention scale llama.cpp computes with
					data = []byte(strings.Replace(string(data), `"query_pre_attn_scalar": 12`, `"query_pre_attn_scalar": 16`, 1))
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, f := writeModel(t, dir, nil, gguf.F32, nil)
			emb, _ := f.Tensor("token_embd.weight")
			v, _ := f.Value("tokenizer.ggml.tokens")
			if toks, _ := v.([]string); emb.Shape[0] != c.rows || len(toks) != c.rows {
				t.Fatalf("token_embd.weight %v, %d tokens; want %d rows and tokens", emb.Shape, len(toks), c.rows)
			}
			hf := loadRef(t, c.ref)
			back, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			if back.Cfg.VocabSize != c.rows {
				t.Errorf("read back: vocab_size %d, want %d", back.Cfg.VocabSize, c.rows)
			}
			ids := []int{1, 5, 9, 3, 2, 15, 4, 11}
			want, got := logits(t, hf, ids), logits(t, back, ids)
			V := hf.Cfg.VocabSize
			var maxAbs, maxDiff float64
			for i, g := range got {
				w := want[i/c.rows*V+i%c.rows]
				maxAbs = max(maxAbs, math.Abs(float64(w)))
				maxDiff = max(maxDiff, math.Abs(float64(g-w)))
			}
			if maxDiff > 1e-5*maxAbs {
				t.Errorf("logits differ by %g (max |logit| %g)", maxDiff, maxAbs)
			}
		})
	}
}
