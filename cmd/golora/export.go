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
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

func init() {
	register(&cli.Command{Name: "export", Summary: "write a model or an adapter in another runtime's format (export gguf)", Subcommands: []*cli.Command{
		{Name: "gguf", Summary: "a model or a LoRA adapter as a llama.cpp / ollama GGUF", Run: runExportGGUF,
			Usage: "export gguf --model DIR|FILE.gguf (--adapter DIR | [--merge DIR[:SCALE]]...) --out FILE [--outtype f32|f16|bf16|q8_0|q4_0|q4_k_m]",
			Doc: "With --adapter, writes the PEFT adapter as the LoRA GGUF llama.cpp's convert_lora_to_gguf.py writes, for llama-cli --lora, " +
				"llama-server's /lora-adapters and ollama's Modelfile ADAPTER: tensors blk.N.<name>.weight.lora_a/.lora_b, " +
				"the q and k rows in llama.cpp's RoPE order, an rsLoRA adapter's alpha set so that llama.cpp's alpha/r is its alpha/√r. " +
				"The base model's config.json (or a GGUF base's metadata) gives the architecture and heads. " +
				"Without it, writes the whole model, the --merge adapters merged in, as convert_hf_to_gguf.py writes it: " +
				"hyperparameters, tensors, and the tokenizer: byte-level BPE (tokens, types, merges, special ids, chat template; " +
				"llama.cpp's pre-tokenizer name found by the converter's check-text hash, a GGUF base's own, or --pre) or SentencePiece-style BPE " +
				"(Llama-2, Mistral: tokens, types, scores that make llama.cpp's SPM tokenizer join pairs in the merges' order), " +
				"and a Modelfile beside it for ollama create. " +
				"--outtype q4_0 and q4_k_m (whole models only) write what llama-quantize makes of the f32 file as Q4_0 or Q4_K_M: " +
				"its choice of type per tensor (Q6_K or Q8_0 for the output and some attn_v and ffn_down, Q5_0 for rows not a multiple of 256, ...) " +
				"and its reference quantizers' bytes."},
	}})
}

func runExportGGUF(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Input")
	dir := fs.String("model", "", "base model `DIR` (its config.json)")
	adapter := fs.String("adapter", "", "PEFT adapter `DIR` to write alone")
	var merges adapterFlags
	fs.Var(&merges, "merge", "PEFT adapter `DIR[:SCALE]` to merge into the written model, its update multiplied by SCALE (default 1; repeatable)")
	pre := fs.String("pre", "", "llama.cpp's pre-tokenizer `NAME` (tokenizer.ggml.pre) for a tokenizer the converter's hash table does not know")
	fs.Group("Output")
	out := fs.String("out", "", "GGUF `FILE` to write")
	modelTypes := slices.Sorted(maps.Keys(export.ModelOutTypes))
	outtype := fs.String("outtype", "f32", "tensor `TYPE`: "+strings.Join(modelTypes, ", ")+
		" (q8_0 stores rows shorter than a block as f16; q4_0 and q4_k_m are llama-quantize's mixtures, for whole models)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" || *out == "" {
		return fmt.Errorf("--model and --out are required")
	}
	types := export.ModelOutTypes
	if *adapter != "" {
		types = export.OutTypes
	}
	typ, ok := types[strings.ToLower(*outtype)]
	if !ok {
		return cli.Usagef("--outtype %q: want one of %s", *outtype, strings.Join(slices.Sorted(maps.Keys(types)), ", "))
	}
	if *adapter == "" {
		specs := make([]lora.Spec, len(merges))
		for i, a := range merges {
			var err error
			if specs[i], err = lora.ParseSpec(a); err != nil {
				return fmt.Errorf("--merge: %w", err)
			}
		}
		if err := export.WriteModel(*out, *dir, specs, typ, *pre); err != nil {
			return err
		}
		with := ""
		if len(merges) > 0 {
			with = " with " + strings.Join(merges, ", ") + " merged in"
		}
		fmt.Fprintf(stdout, "exported %s%s as a llama.cpp GGUF with %s matrices to %s, and %s for ollama create\n",
			*dir, with, strings.ToUpper(*outtype), *out, filepath.Join(filepath.Dir(*out), "Modelfile"))
		return nil
	}
	if len(merges) > 0 || *pre != "" {
		return cli.Usagef("--merge and --pre write a whole model; --adapter writes the adapter alone")
	}
	cfg, err := model.LoadConfigOf(*dir)
	if err != nil {
		return err
	}
	if err := export.WriteLoRA(*out, cfg, *adapter, typ); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %s (base %s) as a llama.cpp LoRA GGUF with %s tensors to %s\n", *adapter, *dir, typ, *out)
	return nil
}
