package mem

import (
	"testing"

	"github.com/golora/golora/model"
)

// Llama-2-7B's config.json (the fields that matter).
const llama2_7b = `{"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":32000,
"hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,"num_attention_heads":32,
"num_key_value_heads":32,"rms_norm_eps":1e-05,"tie_word_embeddings":false,"torch_dtype":"float16"}`

func TestSeedArithmeticOnLlama2_7B(t *testing.T) {
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
	b, err := Predict(c, Options{Method: LoRA, DTypeSize: 2, Rank: 8, Targets: []string{"q_proj", "k_proj", "v_proj", "o_proj"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.TrainableParams != 8_388_608 {
		t.Errorf("LoRA r=8 on q,k,v,o trains %d parameters, want 8,388,608", b.TrainableParams)
	}
	if b.GradsBytes != 4*8_388_608 || b.OptimizerBytes != 8*8_388_608 {
		t.Errorf("LoRA grads %d optimizer %d", b.GradsBytes, b.OptimizerBytes)
	}
	q, err := Predict(c, Options{Method: QLoRA, DTypeSize: 2, Rank: 8, Targets: []string{"q_proj", "k_proj", "v_proj", "o_proj"}, DoubleQuant: true})
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

func TestErrors(t *testing.T) {
	c, _ := model.ParseConfig([]byte(llama2_7b), "llama2")
	for _, o := range []Options{
		{Method: "adapters", DTypeSize: 4},
		{Method: LoRA, DTypeSize: 4},
		{Method: LoRA, DTypeSize: 4, Rank: 8, Targets: []string{"qkv"}},
		{Method: Full, DTypeSize: 3},
	} {
		if _, err := Predict(c, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
