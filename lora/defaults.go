package lora

import (
	"slices"

	"github.com/golora/golora/model"
)

// familyTargets are the modules PEFT adapts when a LoraConfig names none:
// its TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING, by model_type,
// for the families golora loads.
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
// for GPT-2), and false for a type it has no default for.
func FamilyTargets(modelType string) ([]string, bool) {
	t, ok := familyTargets[modelType]
	return slices.Clone(t), ok
}

// defaultTargets fills in the family's default modules when cfg names no
// target (no list and no regex), as PEFT does for target_modules=None; the
// adapter's config then records them.
func (cfg *Config) defaultTargets(c *model.Config) {
	if len(cfg.Targets) > 0 || cfg.TargetRegex != "" {
		return
	}
	cfg.Targets, _ = FamilyTargets(c.ModelType)
}
