package lora

import (
	"fmt"
	"slices"
	"strings"

	"github.com/golora/golora/model"
)

// familyTargets are the modules PEFT adapts when a LoraConfig names none:
// its TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING, by model_type,
// for the families golora loads. It has no entry for phi3: PEFT asks for
// target_modules there.
var familyTargets = map[string][]string{
	"llama":       {"q_proj", "v_proj"},
	"mistral":     {"q_proj", "v_proj"},
	"qwen2":       {"q_proj", "v_proj"},
	"qwen3":       {"q_proj", "v_proj"},
	"gpt2":        {"c_attn"},
	"gemma2":      {"q_proj", "v_proj"},
	"gemma3_text": {"q_proj", "v_proj"},
}

// FamilyTargets returns the modules PEFT adapts by default in a model of
// the given model_type ("q_proj,v_proj" for Llama-like families, c_attn
// for GPT-2), and false for a type it has no default for (phi3).
func FamilyTargets(modelType string) ([]string, bool) {
	t, ok := familyTargets[modelType]
	return slices.Clone(t), ok
}

// defaultTargets fills in the family's default modules when cfg names no
// target (no list and no regex), as PEFT does for target_modules=None; the
// adapter's config then records them. A family without a default is an
// error listing the model's linear modules.
func (cfg *Config) defaultTargets(c *model.Config) error {
	if len(cfg.Targets) > 0 || cfg.TargetRegex != "" {
		return nil
	}
	t, ok := FamilyTargets(c.ModelType)
	if !ok {
		var kinds []string
		for _, s := range c.LayerLinears() {
			kinds = append(kinds, s.Kind())
		}
		return fmt.Errorf("lora: no target modules given, and PEFT has no default for model type %q: name them (its linear modules are %s, or all-linear)",
			c.ModelType, strings.Join(kinds, ", "))
	}
	cfg.Targets = t
	return nil
}
