package lora

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/model"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// File names of a PEFT adapter directory.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// Adapter is one named set of LoRA modules attached to a model.
type Adapter struct {
	Name    string
	Config  *Config
	Modules map[string]*model.LoRA // by module name, e.g. model.layers.0.self_attn.q_proj
}

// Params returns the adapter's A and B parameters in module order.
func (a *Adapter) Params() []*model.Param {
	var ps []*model.Param
	for _, name := range a.moduleNames() {
		ps = append(ps, a.Modules[name].A, a.Modules[name].B)
	}
	return ps
}

// NumParams counts the adapter's scalars.
func (a *Adapter) NumParams() int {
	n := 0
	for _, p := range a.Params() {
		n += p.NumElements()
	}
	return n
}

func (a *Adapter) moduleNames() []string {
	names := make([]string, 0, len(a.Modules))
	for n := range a.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SetEnabled switches every module of the adapter on or off.
func (a *Adapter) SetEnabled(on bool) {
	for _, l := range a.Modules {
		l.Disabled = !on
	}
}

// SetTrainable gives the adapter's A and B gradient buffers (or removes them).
func (a *Adapter) SetTrainable(on bool) {
	for _, p := range a.Params() {
		p.SetTrainable(on)
	}
}

// SetDropout sets the adapter's lora_dropout p, in [0, 1), in its config
// and in every attached module (training drops each input element of the
// LoRA path with probability p). Call it before the model's training state
// is made (train.Run.Prepare): the state sizes its dropout buffers then.
func (a *Adapter) SetDropout(p float64) error {
	if p < 0 || p >= 1 {
		return fmt.Errorf("lora: dropout must be in [0, 1), got %g", p)
	}
	a.Config.Dropout = p
	for _, l := range a.Modules {
		l.Dropout = float32(p)
	}
	return nil
}

// Targets returns the linear modules of m that cfg selects. A selection
// that matches nothing is an error listing the model's linear modules.
func Targets(m *model.Model, cfg *Config) ([]*model.Linear, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var out []*model.Linear
	kinds := map[string]bool{}
	for _, lin := range m.Linears() {
		kinds[lin.Name[strings.LastIndex(lin.Name, ".")+1:]] = true
		if cfg.Matches(lin.Name) {
			out = append(out, lin)
		}
	}
	if len(out) == 0 {
		ks := make([]string, 0, len(kinds))
		for k := range kinds {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		want := strings.Join(cfg.Targets, ",")
		if cfg.TargetRegex != "" {
			want = "regex " + cfg.TargetRegex
		}
		if len(cfg.Layers) > 0 {
			want += fmt.Sprintf(" in layers %v", cfg.Layers)
		}
		return nil, fmt.Errorf("lora: target modules %s match no linear module of the model; its linear modules are %s (for example %s), or all-linear",
			want, strings.Join(ks, ", "), m.Linears()[0].Name)
	}
	return out, nil
}

// New attaches a freshly initialised adapter to the modules cfg selects:
// A Kaiming-uniform U(−1/√in, 1/√in) (or N(0, (1/r)²) for gaussian), B = 0.
func New(m *model.Model, name string, cfg *Config, seed uint64) (*Adapter, error) {
	lins, err := Targets(m, cfg)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	a := &Adapter{Name: name, Config: cfg, Modules: map[string]*model.LoRA{}}
	for _, lin := range lins {
		A := make([]float32, cfg.R*lin.In)
		if cfg.Init == "gaussian" {
			std := 1 / float64(cfg.R)
			for i := range A {
				A[i] = float32(r.NormFloat64() * std)
			}
		} else {
			bound := 1 / math.Sqrt(float64(lin.In))
			for i := range A {
				A[i] = float32((2*r.Float64() - 1) * bound)
			}
		}
		B := make([]float32, lin.Out*cfg.R)
		a.attach(lin, A, B)
	}
	return a, nil
}

// attach adds one module's LoRA with owned float32 A (r×in) and B (out×r).
func (a *Adapter) attach(lin *model.Linear, A, B []float32) {
	r := a.Config.R
	l := &model.LoRA{
		Adapter: a.Name, Rank: r, Scale: a.Config.Scale(), Dropout: float32(a.Config.Dropout),
		A: model.NewParam(peftKey(lin.Name, "A"), []int{r, lin.In}, A),
		B: model.NewParam(peftKey(lin.Name, "B"), []int{lin.Out, r}, B),
	}
	lin.LoRA = append(lin.LoRA, l)
	a.Modules[lin.Name] = l
}

// Detach removes the adapter's modules from the model.
func (a *Adapter) Detach(m *model.Model) {
	for _, lin := range m.Linears() {
		if l, ok := a.Modules[lin.Name]; ok {
			lin.LoRA = slices.DeleteFunc(lin.LoRA, func(x *model.LoRA) bool { return x == l })
		}
	}
}

// peftKey is the tensor name PEFT saves: base_model.model.<module>.lora_A.weight.
func peftKey(module, which string) string {
	return "base_model.model." + module + ".lora_" + which + ".weight"
}

// Save writes the adapter as a PEFT directory: adapter_config.json and
// adapter_model.safetensors (float32), both atomically.
func (a *Adapter) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range a.Params() {
		ts = append(ts, safetensors.FromF32(p.Name, p.Shape, p.W.F32))
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	js, err := json.MarshalIndent(a.Config.peftJSON(), "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ConfigFile), append(js, '\n'))
}

// Load reads a PEFT adapter directory and attaches it to m under name.
// Tensors may be F32, BF16 or F16 (kept as float32); keys may carry PEFT's
// adapter name (lora_A.default.weight). An adapter that does not fit the
// base — a module the model lacks, a wrong shape, a missing A or B — is
// refused with the module named.
func Load(dir string, m *model.Model, name string) (*Adapter, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	wpath := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(wpath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type pair struct{ A, B *safetensors.Tensor }
	mods := map[string]*pair{}
	for _, key := range f.Names() {
		module, which, ok := parsePEFTKey(key)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q is not a LoRA weight (want base_model.model.<module>.lora_A.weight or .lora_B.weight)", wpath, key)
		}
		t, _ := f.Tensor(key)
		p := mods[module]
		if p == nil {
			p = &pair{}
			mods[module] = p
		}
		if which == "A" {
			p.A = &t
		} else {
			p.B = &t
		}
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("%s: no LoRA tensors", wpath)
	}
	byName := map[string]*model.Linear{}
	for _, lin := range m.Linears() {
		byName[lin.Name] = lin
	}
	a := &Adapter{Name: name, Config: cfg, Modules: map[string]*model.LoRA{}}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	type loaded struct {
		lin  *model.Linear
		A, B []float32
	}
	var all []loaded
	for _, module := range names {
		p := mods[module]
		lin, ok := byName[module]
		if !ok {
			return nil, fmt.Errorf("%s: module %q is not a linear module of the base model %s", wpath, module, m.Source)
		}
		if p.A == nil || p.B == nil {
			return nil, fmt.Errorf("%s: module %q has only one of lora_A and lora_B", wpath, module)
		}
		A, err := floats(wpath, *p.A, []int{cfg.R, lin.In})
		if err != nil {
			return nil, fmt.Errorf("%s (module %s, in=%d out=%d r=%d)", err, module, lin.In, lin.Out, cfg.R)
		}
		B, err := floats(wpath, *p.B, []int{lin.Out, cfg.R})
		if err != nil {
			return nil, fmt.Errorf("%s (module %s, in=%d out=%d r=%d)", err, module, lin.In, lin.Out, cfg.R)
		}
		all = append(all, loaded{lin, A, B})
	}
	for _, l := range all {
		a.attach(l.lin, l.A, l.B)
	}
	return a, nil
}

// parsePEFTKey splits base_model.model.<module>.lora_{A,B}[.<adapter>].weight.
func parsePEFTKey(key string) (module, which string, ok bool) {
	rest, ok := strings.CutPrefix(key, "base_model.model.")
	if !ok {
		return "", "", false
	}
	rest, ok = strings.CutSuffix(rest, ".weight")
	if !ok {
		return "", "", false
	}
	for _, w := range []string{"A", "B"} {
		i := strings.LastIndex(rest, ".lora_"+w)
		if i < 0 {
			continue
		}
		tail := rest[i+len(".lora_"+w):]
		if tail != "" && (tail[0] != '.' || strings.Contains(tail[1:], ".")) {
			continue
		}
		return rest[:i], w, i > 0
	}
	return "", "", false
}

// floats copies a tensor of the expected shape to float32.
func floats(path string, t safetensors.Tensor, shape []int) ([]float32, error) {
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, the base model needs %v", path, t.Name, t.Shape, shape)
	}
	switch t.DType {
	case safetensors.F32:
		v, err := t.F32()
		if err != nil {
			return nil, err
		}
		return slices.Clone(v), nil
	case safetensors.BF16, safetensors.F16:
		v, err := t.U16()
		if err != nil {
			return nil, err
		}
		conv := tensor.BF16ToF32
		if t.DType == safetensors.F16 {
			conv = tensor.F16ToF32
		}
		out := make([]float32, len(v))
		for i, h := range v {
			out[i] = conv(h)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: tensor %q has dtype %s; adapters must be F32, BF16 or F16", path, t.Name, t.DType)
}

// Merge folds the adapter into the base weights, W += scale·s·B·A, and
// disables its modules so the model computes the same function without the
// low-rank path. The merged weights become owned float32.
func (a *Adapter) Merge(m *model.Model, scale float32) {
	a.fold(m, scale)
	a.SetEnabled(false)
}

// Unmerge undoes Merge: W −= scale·s·B·A, and re-enables the modules.
// The result equals the original weights up to float32 rounding.
func (a *Adapter) Unmerge(m *model.Model, scale float32) {
	a.fold(m, -scale)
	a.SetEnabled(true)
}

func (a *Adapter) fold(m *model.Model, scale float32) {
	for _, lin := range m.Linears() {
		l, ok := a.Modules[lin.Name]
		if !ok {
			continue
		}
		w := lin.W.F32()
		tensor.Gemm(false, false, scale*l.Scale, l.B.W, l.A.W, 1, w, lin.In)
	}
}
