package lora

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// TestReadDirRoundTrip reads back what Save writes: the config's fields and
// every module's A and B, exactly, under PEFT's tensor names.
func TestReadDirRoundTrip(t *testing.T) {
	m := loadBase(t, ref)
	cfg := &Config{R: 4, Alpha: 8, RSLoRA: true, Targets: []string{"q_proj", "down_proj"}, Layers: []int{1}, BaseModel: "some/base"}
	a, err := New(m, "x", cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range a.Modules {
		for i := range l.B.W.F32 {
			l.B.W.F32[i] = float32(i%7-3) / 8
		}
	}
	dir := t.TempDir()
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	f, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config
	if f.Dir != dir || c.R != 4 || c.Alpha != 8 || !c.RSLoRA || !slices.Equal(c.Targets, []string{"down_proj", "q_proj"}) ||
		!slices.Equal(c.Layers, []int{1}) || c.BaseModel != "some/base" {
		t.Errorf("read back %q %+v", f.Dir, c)
	}
	want := []string{"model.layers.1.mlp.down_proj", "model.layers.1.self_attn.q_proj"}
	var got []string
	for _, mod := range f.Modules {
		got = append(got, mod.Path)
		l := a.Modules[mod.Path]
		if l == nil {
			continue
		}
		if mod.AName != peftKey(mod.Path, "A") || mod.BName != peftKey(mod.Path, "B") {
			t.Errorf("%s: tensor names %q %q", mod.Path, mod.AName, mod.BName)
		}
		for _, p := range []struct {
			which string
			got   tensor.Mat
			want  []float32
			shape []int
		}{{"A", mod.A, l.A.W.F32, l.A.Shape}, {"B", mod.B, l.B.W.F32, l.B.Shape}} {
			if p.got.DType != tensor.F32 || p.got.Rows != p.shape[0] || p.got.Cols != p.shape[1] || !slices.Equal(p.got.F32, p.want) {
				t.Errorf("%s: %s read back as %v %d×%d, not the %v saved", mod.Path, p.which, p.got.DType, p.got.Rows, p.got.Cols, p.shape)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("modules %v, want %v", got, want)
	}
}

// TestReadDirAdapterNameInKeys renames PEFT's own adapter to keys carrying
// the adapter name (lora_A.default.weight, as some PEFT versions write):
// it must read the same modules and give PyTorch's logits.
func TestReadDirAdapterNameInKeys(t *testing.T) {
	src := filepath.Join(ref, "adapter_init")
	orig, err := ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(src, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	sf, err := safetensors.Open(filepath.Join(src, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, n := range sf.Names() {
		x, _ := sf.Tensor(n)
		x.Name = strings.TrimSuffix(n, ".weight") + ".default.weight"
		ts = append(ts, x)
	}
	dir := writeAdapter(t, string(cfg), ts)
	sf.Close()
	f, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Modules) != len(orig.Modules) || len(f.Modules) != 6 { // 3 targets × 2 layers
		t.Fatalf("%d modules, want the %d of the original", len(f.Modules), len(orig.Modules))
	}
	for i, mod := range f.Modules {
		o := orig.Modules[i]
		if mod.Path != o.Path || !strings.HasSuffix(mod.AName, ".lora_A.default.weight") || !slices.Equal(mod.A.F32, o.A.F32) || !slices.Equal(mod.B.F32, o.B.F32) {
			t.Errorf("module %d: %s (%s) differs from the original %s", i, mod.Path, mod.AName, o.Path)
		}
	}
	e := loadExpected(t, ref)
	m := loadBase(t, ref)
	if _, err := Load(dir, m, "default"); err != nil {
		t.Fatal(err)
	}
	if msg := relErrCheck(relErr(t, logits(t, m, e.IDs), flat3(e.WithInit))); msg != "" {
		t.Error(msg)
	}
}

// TestReadDirWidensHalfPrecision reads BF16 and F16 adapters: each stored
// value becomes the float32 its bits denote, exactly.
func TestReadDirWidensHalfPrecision(t *testing.T) {
	const cfg = `{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["q_proj"]}`
	q := "base_model.model.model.layers.0.self_attn.q_proj"
	for _, tc := range []struct {
		dt   safetensors.DType
		bits []uint16
	}{
		// 1, −2, 0.25, 2⁻¹³³ (a bf16 subnormal), −0, 3
		{safetensors.BF16, []uint16{0x3f80, 0xc000, 0x3e80, 0x0001, 0x8000, 0x4040}},
		// 1, −2, 0.25, 2⁻²⁴ (an f16 subnormal), −0, 3
		{safetensors.F16, []uint16{0x3c00, 0xc000, 0x3400, 0x0001, 0x8000, 0x4200}},
	} {
		t.Run(string(tc.dt), func(t *testing.T) {
			tiny := math.Ldexp(1, -133)
			if tc.dt == safetensors.F16 {
				tiny = math.Ldexp(1, -24)
			}
			want := []float32{1, -2, 0.25, float32(tiny), float32(math.Copysign(0, -1)), 3}
			dir := writeAdapter(t, cfg, []safetensors.Tensor{
				safetensors.FromU16(q+".lora_A.weight", tc.dt, []int{2, 3}, tc.bits),
				safetensors.FromU16(q+".lora_B.weight", tc.dt, []int{3, 2}, tc.bits),
			})
			f, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			mod := f.Modules[0]
			for _, mat := range []tensor.Mat{mod.A, mod.B} {
				if mat.DType != tensor.F32 || len(mat.F32) != len(want) {
					t.Fatalf("read as %v with %d values", mat.DType, len(mat.F32))
				}
				for i, v := range mat.F32 {
					if math.Float32bits(v) != math.Float32bits(want[i]) {
						t.Errorf("value %d (bits %#04x) read as %g, want %g", i, tc.bits[i], v, want[i])
					}
				}
			}
		})
	}
	// PEFT's own BF16 adapter: every module is there, r×in and out×r.
	f, err := ReadDir(filepath.Join(ref, "adapter_rslora_bf16"))
	if err != nil {
		t.Fatal(err)
	}
	m := loadBase(t, ref)
	lins := map[string][2]int{}
	for _, lin := range m.Linears() {
		lins[lin.Name] = [2]int{lin.Out, lin.In}
	}
	if len(f.Modules) != 8 {
		t.Errorf("%d modules, want 4 targets × 2 layers", len(f.Modules))
	}
	for _, mod := range f.Modules {
		oi := lins[mod.Path]
		if mod.A.Rows != 8 || mod.A.Cols != oi[1] || mod.B.Rows != oi[0] || mod.B.Cols != 8 {
			t.Errorf("%s: A %d×%d, B %d×%d for a %d×%d weight", mod.Path, mod.A.Rows, mod.A.Cols, mod.B.Rows, mod.B.Cols, oi[0], oi[1])
		}
	}
}

// TestReadDirErrors: each malformed adapter is refused with the file and
// the tensor or field named.
func TestReadDirErrors(t *testing.T) {
	const cfg = `{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["q_proj"]}`
	q := "base_model.model.model.layers.0.self_attn.q_proj"
	qA, qB, qM := q+".lora_A.weight", q+".lora_B.weight", q+".lora_magnitude_vector"
	mat := func(name string, shape ...int) safetensors.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return safetensors.FromF32(name, shape, make([]float32, n))
	}
	const weights, config = WeightsFile, ConfigFile
	for _, tc := range []struct {
		name, cfg string
		ts        []safetensors.Tensor
		file      string   // the file the error must name
		want      []string // and these
	}{
		{"missing A", cfg, []safetensors.Tensor{mat(qB, 32, 2)}, weights, []string{"model.layers.0.self_attn.q_proj", "only one of lora_A and lora_B"}},
		{"missing B", cfg, []safetensors.Tensor{mat(qA, 2, 32)}, weights, []string{"model.layers.0.self_attn.q_proj", "only one of lora_A and lora_B"}},
		{"A rank differs from r", cfg, []safetensors.Tensor{mat(qA, 3, 32), mat(qB, 32, 2)}, weights, []string{qA, "[3 32]", "r = 2"}},
		{"B rank differs from r", cfg, []safetensors.Tensor{mat(qA, 2, 32), mat(qB, 32, 3)}, weights, []string{qB, "[32 3]", "r = 2"}},
		{"not a matrix", cfg, []safetensors.Tensor{mat(qA, 2, 32, 1), mat(qB, 32, 2)}, weights, []string{qA, "[2 32 1]", "matrix"}},
		{"integer dtype", cfg, []safetensors.Tensor{{Name: qA, DType: safetensors.I32, Shape: []int{2, 32}, Data: make([]byte, 4*64)}, mat(qB, 32, 2)}, weights, []string{qA, "I32"}},
		{"not a LoRA weight", cfg, []safetensors.Tensor{mat("model.embed_tokens.weight", 2, 2)}, weights, []string{"model.embed_tokens.weight"}},
		{"no tensors", cfg, nil, weights, []string{"no LoRA tensors"}},
		{"config not JSON", `{"r":`, nil, config, []string{"not valid JSON"}},
		{"config bad r", `{"r":0,"target_modules":["q_proj"]}`, nil, config, []string{`"r"`}},
		{"config bad alpha", `{"r":2,"lora_alpha":"x","target_modules":["q_proj"]}`, nil, config, []string{`"lora_alpha"`}},
		{"config DoRA not a boolean", `{"r":2,"target_modules":["q_proj"],"use_dora":"yes"}`, nil, config, []string{`"use_dora"`}},
		{"DoRA without magnitude", `{"r":2,"target_modules":["q_proj"],"use_dora":true}`, []safetensors.Tensor{mat(qA, 2, 32), mat(qB, 32, 2)}, weights, []string{"model.layers.0.self_attn.q_proj", "lora_magnitude_vector", "use_dora"}},
		{"magnitude without DoRA", cfg, []safetensors.Tensor{mat(qA, 2, 32), mat(qB, 32, 2), mat(qM, 32)}, weights, []string{qM, "use_dora"}},
		{"magnitude not a vector", `{"r":2,"target_modules":["q_proj"],"use_dora":true}`, []safetensors.Tensor{mat(qA, 2, 32), mat(qB, 32, 2), mat(qM, 32, 1)}, weights, []string{qM, "[32 1]", "[32]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeAdapter(t, tc.cfg, tc.ts)
			_, err := ReadDir(dir)
			for _, w := range append(tc.want, filepath.Join(dir, tc.file)) {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("error %v, want one mentioning %q", err, w)
				}
			}
		})
	}
	t.Run("no config", func(t *testing.T) {
		dir := writeAdapter(t, cfg, []safetensors.Tensor{mat(qA, 2, 32), mat(qB, 32, 2)})
		os.Remove(filepath.Join(dir, ConfigFile))
		if _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, ConfigFile)) {
			t.Fatalf("error %v, want one naming %s", err, ConfigFile)
		}
	})
	// Load refuses what ReadDir accepts but the base cannot take, naming
	// the file, the tensor and the module.
	t.Run("does not fit the base", func(t *testing.T) {
		dir := writeAdapter(t, cfg, []safetensors.Tensor{mat(qA, 2, 31), mat(qB, 32, 2)})
		if _, err := ReadDir(dir); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir, loadBase(t, ref), "x")
		for _, w := range []string{filepath.Join(dir, WeightsFile), qA, "[2 31]", "[2 32]", "module model.layers.0.self_attn.q_proj"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Fatalf("error %v, want one mentioning %q", err, w)
			}
		}
	})
}
