package lora

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/golora/golora/internal/linalg"
	"github.com/golora/golora/model"
)

// Combination methods of Combine, PEFT's add_weighted_adapter
// combination_type values.
const (
	CombineLinear = "linear"
	CombineCat    = "cat"
	CombineSVD    = "svd"
)

// CombineNoDoRA says why Combine refuses DoRA adapters.
const CombineNoDoRA = "a DoRA module's output is rescaled by its magnitudes, which a sum of low-rank updates cannot carry"

// Input is one adapter of a combination: a stored adapter and its weight w.
type Input struct {
	File   *File
	Weight float64
}

// Combine builds one adapter from weighted ones, as PEFT's
// add_weighted_adapter does. Input i has scaling s_i (Config.Scale) and, in
// each module it adapts, A_i: [r_i, in] and B_i: [out, r_i]; a module that
// an input lacks gets nothing from it. The result is unattached, with rank
// r and lora_alpha = r (so its scaling is 1, as PEFT sets it; use_rslora is
// written false so that this holds for rsLoRA inputs too), the first
// input's other config fields, the union of the inputs' target_modules and
// its modules the union of theirs:
//
//   - cat: r = Σ r_i; A = [w_i·s_i·A_i] stacked by rows, B = [B_i] side by
//     side, so B·A = Σ w_i·s_i·B_i·A_i exactly.
//   - linear: all r_i equal, r = r_i; A = Σ √(w_i·s_i)·A_i and
//     B = Σ √(w_i·s_i)·B_i (not the sum of the updates unless one input has
//     the module); every w_i·s_i must be ≥ 0.
//   - svd: r = rank, or max r_i when rank is 0; the best rank-r
//     approximation of ΔW = Σ w_i·s_i·B_i·A_i (Eckart–Young), B = U·diag(S)
//     and A = Vᵀ from its top r singular triplets, computed in float64
//     without forming ΔW: QR of B' = [w_i·s_i·B_i] and of A'ᵀ = [A_i]ᵀ, then
//     the SVD of the small core R_B·R_Aᵀ. A module whose ΔW has rank below
//     r gets zero rows of A and columns of B.
//
// rank must be 0 except for svd; DoRA adapters are refused. Errors name
// the input directory.
func Combine(ins []Input, method string, rank int) (*Adapter, error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("lora: combine: no adapters")
	}
	switch method {
	case CombineLinear, CombineCat, CombineSVD:
	default:
		return nil, fmt.Errorf("lora: combine: method %q is not one of %s, %s, %s", method, CombineLinear, CombineCat, CombineSVD)
	}
	if rank < 0 || rank > maxRank {
		return nil, fmt.Errorf("lora: combine: rank must be in [1, %d], got %d", maxRank, rank)
	}
	if rank != 0 && method != CombineSVD {
		return nil, fmt.Errorf("lora: combine: a rank applies only to method %s (method %s fixes it)", CombineSVD, method)
	}
	ranks := make([]int, len(ins))
	for i, in := range ins {
		if err := in.File.RefuseDoRA("lora: combine", CombineNoDoRA); err != nil {
			return nil, err
		}
		ranks[i] = in.File.Config.R
		w := in.Weight
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("lora: combine: %s: weight %g is not finite", in.File.Dir, w)
		}
		if method == CombineLinear && w*float64(in.File.Config.Scale()) < 0 {
			return nil, fmt.Errorf("lora: combine: %s: method %s takes √(weight·scaling), and weight %g times scaling %g is negative (use %s or %s)",
				in.File.Dir, method, w, in.File.Config.Scale(), CombineCat, CombineSVD)
		}
	}
	var r int
	switch method {
	case CombineLinear:
		for i := range ranks {
			if ranks[i] != ranks[0] {
				return nil, fmt.Errorf("lora: combine: method %s needs equal ranks, got r = %d (%s) and r = %d (%s); use %s or %s",
					method, ranks[0], ins[0].File.Dir, ranks[i], ins[i].File.Dir, CombineCat, CombineSVD)
			}
		}
		r = ranks[0]
	case CombineCat:
		for _, x := range ranks {
			r += x
		}
		if r > maxRank {
			return nil, fmt.Errorf("lora: combine: the concatenated rank %d exceeds %d", r, maxRank)
		}
	case CombineSVD:
		r = rank
		if r == 0 {
			r = slices.Max(ranks)
		}
	}
	cfg, err := combinedConfig(ins, r)
	if err != nil {
		return nil, err
	}
	out := &Adapter{Name: "combined", Config: cfg, Modules: map[string]*model.LoRA{}}
	for _, path := range modulePaths(ins) {
		var parts []part
		for _, in := range ins {
			for _, mod := range in.File.Modules {
				if mod.Path != path {
					continue
				}
				p := part{dir: in.File.Dir, ws: in.Weight * float64(in.File.Config.Scale()), A: mod.A.F32, B: mod.B.F32,
					r: mod.A.Rows, in: mod.A.Cols, out: mod.B.Rows}
				if len(parts) > 0 && (p.in != parts[0].in || p.out != parts[0].out) {
					return nil, fmt.Errorf("lora: combine: module %s is %d×%d in %s but %d×%d in %s",
						path, p.out, p.in, p.dir, parts[0].out, parts[0].in, parts[0].dir)
				}
				parts = append(parts, p)
			}
		}
		var A, B []float32
		switch method {
		case CombineCat:
			A, B = catModule(parts, r)
		case CombineLinear:
			A, B = linearModule(parts, r)
		case CombineSVD:
			A, B = svdModule(parts, r)
		}
		in, outDim := parts[0].in, parts[0].out
		out.Modules[path] = &model.LoRA{
			Adapter: out.Name, Rank: r, Scale: cfg.Scale(),
			A: model.NewParam(peftKey(path, "A"), []int{r, in}, A),
			B: model.NewParam(peftKey(path, "B"), []int{outDim, r}, B),
		}
	}
	return out, nil
}

// part is one input's module in a combination: ws = w·s, A: [r, in], B: [out, r].
type part struct {
	dir        string
	ws         float64
	A, B       []float32
	r, in, out int
}

// modulePaths is the sorted union of the inputs' module paths.
func modulePaths(ins []Input) []string {
	var paths []string
	for _, in := range ins {
		for _, mod := range in.File.Modules {
			paths = append(paths, mod.Path)
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// catModule stacks w_i·s_i·A_i by rows and B_i by columns, in input order,
// zero-padded to rank r.
func catModule(parts []part, r int) (A, B []float32) {
	in, out := parts[0].in, parts[0].out
	A, B = make([]float32, r*in), make([]float32, out*r)
	row := 0
	for _, p := range parts {
		for k := 0; k < p.r; k++ {
			for j := 0; j < in; j++ {
				A[(row+k)*in+j] = float32(p.ws * float64(p.A[k*in+j]))
			}
			for i := 0; i < out; i++ {
				B[i*r+row+k] = p.B[i*p.r+k]
			}
		}
		row += p.r
	}
	return A, B
}

// linearModule is Σ √(w_i·s_i)·A_i and Σ √(w_i·s_i)·B_i (all of rank r).
func linearModule(parts []part, r int) (A, B []float32) {
	in, out := parts[0].in, parts[0].out
	a, b := make([]float64, r*in), make([]float64, out*r)
	for _, p := range parts {
		f := math.Sqrt(p.ws)
		for i, x := range p.A {
			a[i] += f * float64(x)
		}
		for i, x := range p.B {
			b[i] += f * float64(x)
		}
	}
	return narrow(a), narrow(b)
}

// svdModule is the best rank-r factorisation B·A of Σ w_i·s_i·B_i·A_i:
// with B' = Q_B·R_B and A'ᵀ = Q_A·R_A, ΔW = Q_B·(R_B·R_Aᵀ)·Q_Aᵀ, and the
// core's SVD U·S·Vᵀ gives B = Q_B·U·S and A = (Q_A·V)ᵀ, truncated to r.
func svdModule(parts []part, r int) (A, B []float32) {
	in, out := parts[0].in, parts[0].out
	total := 0
	for _, p := range parts {
		total += p.r
	}
	bp, at := linalg.New(out, total), linalg.New(in, total) // B' and A'ᵀ
	col := 0
	for _, p := range parts {
		for k := 0; k < p.r; k++ {
			for i := 0; i < out; i++ {
				bp.Set(i, col+k, p.ws*float64(p.B[i*p.r+k]))
			}
			for j := 0; j < in; j++ {
				at.Set(j, col+k, float64(p.A[k*in+j]))
			}
		}
		col += p.r
	}
	qb, rb := linalg.QR(bp)
	qa, ra := linalg.QR(at)
	u, s, v := linalg.SVD(linalg.Mul(rb, ra.T()))
	ub, va := linalg.Mul(qb, u), linalg.Mul(qa, v) // out×k and in×k
	A, B = make([]float32, r*in), make([]float32, out*r)
	for k := 0; k < min(r, len(s)); k++ {
		for i := 0; i < out; i++ {
			B[i*r+k] = float32(ub.At(i, k) * s[k])
		}
		for j := 0; j < in; j++ {
			A[k*in+j] = float32(va.At(j, k))
		}
	}
	return A, B
}

// narrow rounds float64 values to float32.
func narrow(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// combinedConfig is the first input's config with r = lora_alpha = r, no
// rsLoRA, and the inputs' target_modules joined as PEFT joins them: lists
// by union, regular expressions as (re1)|(re2)|…; a mix is refused.
// layers_to_transform is kept when all inputs agree and dropped otherwise
// (the modules, not the config, say which layers carry weights).
func combinedConfig(ins []Input, r int) (*Config, error) {
	cfg := *ins[0].File.Config
	cfg.R, cfg.Alpha, cfg.RSLoRA = r, float64(r), false
	var lists, regexes []string
	for _, in := range ins {
		c := in.File.Config
		if c.TargetRegex != "" {
			regexes = append(regexes, c.TargetRegex)
		} else {
			lists = append(lists, c.Targets...)
		}
		if (c.TargetRegex != "") != (cfg.TargetRegex != "") {
			return nil, fmt.Errorf("lora: combine: %s: target_modules is %s but %s's is %s; PEFT cannot combine a list with a regular expression",
				in.File.Dir, describeTargets(c), ins[0].File.Dir, describeTargets(ins[0].File.Config))
		}
		if !slices.Equal(c.Layers, cfg.Layers) {
			cfg.Layers = nil
		}
	}
	if len(regexes) > 0 {
		slices.Sort(regexes)
		regexes = slices.Compact(regexes)
		cfg.TargetRegex = regexes[0]
		if len(regexes) > 1 {
			cfg.TargetRegex = "(" + strings.Join(regexes, ")|(") + ")"
		}
	} else {
		slices.Sort(lists)
		cfg.Targets = slices.Compact(lists)
		if slices.Contains(cfg.Targets, "all-linear") {
			cfg.Targets = []string{"all-linear"}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lora: combine: %w", err)
	}
	return &cfg, nil
}

func describeTargets(c *Config) string {
	if c.TargetRegex != "" {
		return fmt.Sprintf("the regular expression %q", c.TargetRegex)
	}
	return fmt.Sprintf("the list %v", c.Targets)
}
