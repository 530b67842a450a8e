package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/golora/golora/chat"
	"github.com/golora/golora/generate"
	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/mem"
	"github.com/golora/golora/tensor"
	"github.com/golora/golora/tokenizer"
)

func init() {
	register(&cli.Command{Name: "generate", Summary: "generate text from a prompt, with any number of adapters", Run: runGenerate,
		Usage: "generate --model DIR [--adapter DIR[:SCALE]]... --prompt TEXT [flags]",
		Doc: "Generates text from a prompt with the model and any number of adapters on it, streaming it to stdout " +
			"(the speed goes to stderr), until an end-of-sequence token or --max-tokens."})
}

func runGenerate(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "Hugging Face model `DIR` (with tokenizer.json)")
	var adapters adapterFlags
	fs.Var(&adapters, "adapter", "PEFT adapter `DIR[:SCALE]` (repeatable: adapters add up on one base)")
	fs.Group("Prompt")
	prompt := fs.String("prompt", "", "prompt `TEXT`")
	fs.Group("Sampling")
	maxTokens := fs.Int("max-tokens", 128, "most tokens to generate")
	temp := fs.Float64("temperature", 0.8, "sampling temperature; 0 is greedy")
	topK := fs.Int("top-k", 0, "sample among the k most likely tokens (0: all)")
	topP := fs.Float64("top-p", 1, "sample from the smallest set with this much probability")
	minP := fs.Float64("min-p", 0, "sample among the tokens at least this fraction as likely as the most likely (0: all)")
	penalty := fs.Float64("repetition-penalty", 1, "divide the positive logits, multiply the negative ones, of tokens already in the prompt or output by this (1: none)")
	seed := fs.Uint64("seed", 0, "random seed (default: a random one, printed to stderr)")
	fs.Group("Prompt")
	chat := fs.Bool("chat", false, "wrap the prompt as a user message in the model's chat template")
	system := fs.String("system", "", "with --chat: a system message `TEXT` before the prompt")
	var thinking *bool
	fs.OptBoolVar(&thinking, "enable-thinking", "with --chat: set the template's enable_thinking (Qwen3: false answers without reasoning; default: the template's)")
	fs.Group("Output")
	asJSON := fs.Bool("json", false, `print one JSON object {"prompt_ids", "ids", "text", "tokens_per_sec"}`)
	force := fs.Bool("force", false, "generate even when the predicted memory exceeds the memory available")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--model is required")
	}
	switch {
	case *system != "" && !*chat:
		return cli.Usagef("--system is a message of the chat template: give --chat too")
	case thinking != nil && !*chat:
		return cli.Usagef("--enable-thinking is a variable of the chat template: give --chat too")
	case !(*minP >= 0 && *minP <= 1):
		return cli.Usagef("--min-p %v: want a number in [0, 1]", *minP)
	case !(*penalty > 0):
		return cli.Usagef("--repetition-penalty %v: want a positive number", *penalty)
	}
	seedGiven := false
	fs.Visit(func(f *flag.Flag) { seedGiven = seedGiven || f.Name == "seed" })
	if !seedGiven {
		*seed = rand.Uint64()
		fmt.Fprintf(stderr, "seed %d (--seed %d repeats this run)\n", *seed, *seed)
	}
	m, err := loadWithAdapters(*dir, adapters)
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.Load(*dir)
	if err != nil {
		return err
	}
	var ids []int
	if *chat {
		ids, err = chatPromptIDs(tok, *system, *prompt, thinking)
	} else {
		ids, err = tok.Encode(*prompt, true)
	}
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("the prompt encodes to no tokens; give --prompt text")
	}
	maxLen := max(m.Cfg.MaxPositions, len(ids)+1)
	if !*force {
		need := mem.Held(m) + mem.Generation(m, len(ids), generate.Total(len(ids), *maxTokens, maxLen), tensor.Threads())
		if err := mem.Check(need, "try a smaller --max-tokens or a 4-bit model (golora quantize)"); err != nil {
			return err
		}
	}
	stop := generate.StopIDs(m, tok)
	o := generate.Options{MaxTokens: *maxTokens, Temperature: *temp, TopK: *topK, TopP: *topP, MinP: *minP,
		RepetitionPenalty: *penalty, Seed: *seed, Stop: stop}
	var out []int
	printed := 0
	stream := func(id int) {
		out = append(out, id)
		if *asJSON {
			return
		}
		text, err := tok.Decode(out, true)
		if err != nil || strings.HasSuffix(text, "\uFFFD") { // an incomplete UTF-8 sequence: wait for its rest
			return
		}
		if len(text) > printed {
			io.WriteString(stdout, text[printed:])
			printed = len(text)
		}
	}
	start := time.Now()
	if _, err := generate.Generate(m, ids, maxLen, o, stream); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	text, err := tok.Decode(out, true)
	if err != nil {
		return err
	}
	tps := float64(len(out)) / secs
	if *asJSON {
		if out == nil {
			out = []int{}
		}
		return json.NewEncoder(stdout).Encode(map[string]any{"prompt_ids": ids, "ids": out, "text": text, "tokens_per_sec": tps})
	}
	if len(text) > printed {
		io.WriteString(stdout, text[printed:])
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stderr, "%s in %.2fs (%.1f tokens/s)\n", human.Plural(len(out), "token"), secs, tps)
	return nil
}

// chatPromptIDs renders prompt as one user turn, after a system message
// when system is not empty, in the model's chat template (ChatML when it
// has none), followed by the generation prompt, with enable_thinking set
// to *thinking (nil: left undefined).
func chatPromptIDs(tok *tokenizer.Tokenizer, system, prompt string, thinking *bool) ([]int, error) {
	tmpl, vars, err := tok.Chat()
	if err != nil {
		return nil, err
	}
	vars.AddGenerationPrompt, vars.EnableThinking = true, thinking
	var msgs []chat.Message
	if system != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: system})
	}
	text, err := tmpl.Render(append(msgs, chat.Message{Role: "user", Content: prompt}), vars)
	if err != nil {
		return nil, err
	}
	return tok.Encode(text, false)
}
