package main

import (
	"encoding/json"
	"flag"
	"io"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/tokenizer"
)

func init() {
	register(&cli.Command{Name: "tokenize", Summary: "encode text to token ids, or decode ids, with a Hugging Face tokenizer.json", Run: runTokenize,
		Usage: "tokenize --tokenizer FILE|DIR --text TEXT [--no-special]\ntokenize --tokenizer FILE|DIR --decode --ids 1,2,3 [--no-special]",
		Doc:   `Encodes text to token ids, or decodes ids to text, with a Hugging Face tokenizer.json; prints {"ids": [...]} or {"text": "..."} as JSON.`})
}

func runTokenize(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Tokenizer")
	path := fs.String("tokenizer", "", "tokenizer.json `FILE`, or a model directory holding one (required)")
	fs.Group("Encode")
	text := fs.String("text", "", "`TEXT` to encode")
	noSpecial := fs.Bool("no-special", false, "encode without the special tokens of the post-processor (BOS…); with --decode, leave special tokens out of the text")
	fs.Group("Decode")
	decode := fs.Bool("decode", false, "decode --ids to text instead of encoding")
	var ids []int
	fs.IntsVar(&ids, "ids", 0, "token ids to decode, comma-separated (e.g. 1,2,3)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *path == "" {
		return cli.Usagef("--tokenizer is required")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *decode {
		if set["text"] {
			return cli.Usagef("--text is for encoding; use --ids with --decode")
		}
		if !set["ids"] {
			return cli.Usagef("--decode needs --ids")
		}
	} else {
		if set["ids"] {
			return cli.Usagef("--ids is for decoding; add --decode")
		}
		if !set["text"] {
			return cli.Usagef("--text is required (or --decode --ids)")
		}
	}

	tok, err := tokenizer.Load(*path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if *decode {
		s, err := tok.Decode(ids, *noSpecial)
		if err != nil {
			return err
		}
		return enc.Encode(struct {
			Text string `json:"text"`
		}{s})
	}
	ids, err = tok.Encode(*text, !*noSpecial)
	if err != nil {
		return err
	}
	return enc.Encode(struct {
		IDs []int `json:"ids"`
	}{ids})
}
