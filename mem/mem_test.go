package mem

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/quant"
	"github.com/golora/golora/tensor"
)

// Llama-2-7B's config.json (the fields that matter).
const llama2_7b = `{"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":32000,
"hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,"num_attention_heads":32,
"num_key_value_heads":32,"rms_norm_eps":1e-05,"tie_word_embeddings":false,"torch_dtype":"float16"}`

func TestBytesPerParameterOnLlama2_7B(t *testing.T) {
	c, err := model.ParseConfig([]byte(llama2_7b), "llama2")
	if err != nil {
		t.Fatal(err)
	}
	const params = 6_738_415_616
	for _, tc := range []struct {
		dt       int
		perParam int64
	}{{4, 16}, {2, 8}} {
		b, err := Predict(c, Options{Method: Full, DTypeSize: tc.dt})
		if err != nil {
			t.Fatal(err)
		}
		if b.Params != params || b.TrainableParams != params {
			t.Fatalf("params %d trainable %d, want %d", b.Params, b.TrainableParams, params)
		}
		if got := b.WeightsBytes + b.GradsBytes + b.OptimizerBytes; got != tc.perParam*params {
			t.Errorf("full fine-tuning at %d bytes/value: %d bytes, want %d per parameter (%d)", tc.dt, got, tc.perParam, tc.perParam*params)
		}
	}
	b, err := Predict(c, Options{Method: LoRA, DTypeSize: 2, Rank: 8, Targets: "q_proj,k_proj,v_proj,o_proj"})
	if err != nil {
		t.Fatal(err)
	}
	if b.TrainableParams != 8_388_608 {
		t.Errorf("LoRA r=8 on q,k,v,o trains %d parameters, want 8,388,608", b.TrainableParams)
	}
	if b.GradsBytes != 4*8_388_608 || b.OptimizerBytes != 8*8_388_608 {
		t.Errorf("LoRA grads %d optimizer %d", b.GradsBytes, b.OptimizerBytes)
	}
	q, err := Predict(c, Options{Method: QLoRA, DTypeSize: 2, Rank: 8, Targets: "q_proj,k_proj,v_proj,o_proj", DoubleQuant: true})
	if err != nil {
		t.Fatal(err)
	}
	// 4-bit linears: about 0.5 bytes per weight plus ~1/64 for block constants.
	linear := int64(params - 2*32000*4096 - 32*2*4096 - 4096)
	if r := float64(q.QuantizedWeightsBytes) / float64(linear); r < 0.5 || r > 0.52 {
		t.Errorf("quantized bytes per linear weight %.4f, want ~0.516", r)
	}
	if q.WeightsBytes*3 > b.WeightsBytes {
		t.Errorf("QLoRA weights %d should be well under a third of LoRA's %d", q.WeightsBytes, b.WeightsBytes)
	}
}

// TestQwen3ParamCount: Qwen/Qwen3-0.6B's config.json (the fields that
// matter; head_dim 128 ≠ 1024/16, tied embeddings, q_norm and k_norm of
// 128 per layer) has 596,049,920 parameters: the Hugging Face Hub's
// safetensors metadata for the checkpoint ("596M params"), of which
// 440,467,456 are not the embedding (the model card's "Non-Embedding:
// 0.44B").
func TestQwen3ParamCount(t *testing.T) {
	c, err := model.ParseConfig([]byte(`{"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","vocab_size":151936,
"hidden_size":1024,"intermediate_size":3072,"num_hidden_layers":28,"num_attention_heads":16,"num_key_value_heads":8,
"head_dim":128,"rms_norm_eps":1e-06,"rope_theta":1000000,"tie_word_embeddings":true,"attention_bias":false,
"use_sliding_window":false,"torch_dtype":"bfloat16"}`), "Qwen3-0.6B")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Predict(c, Options{Method: Full, DTypeSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if b.Params != 596_049_920 || b.Params-151936*1024 != 440_467_456 {
		t.Errorf("Qwen3-0.6B: %d parameters, want 596,049,920", b.Params)
	}
}

// TestGPT2ParamCount: GPT-2 (124M)'s config.json has 124,439,808
// parameters, the count the Hugging Face Hub gives for openai-community/gpt2
// (tied head; the attn.bias mask buffers are not parameters).
func TestGPT2ParamCount(t *testing.T) {
	c, err := model.ParseConfig([]byte(`{"activation_function":"gelu_new","architectures":["GPT2LMHeadModel"],
"layer_norm_epsilon":1e-05,"model_type":"gpt2","n_ctx":1024,"n_embd":768,"n_head":12,"n_inner":null,"n_layer":12,
"n_positions":1024,"scale_attn_weights":true,"vocab_size":50257}`), "gpt2")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Predict(c, Options{Method: Full, DTypeSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if b.Params != 124_439_808 {
		t.Errorf("GPT-2: %d parameters, want 124,439,808", b.Params)
	}
}

func TestErrors(t *testing.T) {
	c, _ := model.ParseConfig([]byte(llama2_7b), "llama2")
	for _, o := range []Options{
		{Method: "adapters", DTypeSize: 4},
		{Method: LoRA, DTypeSize: 4},
		{Method: LoRA, DTypeSize: 4, Rank: 8, Targets: "qkv"},
		{Method: Full, DTypeSize: 3},
	} {
		if _, err := Predict(c, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// stateBytes sums length × element size over every buffer v holds, found
// by walking its fields: slices of numbers count, and the slices, structs,
// maps and pointers holding them are walked; a buffer (or a struct) seen
// twice counts once.
func stateBytes(v reflect.Value, seen map[uintptr]bool) int64 {
	var n int64
	switch v.Kind() {
	case reflect.Slice:
		if v.Len() == 0 {
			return 0
		}
		switch e := v.Type().Elem(); e.Kind() {
		case reflect.Float32, reflect.Float64, reflect.Int:
			if seen[v.Pointer()] {
				return 0
			}
			seen[v.Pointer()] = true
			return int64(v.Len()) * int64(e.Size())
		}
		for i := 0; i < v.Len(); i++ {
			n += stateBytes(v.Index(i), seen)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			n += stateBytes(v.Field(i), seen)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			n += stateBytes(it.Value(), seen)
		}
	case reflect.Pointer:
		if !v.IsNil() && !seen[v.Pointer()] {
			seen[v.Pointer()] = true
			n += stateBytes(v.Elem(), seen)
		}
	}
	return n
}

func measure(s *model.State) int64 { return stateBytes(reflect.ValueOf(s), map[uintptr]bool{}) }

// TestActivationsMatchTheState checks that the predicted activation bytes
// are exactly the bytes of the buffers the training state holds, measured
// on the State itself, and that Config.StateBuffers lists the inference
// loss and prefill states exactly too.
func TestActivationsMatchTheState(t *testing.T) {
	t.Cleanup(func() { tensor.SetThreads(0) })
	for _, tc := range []struct {
		name, modelType string
		cfg             map[string]any
		o               Options
	}{
		{"gqa lora q,v", "llama", map[string]any{"num_key_value_heads": 2},
			Options{Method: LoRA, Rank: 4, Targets: "q_proj,v_proj", Batch: 2, SeqLen: 8, Threads: 1}},
		{"tied, chunked head, full", "llama", map[string]any{"tie_word_embeddings": true},
			Options{Method: Full, Batch: 2, SeqLen: 150, Threads: 3}},
		{"checkpointed qlora all-linear", "llama", map[string]any{"num_key_value_heads": 1},
			Options{Method: QLoRA, Rank: 8, Targets: "all-linear", Batch: 3, SeqLen: 100, Threads: 2, GradCheckpoint: true, DoubleQuant: true}},
		{"qwen2 biases, regex targets in one layer, dropout", "qwen2", nil,
			Options{Method: LoRA, Rank: 2, Targets: `re:.*\.(k_proj|o_proj|down_proj)`, Layers: []int{1}, Dropout: 0.1, Batch: 1, SeqLen: 33, Threads: 4}},
		{"qwen3 head norms, full, heads wider than the hidden size", "qwen3", map[string]any{"head_dim": 40, "num_key_value_heads": 2},
			Options{Method: Full, Batch: 2, SeqLen: 12, Threads: 3}},
		{"qwen3 checkpointed lora k,v, dropout", "qwen3", map[string]any{"head_dim": 8, "attention_bias": true},
			Options{Method: LoRA, Rank: 2, Targets: "k_proj,v_proj", Dropout: 0.1, Batch: 2, SeqLen: 10, Threads: 2, GradCheckpoint: true}},
		{"gpt2 layer norms, gelu, fused c_attn, full", "gpt2", map[string]any{"n_embd": 32, "n_inner": 48, "n_layer": 3, "n_head": 4, "n_positions": 40},
			Options{Method: Full, Batch: 2, SeqLen: 20, Threads: 3}},
		{"gpt2 checkpointed lora c_attn,c_fc, dropout", "gpt2", map[string]any{"n_embd": 32, "n_layer": 2, "n_head": 2},
			Options{Method: LoRA, Rank: 2, Targets: "c_attn,c_fc", Dropout: 0.1, Batch: 2, SeqLen: 10, Threads: 2, GradCheckpoint: true}},
		{"gemma2 soft-caps, four norms, full", "gemma2", map[string]any{"head_dim": 8, "sliding_window": 4},
			Options{Method: Full, Batch: 2, SeqLen: 12, Threads: 3}},
		{"gemma3 local rope, final soft-cap, checkpointed lora all-linear", "gemma3_text", map[string]any{"head_dim": 8, "final_logit_softcapping": 2},
			Options{Method: LoRA, Rank: 2, Targets: "all-linear", Dropout: 0.1, Batch: 2, SeqLen: 10, Threads: 2, GradCheckpoint: true}},
		{"phi3 fused qkv_proj and gate_up_proj, partial rotary, checkpointed lora, dropout", "phi3",
			map[string]any{"head_dim": 16, "partial_rotary_factor": 0.5, "sliding_window": 6, "num_key_value_heads": 2},
			Options{Method: LoRA, Rank: 2, Targets: "qkv_proj,gate_up_proj", Dropout: 0.1, Batch: 2, SeqLen: 10, Threads: 2, GradCheckpoint: true}},
		{"phi3 full", "phi3", map[string]any{"head_dim": 16, "partial_rotary_factor": 0.75},
			Options{Method: Full, Batch: 2, SeqLen: 12, Threads: 3}},
		{"several lora targets, checkpointed, dropout", "mistral", map[string]any{"sliding_window": 5},
			Options{Method: LoRA, Rank: 3, Targets: "q_proj,up_proj,down_proj", Dropout: 0.05, Batch: 2, SeqLen: 20, Threads: 5, GradCheckpoint: true}},
		{"dora q,v,down, dropout", "llama", map[string]any{"num_key_value_heads": 2},
			Options{Method: LoRA, Rank: 4, Targets: "q_proj,v_proj,down_proj", Dropout: 0.1, DoRA: true, Batch: 2, SeqLen: 8, Threads: 2}},
		{"checkpointed qlora dora all-linear", "qwen2", nil,
			Options{Method: QLoRA, Rank: 2, Targets: "all-linear", DoRA: true, Batch: 1, SeqLen: 12, Threads: 3, GradCheckpoint: true, DoubleQuant: true}},
		{"preference pairs, lora q,v", "llama", nil,
			Options{Method: LoRA, Rank: 2, Targets: "q_proj,v_proj", Batch: 2, SeqLen: 12, Threads: 2, Pairs: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig(t, tc.modelType, tc.cfg)
			tc.o.DTypeSize = 4
			b, err := Predict(c, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			m := model.NewRandom(c, 0.02, 1)
			if tc.o.Method == QLoRA {
				if m, err = model.NewRandomQuantized(c, 0.02, 1, quant.NF4, true); err != nil {
					t.Fatal(err)
				}
			}
			var plan []model.LoRAPlan
			if tc.o.Method != Full {
				cfg := &lora.Config{R: tc.o.Rank, Alpha: 1, Dropout: tc.o.Dropout, Layers: tc.o.Layers, DoRA: tc.o.DoRA}
				cfg.ParseTargets(tc.o.Targets)
				a, err := lora.New(m, "t", cfg, 1)
				if err != nil {
					t.Fatal(err)
				}
				if int64(a.NumParams()) != b.TrainableParams {
					t.Errorf("predicted %d trainable parameters, the adapter has %d", b.TrainableParams, a.NumParams())
				}
				plan = m.Plans()
			}
			tensor.SetThreads(tc.o.Threads)
			rows := tc.o.Batch
			if tc.o.Pairs {
				rows *= 2 // a pair is two sequences
			}
			s := m.NewState(rows, tc.o.SeqLen, true)
			if tc.o.GradCheckpoint {
				s = m.NewCheckpointedState(rows, tc.o.SeqLen)
			}
			got := measure(s)
			if tc.o.Pairs {
				got += measure(m.NewLossState(rows, tc.o.SeqLen)) // the reference's forward state
			}
			if got != b.ActivationsBytes {
				t.Errorf("predicted activations %d bytes, the training state holds %d", b.ActivationsBytes, got)
			}
			for _, k := range []struct {
				kind model.StateKind
				b    int
				s    *model.State
			}{{model.StateInfer, tc.o.Batch, m.NewState(tc.o.Batch, tc.o.SeqLen, false)}, {model.StateLoss, tc.o.Batch, m.NewLossState(tc.o.Batch, tc.o.SeqLen)},
				{model.StatePrefill, 1, m.NewPrefillState(tc.o.SeqLen)}} {
				p := model.StatePlan{B: k.b, T: tc.o.SeqLen, Kind: k.kind, Threads: tc.o.Threads, LoRA: plan}
				if want, got := model.BufferBytes(c.StateBuffers(p)), measure(k.s); got != want {
					t.Errorf("state kind %d: StateBuffers lists %d bytes, the state holds %d", k.kind, want, got)
				}
			}
		})
	}
}

// TestWeightsMatchTheModel checks LoRA's and QLoRA's predicted weight bytes
// against what a model held in each dtype (as Load holds a checkpoint
// stored in it) with an adapter attached actually takes. (Full fine-tuning
// is predicted with the QLoRA paper's b bytes per value.)
func TestWeightsMatchTheModel(t *testing.T) {
	for _, tc := range []struct {
		modelType string
		cfg       map[string]any
	}{
		{"llama", map[string]any{"num_key_value_heads": 2, "tie_word_embeddings": true}},
		{"qwen2", nil},
		{"gpt2", map[string]any{"n_embd": 32, "n_inner": 48, "n_layer": 2, "n_head": 4, "n_positions": 40}},
	} {
		c := tinyConfig(t, tc.modelType, tc.cfg)
		for _, v := range []struct {
			method Method
			size   int
			make   func() (*model.Model, error)
		}{
			{LoRA, 4, func() (*model.Model, error) { return model.NewRandom(c, 0.02, 1), nil }},
			{LoRA, 2, func() (*model.Model, error) { return model.NewRandomDType(c, 0.02, 1, tensor.BF16), nil }},
			{LoRA, 2, func() (*model.Model, error) { return model.NewRandomDType(c, 0.02, 1, tensor.F16), nil }},
			{QLoRA, 4, func() (*model.Model, error) { return model.NewRandomQuantized(c, 0.02, 1, quant.NF4, true) }},
		} {
			o := Options{Method: v.method, DTypeSize: v.size, Rank: 2, Targets: "all-linear", DoubleQuant: true, Batch: 1, SeqLen: 4, Threads: 1}
			b, err := Predict(c, o)
			if err != nil {
				t.Fatal(err)
			}
			m, err := v.make()
			if err != nil {
				t.Fatal(err)
			}
			cfg := &lora.Config{R: 2, Alpha: 1}
			cfg.ParseTargets(o.Targets)
			if _, err := lora.New(m, "t", cfg, 1); err != nil {
				t.Fatal(err)
			}
			if got := Held(m); got != b.WeightsBytes {
				t.Errorf("%s %s, %d-byte base: predicted weights %d bytes, the model holds %d", tc.modelType, v.method, v.size, b.WeightsBytes, got)
			}
		}
	}
}

// tinyConfig is a 3-layer config of the family with hidden size 32, MLP
// width 48, 4 heads and 50 tokens, changed by the keys of cfg.
func tinyConfig(t *testing.T, modelType string, cfg map[string]any) *model.Config {
	t.Helper()
	raw := map[string]any{"model_type": modelType, "vocab_size": 50, "hidden_size": 32, "intermediate_size": 48,
		"num_hidden_layers": 3, "num_attention_heads": 4}
	for k, v := range cfg {
		raw[k] = v
	}
	js, _ := json.Marshal(raw)
	c, err := model.ParseConfig(js, modelType)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
