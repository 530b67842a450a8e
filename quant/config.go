package quant

import (
	"encoding/json"
	"errors"
	"fmt"
)

// QuantizationConfig returns the "quantization_config" object of config.json
// as transformers (BitsAndBytesConfig.to_dict) writes it for a 4-bit model:
//
//	{"_load_in_4bit": true, "_load_in_8bit": false,
//	 "bnb_4bit_compute_dtype": computeDType, "bnb_4bit_quant_storage": "uint8",
//	 "bnb_4bit_quant_type": "nf4"|"fp4", "bnb_4bit_use_double_quant": doubleQuant,
//	 "llm_int8_enable_fp32_cpu_offload": false, "llm_int8_has_fp16_weight": false,
//	 "llm_int8_skip_modules": null, "llm_int8_threshold": 6.0,
//	 "load_in_4bit": true, "load_in_8bit": false, "quant_method": "bitsandbytes"}
//
// computeDType is a torch dtype name ("bfloat16", "float16", "float32"; ""
// means "float32"). llm_int8_threshold is a json.Number "6.0" so that
// encoding/json writes a float: transformers rejects an integer there.
func QuantizationConfig(t Type, doubleQuant bool, computeDType string) map[string]any {
	if computeDType == "" {
		computeDType = "float32"
	}
	return map[string]any{
		"_load_in_4bit":                    true,
		"_load_in_8bit":                    false,
		"bnb_4bit_compute_dtype":           computeDType,
		"bnb_4bit_quant_storage":           "uint8",
		"bnb_4bit_quant_type":              t.String(),
		"bnb_4bit_use_double_quant":        doubleQuant,
		"llm_int8_enable_fp32_cpu_offload": false,
		"llm_int8_has_fp16_weight":         false,
		"llm_int8_skip_modules":            nil,
		"llm_int8_threshold":               json.Number("6.0"),
		"load_in_4bit":                     true,
		"load_in_8bit":                     false,
		"quant_method":                     "bitsandbytes",
	}
}

// Config is what golora needs from a bitsandbytes quantization_config.
type Config struct {
	Type         Type   // bnb_4bit_quant_type (transformers' default: fp4)
	DoubleQuant  bool   // bnb_4bit_use_double_quant
	ComputeDType string // bnb_4bit_compute_dtype ("float32" when absent or null)
	QuantStorage string // bnb_4bit_quant_storage ("uint8" when absent)
	// SkipModules lists llm_int8_skip_modules (module names left unquantized).
	SkipModules []string
}

// ParseQuantizationConfig parses the JSON of config.json's
// "quantization_config" object. It accepts 4-bit bitsandbytes configs
// (quant_method "bitsandbytes", or no quant_method with load_in_4bit as in
// old transformers) and returns an error naming the field otherwise, for
// example for 8-bit (LLM.int8) models.
func ParseQuantizationConfig(data []byte) (Config, error) {
	var raw struct {
		QuantMethod  *string         `json:"quant_method"`
		LoadIn4bit   *bool           `json:"load_in_4bit"`
		LoadIn8bit   *bool           `json:"load_in_8bit"`
		QuantType    *string         `json:"bnb_4bit_quant_type"`
		DoubleQuant  *bool           `json:"bnb_4bit_use_double_quant"`
		ComputeDType *string         `json:"bnb_4bit_compute_dtype"`
		QuantStorage *string         `json:"bnb_4bit_quant_storage"`
		SkipModules  json.RawMessage `json:"llm_int8_skip_modules"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("quant: quantization_config: %w", err)
	}
	if raw.QuantMethod != nil && *raw.QuantMethod != "bitsandbytes" {
		return Config{}, fmt.Errorf("quant: quantization_config field \"quant_method\": %q is not supported (want \"bitsandbytes\")", *raw.QuantMethod)
	}
	if raw.LoadIn8bit != nil && *raw.LoadIn8bit {
		return Config{}, errors.New("quant: quantization_config field \"load_in_8bit\": 8-bit (LLM.int8) models are not supported")
	}
	if raw.LoadIn4bit == nil || !*raw.LoadIn4bit {
		return Config{}, errors.New("quant: quantization_config field \"load_in_4bit\": not true")
	}
	c := Config{Type: FP4, ComputeDType: "float32", QuantStorage: "uint8"}
	if raw.QuantType != nil {
		t, err := ParseType(*raw.QuantType)
		if err != nil {
			return Config{}, fmt.Errorf("quant: quantization_config field \"bnb_4bit_quant_type\": %w", err)
		}
		c.Type = t
	}
	if raw.DoubleQuant != nil {
		c.DoubleQuant = *raw.DoubleQuant
	}
	if raw.ComputeDType != nil {
		c.ComputeDType = *raw.ComputeDType
	}
	if raw.QuantStorage != nil {
		c.QuantStorage = *raw.QuantStorage
	}
	if len(raw.SkipModules) > 0 && string(raw.SkipModules) != "null" {
		if err := json.Unmarshal(raw.SkipModules, &c.SkipModules); err != nil {
			return Config{}, fmt.Errorf("quant: quantization_config field \"llm_int8_skip_modules\": %w", err)
		}
	}
	return c, nil
}
