// Package model holds the Llama-family transformer (llama, mistral, qwen2,
// qwen3, and Gemma's variant of it: gemma2, gemma3_text) and GPT-2:
// qwen3, and phi3 with its fused projections) and GPT-2:
// its config, its weights as views into memory-mapped safetensors files, and
// a forward and backward pass with Hugging Face transformers semantics,
// computed in float32 whatever the stored dtype.
//
// Weights stay where they were loaded (an mmap'd BF16 tensor is read through
// the GEMM's packing, never copied); only parameters marked trainable get an
// owned float32 copy and a gradient buffer. Frozen weights get no gradient
// buffer at all: that is the memory LoRA saves.
package model

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/golora/golora/quant"
	"github.com/golora/golora/tensor"
)

// Param is one named weight tensor, viewed as a matrix (vectors are 1×n).
type Param struct {
	Name  string
	Shape []int      // the shape as stored in the checkpoint
	W     tensor.Mat // the value; may view a read-only file mapping
	Grad  []float32  // d loss/d W, same layout as W; nil while frozen
	owned bool       // W.F32 is a private float32 copy that may be written
	// Transposed: W holds the transpose of the stored [Shape[0],
	// Shape[1]] tensor (a Conv1D weight, stored [in, out], held [out, in]).
	Transposed bool
}

// NewParam makes a parameter that owns data, viewed as shape (a vector is
// 1×n, a 2-D shape rows×cols).
func NewParam(name string, shape []int, data []float32) *Param {
	rows, cols := 1, shape[0]
	if len(shape) == 2 {
		rows, cols = shape[0], shape[1]
	}
	return &Param{Name: name, Shape: shape, W: tensor.FromF32(data, rows, cols), owned: true}
}

// Trainable reports whether the parameter has a gradient buffer.
func (p *Param) Trainable() bool { return p.Grad != nil }

// NumElements is the number of scalars in the parameter.
func (p *Param) NumElements() int { return p.W.Rows * p.W.Cols }

// F32 returns the value as a writable float32 slice, first making the
// parameter own a float32 copy if it views a file or a narrower dtype.
func (p *Param) F32() []float32 {
	if !p.owned {
		n := p.W.Rows * p.W.Cols
		dst := make([]float32, n)
		for i := 0; i < p.W.Rows; i++ {
			p.W.Row(i, dst[i*p.W.Cols:])
		}
		p.W = tensor.FromF32(dst, p.W.Rows, p.W.Cols)
		p.owned = true
	}
	return p.W.F32
}

// SetTrainable gives the parameter (or takes away) a zeroed gradient buffer.
// A trainable parameter owns a float32 copy of its value.
func (p *Param) SetTrainable(on bool) {
	if !on {
		p.Grad = nil
		return
	}
	p.F32()
	if p.Grad == nil {
		p.Grad = make([]float32, p.NumElements())
	}
}

// Linear is y = x·Wᵀ + b (+ the LoRA terms), W: [Out, In], b: [Out].
type Linear struct {
	Name    string // module path, e.g. "model.layers.0.self_attn.q_proj"
	In, Out int
	W       *Param
	Bias    *Param // nil when the module has no bias
	LoRA    []*LoRA
}

// LoRA is one low-rank adapter on a Linear, with PEFT semantics:
// y += Scale · (dropout(x)·Aᵀ)·Bᵀ, A: [Rank, In], B: [Out, Rank].
// Dropout is the probability of zeroing an input element during training;
// kept elements are scaled by 1/(1-Dropout). Disabled adapters are skipped.
//
// With a Magnitude ([Out], PEFT's lora_magnitude_vector) the adapter is
// DoRA (see doraForward): the output rows of W + Scale·B·A are rescaled to
// the trained magnitudes. A DoRA adapter must be the only enabled adapter
// of its Linear.
type LoRA struct {
	Adapter   string // adapter name, for several adapters on one base
	A, B      *Param
	Magnitude *Param // DoRA's m, 1×Out; nil for plain LoRA
	Rank      int
	Scale     float32
	Dropout   float32
	Disabled  bool
}

// Layer is one decoder block.
type Layer struct {
	InputNorm, PostNorm *Param // [C]
	QNorm, KNorm        *Param // [D] per-head query and key norms (Config.QKNorm), else nil
	Q, K, V, O          *Linear
	Gate, Up, Down      *Linear
	linears             []*Linear // in Config.LayerLinears order
	_                   struct{}
	// GPT-2: the LayerNorms' biases ([C]); c_attn, the fused q/k/v
	// projection (Q, K and V are nil), with o_proj's place taken by
	// attn.c_proj, up_proj's by c_fc and down_proj's by mlp.c_proj.
	InputNormBias, PostNormBias *Param
	QKV                         *Linear
	// Gemma (Config.Gemma): the norms of the attention's output
	// (post_attention_layernorm) and of the MLP's (post_feedforward_layernorm),
	// [C]; PostNorm is then pre_feedforward_layernorm.
	AttnOutNorm, MLPOutNorm *Param
	// GateUp is phi3's mlp.gate_up_proj, the fused gate and up
	// projections (Gate and Up are nil); phi3's QKV is self_attn.qkv_proj.
	GateUp *Linear
}

// Linears returns the layer's linear modules in the order of
// Config.LayerLinears (the order the forward pass runs them). The slice is
// the layer's own: do not modify it.
func (l *Layer) Linears() []*Linear { return l.linears }

// LinearSpec is one linear module of a decoder layer: y = x·Wᵀ (+ b),
// W: [Out, In], b: [Out] when Bias is set.
type LinearSpec struct {
	Name    string // module path inside a layer, e.g. "self_attn.q_proj"
	In, Out int
	Bias    bool
	slot    func(*Layer) **Linear // the Layer field the forward pass reads
	// Conv1D: the weight is stored [In, Out] (GPT-2's Conv1D; PEFT's
	// fan_in_fan_out).
	Conv1D bool
}

// Kind is the module's own name, the last part of its path (q_proj): what
// a PEFT target list names, and what groups one module across layers.
func (s LinearSpec) Kind() string { return s.Name[strings.LastIndex(s.Name, ".")+1:] }

// LayerLinears returns the linear modules of one decoder layer of c, in
// the order the forward pass runs them: the one description of them that
// parameter names and shapes, LoRA targets, memory prediction and FLOP
// counts all use. For the Llama family, with C the hidden size, I the MLP
// width and H·D, KV·D the query and key/value widths:
// self_attn.q_proj C→H·D, self_attn.k_proj and v_proj C→KV·D (biased with
// QKVBias), self_attn.o_proj H·D→C (biased with OBias), mlp.gate_proj and
// up_proj C→I, mlp.down_proj I→C.
//
// GPT-2's, all biased and Conv1D: attn.c_attn C→3C (q, k, v fused),
// attn.c_proj C→C, mlp.c_fc C→I, mlp.c_proj I→C.
//
// Phi-3's: self_attn.qkv_proj C→H·D+2·KV·D, self_attn.o_proj H·D→C,
// mlp.gate_up_proj C→2I, mlp.down_proj I→C (see phi3.go).
func (c *Config) LayerLinears() []LinearSpec {
	C, I := c.HiddenSize, c.IntermediateSize
	qd, kvd := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	if c.ModelType == "phi3" {
		return c.phi3Linears()
	}
	if c.ModelType == "gpt2" {
		return []LinearSpec{
			{"attn.c_attn", C, qd + 2*kvd, true, func(l *Layer) **Linear { return &l.QKV }, true},
			{"attn.c_proj", qd, C, true, func(l *Layer) **Linear { return &l.O }, true},
			{"mlp.c_fc", C, I, true, func(l *Layer) **Linear { return &l.Up }, true},
			{"mlp.c_proj", I, C, true, func(l *Layer) **Linear { return &l.Down }, true},
		}
	}
	return []LinearSpec{
		{"self_attn.q_proj", C, qd, c.QKVBias, func(l *Layer) **Linear { return &l.Q }, false},
		{"self_attn.k_proj", C, kvd, c.QKVBias, func(l *Layer) **Linear { return &l.K }, false},
		{"self_attn.v_proj", C, kvd, c.QKVBias, func(l *Layer) **Linear { return &l.V }, false},
		{"self_attn.o_proj", qd, C, c.OBias, func(l *Layer) **Linear { return &l.O }, false},
		{"mlp.gate_proj", C, I, false, func(l *Layer) **Linear { return &l.Gate }, false},
		{"mlp.up_proj", C, I, false, func(l *Layer) **Linear { return &l.Up }, false},
		{"mlp.down_proj", I, C, false, func(l *Layer) **Linear { return &l.Down }, false},
	}
}

// layerNorms are the RMSNorm weights of a Llama layer, each named with
// the block (the first part of a module path) it belongs to. A layer norm
// ([C]) normalises its block's input and is stored before the block; a
// head norm ([D], Config.QKNorm only: self_attn.q_norm and k_norm,
// normalising each head of the queries and keys) is stored after the
// block's linears, as transformers registers it.
// GPT-2's LayerNorms (ln_1 before attn, ln_2 before mlp) have a bias
// each, stored after the weight.
type normSpec struct {
	block, name string
	head        bool
	slot, bias  func(*Layer) **Param // bias: the LayerNorm's bias (Config.LayerNorm)
}

var layerNorms = []normSpec{
	{"self_attn", "input_layernorm", false, func(l *Layer) **Param { return &l.InputNorm }, nil},
	{"self_attn", "self_attn.q_norm", true, func(l *Layer) **Param { return &l.QNorm }, nil},
	{"self_attn", "self_attn.k_norm", true, func(l *Layer) **Param { return &l.KNorm }, nil},
	{"mlp", "post_attention_layernorm", false, func(l *Layer) **Param { return &l.PostNorm }, nil},
}

var gpt2Norms = []normSpec{
	{"attn", "ln_1", false, func(l *Layer) **Param { return &l.InputNorm }, func(l *Layer) **Param { return &l.InputNormBias }},
	{"mlp", "ln_2", false, func(l *Layer) **Param { return &l.PostNorm }, func(l *Layer) **Param { return &l.PostNormBias }},
}

// layerNorms returns the norms of c's layers.
func (c *Config) layerNorms() []normSpec {
	switch {
	case c.ModelType == "gpt2":
		return gpt2Norms
	case c.Gemma:
		return gemmaNorms
	}
	return layerNorms
}

// norms returns the weight (and bias) specs of the layer norms of block in
// layer prefix p whose head flag is head: none for head norms unless
// c.QKNorm.
func (c *Config) norms(p, block string, head bool) []paramSpec {
	var s []paramSpec
	for _, n := range c.layerNorms() {
		if n.block != block || n.head != head {
			continue
		}
		size := c.HiddenSize
		if head {
			if !c.QKNorm {
				continue
			}
			size = c.HeadDim
		}
		s = append(s, paramSpec{name: p + n.name + ".weight", rows: size})
		if n.bias != nil {
			s = append(s, paramSpec{name: p + n.name + ".bias", rows: size})
		}
	}
	return s
}

// LayerPrefix is the module path prefix of decoder layer i:
// "model.layers.<i>." ("transformer.h.<i>." for GPT-2). A linear's full
// module path is LayerPrefix(i) + LinearSpec.Name.
func (c *Config) LayerPrefix(i int) string {
	if c.ModelType == "gpt2" {
		return fmt.Sprintf("transformer.h.%d.", i)
	}
	return fmt.Sprintf("model.layers.%d.", i)
}

// topNames are the names of the tensors outside the layers: the token
// embedding, the position embedding (learned positions only), the final
// norm's weight and bias (LayerNorm only).
func (c *Config) topNames() (embed, pos, norm, normBias string) {
	if c.ModelType == "gpt2" {
		return "transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight", "transformer.ln_f.bias"
	}
	return "model.embed_tokens.weight", "", "model.norm.weight", ""
}

// LinearKinds lists the kinds (LinearSpec.Kind) of the layer linears of
// every supported architecture, each once, in the order a layer runs them:
// an order for module names where no config is at hand.
func LinearKinds() []string {
	archs := make([]string, 0, len(Architectures))
	for a := range Architectures {
		archs = append(archs, a)
	}
	sort.Strings(archs)
	var kinds []string
	for _, a := range archs {
		c := &Config{Architecture: a, ModelType: Architectures[a]}
		for _, l := range c.LayerLinears() {
			if k := l.Kind(); !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	return kinds
}

// Model is a Llama-family (or GPT-2) causal language model.
type Model struct {
	Cfg    *Config
	Embed  *Param // model.embed_tokens.weight [V, C]
	Pos    *Param // learned positions [MaxPositions, C] (GPT-2's wpe), else nil
	Layers []*Layer
	Norm   *Param // model.norm.weight [C]
	// NormBias is the final LayerNorm's bias [C] (GPT-2's ln_f), else nil.
	NormBias *Param
	LMHead   *Param // lm_head.weight [V, C]; the same *Param as Embed when tied
	// Source is the directory the weights came from ("" for a random model).
	Source string
	params []*Param // every distinct base parameter, in Config.specs order
	closer io.Closer

	// embedScale multiplies the token embeddings (Config.embedScale of
	// the embedding's dtype as loaded; 1 but for Gemma).
	embedScale float32
}

// Close releases the file mappings the weights view. The model must not be
// used afterwards unless every parameter owns its data.
func (m *Model) Close() error {
	if m.closer == nil {
		return nil
	}
	err := m.closer.Close()
	m.closer = nil
	return err
}

// Params returns every distinct parameter in checkpoint order (a tied head
// appears once, as the embedding), LoRA parameters excluded.
func (m *Model) Params() []*Param { return slices.Clone(m.params) }

// Linears returns every linear module of the decoder layers, in order; the
// output head is not among them (PEFT's all-linear excludes it too).
func (m *Model) Linears() []*Linear {
	var out []*Linear
	for _, l := range m.Layers {
		out = append(out, l.Linears()...)
	}
	return out
}

// LoRAParams returns the A and B parameters (and DoRA magnitudes) of every
// attached adapter.
func (m *Model) LoRAParams() []*Param {
	var ps []*Param
	for _, lin := range m.Linears() {
		for _, a := range lin.LoRA {
			ps = append(ps, a.Params()...)
		}
	}
	return ps
}

// NumParams counts the base model's scalars (LoRA excluded).
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += p.NumElements()
	}
	return n
}

// SetTrainable marks the base parameters whose names satisfy keep as
// trainable and freezes the rest. SetTrainable(func(string) bool { return true })
// is full fine-tuning.
func (m *Model) SetTrainable(keep func(name string) bool) {
	for _, p := range m.Params() {
		p.SetTrainable(keep(p.Name))
	}
}

// paramSpec is one tensor the architecture expects.
type paramSpec struct {
	name       string
	rows       int
	cols       int  // 0: a vector of rows elements
	linear     bool // a layer linear's weight (what QLoRA quantizes)
	transposed bool // held as its cols×rows transpose (a Conv1D weight)
}

// specs lists every tensor the config's architecture needs, with shapes,
// in checkpoint order: the embedding; per layer each block's layer norm,
// then the block's linears (weight, bias) in LayerLinears order, then its
// head norms; the final norm; the output head unless tied.
func (c *Config) specs() []paramSpec {
	C, V := c.HiddenSize, c.VocabSize
	embed, pos, norm, normBias := c.topNames()
	s := []paramSpec{{name: embed, rows: V, cols: C}}
	if pos != "" {
		s = append(s, paramSpec{name: pos, rows: c.MaxPositions, cols: C})
	}
	for i := 0; i < c.NumLayers; i++ {
		p := c.LayerPrefix(i)
		block := ""
		for _, lin := range c.LayerLinears() {
			if b, _, _ := strings.Cut(lin.Name, "."); b != block {
				s = append(s, c.norms(p, block, true)...)
				block = b
				s = append(s, c.norms(p, block, false)...)
			}
			w := paramSpec{name: p + lin.Name + ".weight", rows: lin.Out, cols: lin.In, linear: true}
			if lin.Conv1D {
				w.rows, w.cols, w.transposed = lin.In, lin.Out, true
			}
			s = append(s, w)
			if lin.Bias {
				s = append(s, paramSpec{name: p + lin.Name + ".bias", rows: lin.Out})
			}
		}
		s = append(s, c.norms(p, block, true)...)
	}
	s = append(s, paramSpec{name: norm, rows: C})
	if normBias != "" {
		s = append(s, paramSpec{name: normBias, rows: C})
	}
	if !c.TieEmbeddings {
		s = append(s, paramSpec{name: "lm_head.weight", rows: V, cols: C})
	}
	return s
}

// F32HeldParams counts the parameters of c that Load holds as owned
// float32 whatever dtype the checkpoint stores them in: the vectors (norm
// weights and biases, which the element-wise kernels read as float32;
// assemble widens them) and the Conv1D weights it transposes. linear is
// the part of them that are decoder-layer linear weights.
func (c *Config) F32HeldParams() (all, linear int) {
	for _, s := range c.specs() {
		switch {
		case s.cols == 0:
			all += s.rows
		case s.transposed:
			all += s.rows * s.cols
			if s.linear {
				linear += s.rows * s.cols
			}
		}
	}
	return all, linear
}

// assemble builds the model structure from a function that supplies each
// tensor the architecture needs.
func assemble(c *Config, get func(s paramSpec) (*Param, error)) (*Model, error) {
	m := &Model{Cfg: c}
	ps := map[string]*Param{}
	for _, s := range c.specs() {
		p, err := get(s)
		if err != nil {
			return nil, err
		}
		ps[s.name] = p
		m.params = append(m.params, p)
	}
	embed, pos, norm, normBias := c.topNames()
	m.Embed, m.Pos, m.Norm, m.NormBias = ps[embed], ps[pos], ps[norm], ps[normBias]
	m.LMHead = m.Embed
	m.embedScale = c.embedScale(m.Embed.W.DType)
	if !c.TieEmbeddings {
		m.LMHead = ps["lm_head.weight"]
	}
	for i := 0; i < c.NumLayers; i++ {
		p := c.LayerPrefix(i)
		l := &Layer{}
		for _, n := range c.layerNorms() {
			*n.slot(l) = ps[p+n.name+".weight"] // nil for a head norm the config lacks
			if n.bias != nil {
				*n.bias(l) = ps[p+n.name+".bias"]
			}
		}
		for _, s := range c.LayerLinears() {
			name := p + s.Name
			lin := &Linear{Name: name, In: s.In, Out: s.Out, W: ps[name+".weight"], Bias: ps[name+".bias"]}
			*s.slot(l) = lin
			l.linears = append(l.linears, lin)
		}
		m.Layers = append(m.Layers, l)
	}
	// Norm weights and biases are tiny and read element-wise: keep them as
	// owned float32 so the kernels can use plain slices.
	for _, p := range m.params {
		if p.W.Rows == 1 {
			p.F32()
		}
	}
	return m, nil
}

// NumParams counts the scalars of a model of config c (LoRA excluded), as
// Model.NumParams does once the model is built.
func (c *Config) NumParams() int {
	n := 0
	for _, s := range c.specs() {
		n += s.rows * max(s.cols, 1)
	}
	return n
}

// NewRandom builds a model with freshly initialised float32 weights, as
// transformers' _init_weights does: linear and embedding weights
// N(0, std²), biases 0, norm weights 1 (0 for Gemma's 1 + w norms).
func NewRandom(c *Config, std float64, seed uint64) *Model {
	m, _ := newRandom(c, std, seed, nil)
	return m
}

// NewRandomQuantized is NewRandom with every decoder linear weight
// quantized to 4 bits as soon as it is drawn, so that no float32 copy of
// the whole model ever exists (for QLoRA memory measurements).
func NewRandomQuantized(c *Config, std float64, seed uint64, t quant.Type, double bool) (*Model, error) {
	var buf []float32
	return newRandom(c, std, seed, func(s paramSpec) holdFunc {
		if !s.linear {
			return nil
		}
		return func(fill func([]float32), rows, cols int) (tensor.Mat, error) {
			buf = slices.Grow(buf[:0], rows*cols)[:rows*cols]
			fill(buf)
			qw, err := quant.Quantize(buf, rows, cols, t, double)
			return tensor.FromQuant(qw), err
		}
	})
}

// NewRandomDType is NewRandom with every weight rounded to dt (tensor.BF16
// or tensor.F16) a row at a time as it is drawn and held in it, as Load
// holds a checkpoint stored in that dtype (a transposed Conv1D weight stays
// float32, as Load makes it; assemble widens the vectors).
func NewRandomDType(c *Config, std float64, seed uint64, dt tensor.DType) *Model {
	conv := tensor.F32ToBF16
	if dt == tensor.F16 {
		conv = tensor.F32ToF16
	}
	m, _ := newRandom(c, std, seed, func(s paramSpec) holdFunc {
		if s.transposed {
			return nil
		}
		return func(fill func([]float32), rows, cols int) (tensor.Mat, error) {
			h, row := make([]uint16, rows*cols), make([]float32, cols)
			for i := range rows {
				fill(row)
				for j, v := range row {
					h[i*cols+j] = conv(v)
				}
			}
			return tensor.FromU16(dt, h, rows, cols), nil
		}
	})
	return m
}

// A holdFunc makes the matrix the model holds for a rows×cols weight whose
// values fill draws: each call fills its argument with the next values in
// row-major order, so the matrix may be drawn whole or a part at a time.
type holdFunc func(fill func(dst []float32), rows, cols int) (tensor.Mat, error)

// newRandom draws every parameter; hold(s), when hold and its result are
// not nil, makes the matrix, else the parameter is drawn into float32.
func newRandom(c *Config, std float64, seed uint64, hold func(s paramSpec) holdFunc) (*Model, error) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	return assemble(c, func(s paramSpec) (*Param, error) {
		rows, cols := s.held()
		fill := func(dst []float32) {
			switch {
			case s.cols == 0 && !strings.HasSuffix(s.name, ".bias"): // a norm's weight
				for i := range dst {
					dst[i] = 1 - c.normOffset()
				}
			case strings.HasSuffix(s.name, ".bias"):
				clear(dst)
			default:
				for i := range dst {
					dst[i] = float32(r.NormFloat64() * std)
				}
			}
		}
		if hold != nil {
			if conv := hold(s); conv != nil {
				w, err := conv(fill, rows, cols)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", s.name, err)
				}
				return &Param{Name: s.name, Shape: s.shape(), W: w, Transposed: s.transposed}, nil
			}
		}
		data := make([]float32, rows*cols)
		fill(data)
		return &Param{Name: s.name, Shape: s.shape(), W: tensor.FromF32(data, rows, cols), owned: true, Transposed: s.transposed}, nil
	})
}

// held is the shape of the matrix a parameter holds: a vector as 1×n, a
// transposed weight as cols×rows.
func (s paramSpec) held() (rows, cols int) {
	switch {
	case s.cols == 0:
		return 1, s.rows
	case s.transposed:
		return s.cols, s.rows
	}
	return s.rows, s.cols
}

func (s paramSpec) shape() []int {
	if s.cols == 0 {
		return []int{s.rows}
	}
	return []int{s.rows, s.cols}
}

// ropeTables returns cos and sin of position·θ_i for positions 0…T−1 of
// a sequence of seqLen tokens, each [T, R/2] (R = RotaryDim), as ropeFill
// computes them.
func (c *Config) ropeTables(T, seqLen int) (cos, sin []float32) {
	cos, sin = make([]float32, T*c.RotaryDim/2), make([]float32, T*c.RotaryDim/2)
	c.ropeFill(cos, sin, seqLen)
	return cos, sin
}

// ropeFill fills cos and sin, each [positions, R/2], with m·cos(t·θ_i)
// and m·sin(t·θ_i), the frequencies and the scale m (Config.ropeScale)
// those of a sequence of seqLen tokens (Config.ropeLong), computed in
// float64 and rounded to float32.
func (c *Config) ropeFill(cos, sin []float32, seqLen int) {
	inv, m := c.invFreq(c.ropeLong(seqLen)), c.ropeScale()
	h := len(inv)
	for t := 0; t < len(cos)/h; t++ {
		for i, f := range inv {
			a := float64(t) * f
			cos[t*h+i] = float32(math.Cos(a) * m)
			sin[t*h+i] = float32(math.Sin(a) * m)
		}
	}
}
