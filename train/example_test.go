package train_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/golora/golora/data"
	"github.com/golora/golora/generate"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer"
	"github.com/golora/golora/train"
)

// Fine-tune a model with LoRA from Go: load it, attach an adapter, train,
// save the adapter in PEFT's format and generate with it.
func Example() {
	text := strings.Repeat("the quick brown fox jumps over the lazy dog. ", 40)
	dir := tinyModel(text) // a Hugging Face model directory: config.json, model.safetensors, tokenizer.json
	defer os.RemoveAll(dir)

	m, err := model.Load(dir)
	check(err)
	defer m.Close()
	tok, err := tokenizer.Load(dir)
	check(err)
	adapter, err := lora.New(m, "default", &lora.Config{R: 8, Alpha: 16, Targets: []string{"all-linear"}}, 1)
	check(err)

	ids, err := tok.Encode(text, false)
	check(err)
	var examples []data.Example
	for i := 0; i+32 <= len(ids); i += 32 {
		examples = append(examples, data.Example{IDs: ids[i : i+32], Labels: ids[i : i+32]})
	}
	cfg := train.Defaults()
	cfg.Steps, cfg.LR = 200, 5e-3
	run := &train.Run{Config: cfg, Model: m, Adapter: adapter, Train: examples, PadID: data.PadID(tok, m.Cfg.VocabSize)}
	check(run.Prepare())
	before, err := run.Evaluate(examples)
	check(err)
	check(run.Fit(0))
	after, err := run.Evaluate(examples)
	check(err)
	check(adapter.Save(filepath.Join(dir, "adapter"))) // adapter_config.json, adapter_model.safetensors

	prompt, err := tok.Encode("the quick", false)
	check(err)
	out, err := generate.Generate(m, prompt, 64, generate.Options{MaxTokens: 6}, nil) // greedy
	check(err)
	continuation, err := tok.Decode(out, true)
	check(err)
	fmt.Println(run.ParamReport())
	fmt.Printf("loss %.1f → %.1f\n", before, after)
	fmt.Printf("the quick%s\n", continuation)
	// Output:
	// trainable params: 8,192 || all params: 36,032 || trainable%: 22.7353
	// loss 5.7 → 5.1
	// the quick brown fox jumps over the lazy
}

// tinyModel writes a random two-layer Llama and a byte-level BPE tokenizer
// learned from text into a temporary directory.
func tinyModel(text string) string {
	dir, err := os.MkdirTemp("", "golora-example")
	check(err)
	tok, err := tokenizer.TrainByteLevel([]byte(text), 300, []string{"<|endoftext|>"})
	check(err)
	check(tok.Save(dir))
	cfg, err := model.ParseConfig([]byte(fmt.Sprintf(`{"architectures": ["LlamaForCausalLM"], "vocab_size": %d,
		"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
		"num_key_value_heads": 1, "max_position_embeddings": 64, "tie_word_embeddings": true}`, tok.VocabSize())), "tiny")
	check(err)
	check(model.NewRandom(cfg, 0.02, 1).Save(dir, tensor.F32))
	return dir
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
