package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

func init() {
	register("merge", "fold a LoRA adapter into the base weights and write a full model", runMerge)
}

// companionFiles are copied from the base model directory into a merged one.
var companionFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"tokenizer.model", "generation_config.json", "vocab.json", "merges.txt", "chat_template.jinja"}

func runMerge(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("model", "", "base model `DIR`")
	adapter := fs.String("adapter", "", "PEFT adapter `DIR`")
	scale := fs.Float64("scale", 1, "multiply the adapter's update by this")
	out := fs.String("out", "", "output model `DIR`")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dir == "" || *adapter == "" || *out == "" {
		return fmt.Errorf("--model, --adapter and --out are required")
	}
	if same(*dir, *out) {
		return fmt.Errorf("--out must differ from --model: the base model's files are still being read")
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	defer m.Close()
	dtype := m.Layers[0].Q.W.W.DType
	a, err := lora.Load(*adapter, m, "default")
	if err != nil {
		return err
	}
	a.Merge(m, float32(*scale))
	if err := m.Save(*out, dtype); err != nil {
		return err
	}
	for _, f := range companionFiles {
		data, err := os.ReadFile(filepath.Join(*dir, f))
		if err != nil {
			continue
		}
		if err := atomicfile.WriteFile(filepath.Join(*out, f), data); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "merged %s (%d modules, scale %g) into %s, weights stored as %s, written to %s\n",
		*adapter, len(a.Modules), *scale, *dir, dtype, *out)
	return nil
}

// same reports whether two paths name the same directory.
func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
