// Package lora attaches low-rank adapters to a model with the semantics of
// Hugging Face PEFT, and reads and writes them in PEFT's format:
//
//	y = x·Wᵀ (+ b) + s·(dropout(x)·Aᵀ)·Bᵀ,  A: [r, in], B: [out, r],
//	s = lora_alpha / r, or lora_alpha / √r with use_rslora.
//
// Default initialisation is PEFT's: A Kaiming-uniform with a = √5, which is
// U(−1/√in, 1/√in), and B = 0, so a fresh adapter leaves the model
// unchanged; "gaussian" draws A from N(0, (1/r)²). Saved tensors are named
// base_model.model.<module>.lora_A.weight and .lora_B.weight.
//
// With use_dora (DoRA) each module also has a magnitude m: [out], saved as
// base_model.model.<module>.lora_magnitude_vector and initialised to the
// row norms ‖W_j‖; the module computes what model.LoRA's Magnitude
// describes.
package lora

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Config is PEFT's LoraConfig, the fields golora uses.
type Config struct {
	R           int
	Alpha       float64
	Dropout     float64
	RSLoRA      bool
	DoRA        bool     // use_dora: a trained magnitude per output row
	Init        string   // "default" (Kaiming-uniform A, zero B) or "gaussian"
	Targets     []string // module-name suffixes, e.g. q_proj; or one entry "all-linear"
	TargetRegex string   // when set, modules whose full name matches it (Python re.fullmatch)
	Layers      []int    // layers_to_transform; empty means all
	BaseModel   string   // base_model_name_or_path
	Bias        string   // only "none" is supported
	// FanInFanOut is PEFT's fan_in_fan_out: the adapted modules store their
	// weights [in, out] (GPT-2's Conv1D). As in PEFT, the model's modules
	// decide it when the adapter is attached; A and B keep their shapes.
	FanInFanOut bool
	raw         map[string]any
	rx          *regexp.Regexp // compiled TargetRegex, set by Validate
}

// maxRank bounds r: PEFT adapters use ranks up to a few thousand, and a rank
// above a linear module's width (at most 2¹⁷ in any model) adds nothing.
// maxLayer bounds layers_to_transform the same way (models have at most a
// few hundred layers). Both keep a corrupt file from being sized from.
const (
	maxRank  = 1 << 16
	maxLayer = 1 << 16
)

// Scale is s = alpha/r, or alpha/√r with rsLoRA.
func (c *Config) Scale() float32 {
	if c.RSLoRA {
		return float32(c.Alpha / math.Sqrt(float64(c.R)))
	}
	return float32(c.Alpha / float64(c.R))
}

// Validate checks the fields a user sets.
func (c *Config) Validate() error {
	if c.R <= 0 || c.R > maxRank {
		return fmt.Errorf("lora: rank r must be in [1, %d], got %d", maxRank, c.R)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("lora: dropout must be in [0, 1), got %g", c.Dropout)
	}
	if c.Init != "default" && c.Init != "gaussian" && c.Init != "" {
		return fmt.Errorf("lora: init %q is not supported (default, gaussian)", c.Init)
	}
	if c.Bias != "" && c.Bias != "none" {
		return fmt.Errorf("lora: bias %q is not supported (only none)", c.Bias)
	}
	if len(c.Targets) == 0 && c.TargetRegex == "" {
		return fmt.Errorf("lora: no target modules")
	}
	if c.TargetRegex != "" {
		// Compiled alone first: "a)|(b" must not pass by closing the
		// group that anchors it.
		if _, err := regexp.Compile(c.TargetRegex); err != nil {
			return fmt.Errorf("lora: target regex: %w", err)
		}
		c.rx = regexp.MustCompile(`^(?:` + c.TargetRegex + `)$`)
	}
	return nil
}

// ParseTargets turns a --targets value into a config's targets: a
// comma-separated list of module names ("q_proj,v_proj"), "all-linear", or
// "re:<regex>" for a regular expression over full module names.
func (c *Config) ParseTargets(s string) {
	s = strings.TrimSpace(s)
	if rx, ok := strings.CutPrefix(s, "re:"); ok {
		c.TargetRegex, c.Targets = rx, nil
		return
	}
	c.TargetRegex, c.Targets = "", nil
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.Targets = append(c.Targets, t)
		}
	}
}

// TargetsSpec is c's targets written as ParseTargets reads them:
// "q_proj,v_proj", "all-linear" or "re:REGEX".
func (c *Config) TargetsSpec() string {
	if c.TargetRegex != "" {
		return "re:" + c.TargetRegex
	}
	return strings.Join(c.Targets, ",")
}

// Matches reports whether the module with the given full name (for example
// model.layers.3.self_attn.q_proj) is a target, as PEFT decides it: a regex
// must match the whole name; a list entry must equal the name or be its
// last dotted suffix; all-linear takes every linear the caller offers (the
// model's output head is never offered). layers_to_transform restricts by
// the number after "layers.". The config must have passed Validate.
func (c *Config) Matches(name string) bool {
	if c.TargetRegex != "" {
		if c.rx == nil || !c.rx.MatchString(name) {
			return false
		}
	} else {
		hit := false
		for _, t := range c.Targets {
			if t == "all-linear" || name == t || strings.HasSuffix(name, "."+t) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	if len(c.Layers) == 0 {
		return true
	}
	idx, ok := LayerIndex(name)
	if !ok {
		return false
	}
	for _, l := range c.Layers {
		if l == idx {
			return true
		}
	}
	return false
}

// Select validates c and returns the indices of the module paths it
// targets (Matches), in order; paths are the full module paths of a
// model's linear modules (Targets, ConfigTargets). A selection that
// matches nothing is an error listing the module kinds on offer.
func (c *Config) Select(paths []string) ([]int, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var out []int
	kinds := map[string]bool{}
	for i, p := range paths {
		kinds[p[strings.LastIndex(p, ".")+1:]] = true
		if c.Matches(p) {
			out = append(out, i)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	ks := make([]string, 0, len(kinds))
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	want := strings.Join(c.Targets, ",")
	if c.TargetRegex != "" {
		want = "regex " + c.TargetRegex
	}
	if len(c.Layers) > 0 {
		want += fmt.Sprintf(" in layers %v", c.Layers)
	}
	example := ""
	if len(paths) > 0 {
		example = " (for example " + paths[0] + ")"
	}
	return nil, fmt.Errorf("lora: target modules %s match no linear module of the model; its linear modules are %s%s, or all-linear",
		want, strings.Join(ks, ", "), example)
}

// LayerIndex returns N of a module path containing "layers.N" or GPT-2's
// "h.N" (for example 3 for model.layers.3.self_attn.q_proj and for
// transformer.h.3.attn.c_attn), and false when it has none.
func LayerIndex(name string) (int, bool) {
	_, rest, ok := strings.Cut(name, "layers.")
	if !ok {
		if _, rest, ok = strings.Cut("."+name, ".h."); !ok {
			return 0, false
		}
	}
	num, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(num)
	return n, err == nil
}

// peftJSON is adapter_config.json's bytes as PEFT writes it (the fields
// golora sets; others read are kept in raw and written back unchanged),
// indented, with a final newline.
func (c *Config) peftJSON() ([]byte, error) {
	out := map[string]any{}
	for k, v := range c.raw {
		out[k] = v
	}
	var targets any = c.TargetRegex
	if c.TargetRegex == "" {
		ts := append([]string(nil), c.Targets...)
		sort.Strings(ts)
		targets = ts
		if len(ts) == 1 && ts[0] == "all-linear" {
			targets = "all-linear"
		}
	}
	var layers any
	if len(c.Layers) > 0 {
		layers = c.Layers
	}
	init := any(true)
	if c.Init == "gaussian" {
		init = "gaussian"
	}
	for k, v := range map[string]any{
		"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": c.R, "lora_alpha": c.Alpha,
		"lora_dropout": c.Dropout, "use_rslora": c.RSLoRA, "target_modules": targets,
		"layers_to_transform": layers, "layers_pattern": nil, "bias": "none",
		"init_lora_weights": init, "base_model_name_or_path": c.BaseModel,
		"fan_in_fan_out": c.FanInFanOut, "modules_to_save": nil, "inference_mode": true,
		"rank_pattern": map[string]any{}, "alpha_pattern": map[string]any{},
		"use_dora": c.DoRA, "lora_bias": false, "revision": nil,
	} {
		out[k] = v
	}
	js, err := json.MarshalIndent(out, "", "  ")
	return append(js, '\n'), err
}

// LoadConfig reads a PEFT adapter_config.json.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}

// ParseConfig parses adapter_config.json bytes; name is used in errors.
// Features golora does not implement (rank/alpha patterns,
// modules_to_save, LoRA biases) are refused by name.
func ParseConfig(data []byte, name string) (*Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", name, err)
	}
	bad := func(field, msg string) error { return fmt.Errorf("%s: field %q: %s", name, field, msg) }
	if pt, _ := raw["peft_type"].(string); pt != "" && pt != "LORA" {
		return nil, bad("peft_type", fmt.Sprintf("%q is not a LoRA adapter", pt))
	}
	c := &Config{raw: raw, Init: "default", Bias: "none"}
	r, ok := raw["r"].(float64)
	if !ok || r != math.Trunc(r) || r <= 0 || r > maxRank {
		return nil, bad("r", fmt.Sprintf("want an integer in [1, %d], got %v", maxRank, raw["r"]))
	}
	c.R = int(r)
	c.Alpha = float64(c.R)
	if a, ok := raw["lora_alpha"]; ok {
		if c.Alpha, ok = a.(float64); !ok {
			return nil, bad("lora_alpha", fmt.Sprintf("want a number, got %v", a))
		}
	}
	if d, ok := raw["lora_dropout"]; ok && d != nil {
		if c.Dropout, ok = d.(float64); !ok || !(c.Dropout >= 0 && c.Dropout < 1) {
			return nil, bad("lora_dropout", fmt.Sprintf("want a number in [0, 1), got %v", d))
		}
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"use_rslora", &c.RSLoRA}, {"use_dora", &c.DoRA}} {
		if v, ok := raw[f.name]; ok && v != nil {
			if *f.dst, ok = v.(bool); !ok {
				return nil, bad(f.name, fmt.Sprintf("want true or false, got %v", v))
			}
		}
	}
	switch v := raw["init_lora_weights"].(type) {
	case string:
		c.Init = v
		if v != "gaussian" {
			c.Init = "default" // other PEFT schemes only matter at creation time
		}
	}
	switch v := raw["target_modules"].(type) {
	case string:
		if v == "all-linear" {
			c.Targets = []string{"all-linear"}
		} else {
			c.TargetRegex = v
		}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, bad("target_modules", "want a list of strings")
			}
			c.Targets = append(c.Targets, s)
		}
	default:
		return nil, bad("target_modules", fmt.Sprintf("want a list or a string, got %v", v))
	}
	layers := raw["layers_to_transform"]
	if f, ok := layers.(float64); ok {
		layers = []any{f}
	}
	if v, ok := layers.([]any); ok {
		for _, e := range v {
			f, ok := e.(float64)
			if !ok || f < 0 || f > maxLayer || f != math.Trunc(f) {
				return nil, bad("layers_to_transform", fmt.Sprintf("want layer numbers in [0, %d], got %v", maxLayer, e))
			}
			c.Layers = append(c.Layers, int(f))
		}
	}
	c.BaseModel, _ = raw["base_model_name_or_path"].(string)
	if b, _ := raw["bias"].(string); b != "" && b != "none" {
		return nil, bad("bias", fmt.Sprintf("%q is not supported (only none)", b))
	}
	c.FanInFanOut, _ = raw["fan_in_fan_out"].(bool)
	if v, _ := raw["lora_bias"].(bool); v {
		return nil, bad("lora_bias", "is not supported by golora")
	}
	for _, f := range []string{"rank_pattern", "alpha_pattern"} {
		if v, _ := raw[f].(map[string]any); len(v) > 0 {
			return nil, bad(f, "per-module ranks/alphas are not supported by golora")
		}
	}
	if v, _ := raw["modules_to_save"].([]any); len(v) > 0 {
		return nil, bad("modules_to_save", "is not supported by golora")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}
