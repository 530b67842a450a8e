package lora

import (
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
	// merged holds, while a DoRA adapter is merged, each module's weight
	// norm ‖W + s·B·A‖ of the original W, which Unmerge divides out again.
	merged map[string][]float32
}

// Params returns the adapter's A and B parameters (and DoRA magnitudes)
// in module order.
func (a *Adapter) Params() []*model.Param {
	var ps []*model.Param
	for _, name := range a.moduleNames() {
		ps = append(ps, a.Modules[name].Params()...)
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

// SetTrainable gives the adapter's A and B (and DoRA magnitudes) gradient
// buffers (or removes them).
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

// Targets returns the linear modules of m that cfg selects; a cfg that
// names none first takes its family's default (FamilyTargets), as PEFT
// does. A selection that matches nothing is an error listing the model's
// linear modules.
func Targets(m *model.Model, cfg *Config) ([]*model.Linear, error) {
	if err := cfg.defaultTargets(m.Cfg); err != nil {
		return nil, err
	}
	lins := m.Linears()
	paths := make([]string, len(lins))
	for i, lin := range lins {
		paths[i] = lin.Name
	}
	idx, err := cfg.Select(paths)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Linear, len(idx))
	for i, k := range idx {
		out[i] = lins[k]
	}
	return out, nil
}

// ConfigTargets is Targets from a config alone (memory prediction, FLOP
// counts): the specs of the linear modules that cfg selects in a model of
// config c, one entry per selected module, in Model.Linears order.
func ConfigTargets(c *model.Config, cfg *Config) ([]model.LinearSpec, error) {
	if err := cfg.defaultTargets(c); err != nil {
		return nil, err
	}
	var paths []string
	var specs []model.LinearSpec
	for i := 0; i < c.NumLayers; i++ {
		for _, s := range c.LayerLinears() {
			paths = append(paths, c.LayerPrefix(i)+s.Name)
			specs = append(specs, s)
		}
	}
	idx, err := cfg.Select(paths)
	if err != nil {
		return nil, err
	}
	out := make([]model.LinearSpec, len(idx))
	for i, k := range idx {
		out[i] = specs[k]
	}
	return out, nil
}

// New attaches a freshly initialised adapter to the modules cfg selects:
// A Kaiming-uniform U(−1/√in, 1/√in) (or N(0, (1/r)²) for gaussian), B = 0,
// and with DoRA the magnitude m_j = ‖W_j‖ (the weight norm with B = 0).
func New(m *model.Model, name string, cfg *Config, seed uint64) (*Adapter, error) {
	lins, err := Targets(m, cfg)
	if err != nil {
		return nil, err
	}
	if err := checkShared(lins, name, cfg.DoRA); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	a := &Adapter{Name: name, Config: cfg, Modules: map[string]*model.LoRA{}}
	cfg.FanInFanOut = conv1D(lins)
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
		a.attach(lin, A, B, nil)
	}
	return a, nil
}

// attach adds one module's LoRA with owned float32 A (r×in) and B (out×r)
// and, for a DoRA adapter, the magnitude M (out), or nil for the weight
// norm ‖W + s·B·A‖ (PEFT's initial magnitude).
func (a *Adapter) attach(lin *model.Linear, A, B, M []float32) {
	r := a.Config.R
	l := &model.LoRA{
		Adapter: a.Name, Rank: r, Scale: a.Config.Scale(), Dropout: float32(a.Config.Dropout),
		A: model.NewParam(peftKey(lin.Name, "A"), []int{r, lin.In}, A),
		B: model.NewParam(peftKey(lin.Name, "B"), []int{lin.Out, r}, B),
	}
	if a.Config.DoRA {
		if M == nil {
			M = make([]float32, lin.Out)
			model.DoraNorm(M, lin, l)
		}
		l.Magnitude = model.NewParam(magnitudeKey(lin.Name), []int{lin.Out}, M)
	}
	lin.LoRA = append(lin.LoRA, l)
	a.Modules[lin.Name] = l
}

// checkShared refuses to put adapter name (DoRA when dora is set) on
// modules that already hold an adapter when either of them is DoRA: a DoRA
// module rescales the whole output of its linear, so it is the only
// adapter there.
func checkShared(lins []*model.Linear, name string, dora bool) error {
	for _, lin := range lins {
		for _, l := range lin.LoRA {
			if dora || l.Magnitude != nil {
				return fmt.Errorf("lora: adapter %q cannot share module %s with adapter %q: a DoRA adapter must be the only adapter of its modules", name, lin.Name, l.Adapter)
			}
		}
	}
	return nil
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

// magnitudeSuffix ends the name of a DoRA magnitude as PEFT saves it:
// base_model.model.<module>.lora_magnitude_vector, without ".weight".
const magnitudeSuffix = ".lora_magnitude_vector"

func magnitudeKey(module string) string {
	return "base_model.model." + module + magnitudeSuffix
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
	js, err := a.Config.peftJSON()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ConfigFile), js)
}

// File is a PEFT adapter directory as stored, read without a base model.
type File struct {
	Dir     string
	Config  *Config
	Modules []Module // sorted by Path
}

// Module is one adapted linear module of a File: A is r×in and B is out×r,
// both owned float32 widened from the stored F32, BF16 or F16; a DoRA
// adapter's M is the magnitude, 1×out.
type Module struct {
	Path         string // the module's path in the model, e.g. model.layers.3.self_attn.q_proj
	AName, BName string // the names of its lora_A and lora_B tensors in WeightsFile
	A, B         tensor.Mat
	MName        string // the name of its lora_magnitude_vector (DoRA), else ""
	M            tensor.Mat
}

// ReadDir reads a PEFT adapter directory without a base model: its
// adapter_config.json and, from adapter_model.safetensors, every module's
// lora_A and lora_B. Tensor names are
// base_model.model.<module path>.lora_{A,B}[.<adapter name>].weight (PEFT
// writes the adapter name, e.g. "default", in some versions). Errors name
// the file and the field or tensor: a config ParseConfig refuses, a tensor
// that is not a LoRA weight, a module with only one of A and B, a dtype
// other than F32, BF16 and F16, an A that is not r×in or a B that is not
// out×r (r from the config). A DoRA adapter (use_dora) has, per module,
// base_model.model.<module path>.lora_magnitude_vector, a vector of out
// values; it is an error for one to be missing, or present without
// use_dora.
func ReadDir(dir string) (*File, error) {
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
	type pair struct{ A, B, M *safetensors.Tensor }
	mods := map[string]*pair{}
	for _, key := range f.Names() {
		module, which, ok := parsePEFTKey(key)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q is not a LoRA weight (want base_model.model.<module>.lora_A.weight, .lora_B.weight or .lora_magnitude_vector)", wpath, key)
		}
		t, _ := f.Tensor(key)
		p := mods[module]
		if p == nil {
			p = &pair{}
			mods[module] = p
		}
		switch which {
		case "A":
			p.A = &t
		case "B":
			p.B = &t
		default:
			if !cfg.DoRA {
				return nil, fmt.Errorf("%s: tensor %q is a DoRA magnitude but %s does not set use_dora", wpath, key, ConfigFile)
			}
			p.M = &t
		}
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("%s: no LoRA tensors", wpath)
	}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	out := &File{Dir: dir, Config: cfg}
	for _, module := range names {
		p := mods[module]
		if p.A == nil || p.B == nil {
			return nil, fmt.Errorf("%s: module %q has only one of lora_A and lora_B", wpath, module)
		}
		A, err := widened(wpath, *p.A)
		if err != nil {
			return nil, err
		}
		B, err := widened(wpath, *p.B)
		if err != nil {
			return nil, err
		}
		if A.Rows != cfg.R {
			return nil, fmt.Errorf("%s: tensor %q has shape [%d %d], want [r in] with r = %d from %s", wpath, p.A.Name, A.Rows, A.Cols, cfg.R, ConfigFile)
		}
		if B.Cols != cfg.R {
			return nil, fmt.Errorf("%s: tensor %q has shape [%d %d], want [out r] with r = %d from %s", wpath, p.B.Name, B.Rows, B.Cols, cfg.R, ConfigFile)
		}
		mod := Module{Path: module, AName: p.A.Name, BName: p.B.Name, A: A, B: B}
		if cfg.DoRA {
			if p.M == nil {
				return nil, fmt.Errorf("%s: module %q has no lora_magnitude_vector, which a DoRA adapter (use_dora in %s) needs", wpath, module, ConfigFile)
			}
			if len(p.M.Shape) != 1 || p.M.Shape[0] != B.Rows {
				return nil, fmt.Errorf("%s: tensor %q has shape %v, want [%d] (out, the rows of %s)", wpath, p.M.Name, p.M.Shape, B.Rows, p.B.Name)
			}
			if mod.M, err = widened(wpath, *p.M); err != nil {
				return nil, err
			}
			mod.MName = p.M.Name
		}
		out.Modules = append(out.Modules, mod)
	}
	return out, nil
}

// Load reads a PEFT adapter directory (see ReadDir) and attaches it to m
// under name. An adapter that does not fit the base — a module the model
// lacks, an A that is not r×in or a B that is not out×r for the module's
// in and out — is refused with the tensor and module named, and nothing is
// attached.
func Load(dir string, m *model.Model, name string) (*Adapter, error) {
	f, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	wpath := filepath.Join(dir, WeightsFile)
	byName := map[string]*model.Linear{}
	for _, lin := range m.Linears() {
		byName[lin.Name] = lin
	}
	r := f.Config.R
	for _, mod := range f.Modules {
		lin, ok := byName[mod.Path]
		if !ok {
			return nil, fmt.Errorf("%s: module %q is not a linear module of the base model %s", wpath, mod.Path, m.Source)
		}
		for _, t := range []struct {
			name string
			got  tensor.Mat
			want [2]int
		}{{mod.AName, mod.A, [2]int{r, lin.In}}, {mod.BName, mod.B, [2]int{lin.Out, r}}} {
			if t.got.Rows != t.want[0] || t.got.Cols != t.want[1] {
				return nil, fmt.Errorf("%s: tensor %q has shape [%d %d], the base model needs %v (module %s, in=%d out=%d r=%d)",
					wpath, t.name, t.got.Rows, t.got.Cols, t.want, mod.Path, lin.In, lin.Out, r)
			}
		}
	}
	var lins []*model.Linear
	for _, mod := range f.Modules {
		lins = append(lins, byName[mod.Path])
	}
	if err := checkShared(lins, name, f.Config.DoRA); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	a := &Adapter{Name: name, Config: f.Config, Modules: map[string]*model.LoRA{}}
	for i, mod := range f.Modules {
		a.attach(lins[i], mod.A.F32, mod.B.F32, mod.M.F32)
	}
	a.Config.FanInFanOut = conv1D(lins)
	return a, nil
}

// RefuseDoRA is an error naming f's directory when f is a DoRA adapter
// (use_dora), which tool cannot take because of why; nil otherwise.
func (f *File) RefuseDoRA(tool, why string) error {
	if !f.Config.DoRA {
		return nil
	}
	return fmt.Errorf("%s: %s is a DoRA adapter (use_dora in %s): %s; merge it into the base with golora merge instead", tool, f.Dir, ConfigFile, why)
}

// conv1D reports whether the modules store their weights [in, out]
// (PEFT's fan_in_fan_out), as GPT-2's Conv1D modules do.
func conv1D(lins []*model.Linear) bool {
	return len(lins) > 0 && lins[0].W.Transposed
}

// parsePEFTKey splits base_model.model.<module>.lora_{A,B}[.<adapter>].weight
// (which is "A" or "B") and base_model.model.<module>.lora_magnitude_vector
// (which is "M").
func parsePEFTKey(key string) (module, which string, ok bool) {
	rest, ok := strings.CutPrefix(key, "base_model.model.")
	if !ok {
		return "", "", false
	}
	if module, ok := strings.CutSuffix(rest, magnitudeSuffix); ok {
		return module, "M", module != ""
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

// widened copies a matrix tensor (F32, BF16 or F16) into an owned float32
// matrix of the same shape; a vector becomes a 1×n matrix.
func widened(path string, t safetensors.Tensor) (tensor.Mat, error) {
	shape := t.Shape
	if len(shape) == 1 {
		shape = []int{1, shape[0]}
	}
	if len(shape) != 2 {
		return tensor.Mat{}, fmt.Errorf("%s: tensor %q has shape %v, want a matrix", path, t.Name, t.Shape)
	}
	v, err := t.Mat(shape[0], shape[1])
	if err != nil {
		return tensor.Mat{}, fmt.Errorf("%s: %w", path, err)
	}
	w := make([]float32, v.Rows*v.Cols)
	tensor.Widen(w, v, 0)
	return tensor.FromF32(w, v.Rows, v.Cols), nil
}

// Merge folds the adapter into the base weights, W += scale·s·B·A, and
// disables its modules so the model computes the same function without the
// low-rank path. A DoRA module's row j becomes
// W'_j = (m_j/n_j)·(W_j + scale·s·(B·A)_j) with n_j = ‖W_j + scale·s·(B·A)_j‖
// (PEFT's merge). The merged weights become owned float32.
func (a *Adapter) Merge(m *model.Model, scale float32) {
	a.merged = nil
	for _, lin := range m.Linears() {
		l, ok := a.Modules[lin.Name]
		if !ok {
			continue
		}
		w := lin.W.F32()
		if l.Magnitude == nil {
			tensor.Gemm(false, false, scale*l.Scale, l.B.W, l.A.W, 1, w, lin.In)
			continue
		}
		norm := make([]float32, lin.Out)
		scaled := *l
		scaled.Scale *= scale
		model.DoraNorm(norm, lin, &scaled)
		tensor.Gemm(false, false, scaled.Scale, l.B.W, l.A.W, 1, w, lin.In)
		for j, mj := range l.Magnitude.W.F32 {
			tensor.Scale(w[j*lin.In:(j+1)*lin.In], mj/norm[j])
		}
		if a.merged == nil {
			a.merged = map[string][]float32{}
		}
		a.merged[lin.Name] = norm
	}
	a.SetEnabled(false)
}

// Unmerge undoes Merge: W −= scale·s·B·A (a DoRA module's rows first
// divided by m_j/n_j with the norms Merge used), and re-enables the
// modules. The result equals the original weights up to float32 rounding.
func (a *Adapter) Unmerge(m *model.Model, scale float32) {
	for _, lin := range m.Linears() {
		l, ok := a.Modules[lin.Name]
		if !ok {
			continue
		}
		w := lin.W.F32()
		if norm := a.merged[lin.Name]; norm != nil {
			for j, mj := range l.Magnitude.W.F32 {
				tensor.Scale(w[j*lin.In:(j+1)*lin.In], norm[j]/mj)
			}
		}
		tensor.Gemm(false, false, -scale*l.Scale, l.B.W, l.A.W, 1, w, lin.In)
	}
	a.merged = nil
	a.SetEnabled(true)
}
