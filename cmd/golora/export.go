package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/golora/golora/export"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/model"
)

func init() {
	register(&cli.Command{Name: "export", Summary: "write an adapter in another runtime's format (export gguf)", Subcommands: []*cli.Command{
		{Name: "gguf", Summary: "a LoRA adapter as a llama.cpp / ollama GGUF", Run: runExportGGUF,
			Usage: "export gguf --model DIR --adapter DIR --out FILE [--outtype f32|f16|bf16|q8_0]",
			Doc: "Writes the PEFT adapter as the LoRA GGUF llama.cpp's convert_lora_to_gguf.py writes, for llama-cli --lora, " +
				"llama-server's /lora-adapters and ollama's Modelfile ADAPTER: tensors blk.N.<name>.weight.lora_a/.lora_b, " +
				"the q and k rows in llama.cpp's RoPE order, an rsLoRA adapter's alpha set so that llama.cpp's alpha/r is its alpha/√r. " +
				"The base model's config.json gives the architecture and heads."},
	}})
}

func runExportGGUF(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Input")
	dir := fs.String("model", "", "base model `DIR` (its config.json)")
	adapter := fs.String("adapter", "", "PEFT adapter `DIR`")
	fs.Group("Output")
	out := fs.String("out", "", "GGUF `FILE` to write")
	types := slices.Sorted(maps.Keys(export.OutTypes))
	outtype := fs.String("outtype", "f32", "tensor `TYPE`: "+strings.Join(types, ", ")+" (q8_0 stores rows shorter than a block as f16)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" || *adapter == "" || *out == "" {
		return fmt.Errorf("--model, --adapter and --out are required")
	}
	typ, ok := export.OutTypes[strings.ToLower(*outtype)]
	if !ok {
		return cli.Usagef("--outtype %q: want one of %s", *outtype, strings.Join(types, ", "))
	}
	cfg, err := model.LoadConfig(filepath.Join(*dir, "config.json"))
	if err != nil {
		return err
	}
	if err := export.WriteLoRA(*out, cfg, *adapter, typ); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s (base %s) as a llama.cpp LoRA GGUF with %s tensors to %s\n", *adapter, *dir, typ, *out)
	return nil
}
