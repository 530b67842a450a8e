package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/golora/golora/tokenizer"
)

func init() {
	register("tokenize", "encode text to token ids, or decode ids, with a Hugging Face tokenizer.json", runTokenize)
}

func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("tokenizer", "", "tokenizer.json file, or a model directory holding one (required)")
	text := fs.String("text", "", "text to encode")
	noSpecial := fs.Bool("no-special", false, "encode without the special tokens of the post-processor (BOS…); with --decode, leave special tokens out of the text")
	decode := fs.Bool("decode", false, "decode --ids to text instead of encoding")
	idList := fs.String("ids", "", "token ids to decode, comma-separated (e.g. 1,2,3)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: golora tokenize --tokenizer FILE|DIR --text TEXT [--no-special]")
		fmt.Fprintln(stderr, "       golora tokenize --tokenizer FILE|DIR --decode --ids 1,2,3 [--no-special]")
		fmt.Fprintln(stderr, "\nPrints {\"ids\": [...]} or {\"text\": \"...\"} as JSON.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	usageErr := func(msg string) error {
		fmt.Fprintf(stderr, "golora tokenize: %s\n", msg)
		fs.Usage()
		return errUsage
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if *path == "" {
		return usageErr("--tokenizer is required")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *decode {
		if set["text"] {
			return usageErr("--text is for encoding; use --ids with --decode")
		}
		if !set["ids"] {
			return usageErr("--decode needs --ids")
		}
	} else {
		if set["ids"] {
			return usageErr("--ids is for decoding; add --decode")
		}
		if !set["text"] {
			return usageErr("--text is required (or --decode --ids)")
		}
	}

	tok, err := tokenizer.Load(*path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if *decode {
		ids, err := parseTokenIDList(*idList)
		if err != nil {
			return err
		}
		s, err := tok.Decode(ids, *noSpecial)
		if err != nil {
			return err
		}
		return enc.Encode(struct {
			Text string `json:"text"`
		}{s})
	}
	ids, err := tok.Encode(*text, !*noSpecial)
	if err != nil {
		return err
	}
	return enc.Encode(struct {
		IDs []int `json:"ids"`
	}{ids})
}

// parseTokenIDList reads "1,2,3" (spaces and surrounding brackets allowed).
func parseTokenIDList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	ids := []int{}
	if strings.TrimSpace(s) == "" {
		return ids, nil
	}
	for i, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("--ids: item %d %q is not an integer", i+1, strings.TrimSpace(f))
		}
		ids = append(ids, v)
	}
	return ids, nil
}
