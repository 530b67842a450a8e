package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/golora/golora/internal/cli"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/model"
)

func init() {
	register(&cli.Command{Name: "inspect", Summary: "describe a model: architecture, parameter counts by kind, dtypes, bytes", Run: runInspect,
		Usage: "inspect --model DIR [--json]",
		Doc: "Describes a model directory: architecture and shape from config.json, and its parameters counted by kind " +
			"(embedding, attention, mlp, norm, lm_head) and by dtype, with the bytes they take."})
}

// inspectReport is what inspect prints (as JSON with --json).
type inspectReport struct {
	Dir          string         `json:"dir"`
	Architecture string         `json:"architecture"`
	ModelType    string         `json:"model_type"`
	Layers       int            `json:"layers"`
	Hidden       int            `json:"hidden_size"`
	Intermediate int            `json:"intermediate_size"`
	Heads        int            `json:"heads"`
	KVHeads      int            `json:"kv_heads"`
	HeadDim      int            `json:"head_dim"`
	Vocab        int            `json:"vocab_size"`
	Tied         bool           `json:"tie_word_embeddings"`
	Params       int            `json:"params"`
	Bytes        int            `json:"bytes"`
	ByKind       map[string]int `json:"params_by_kind"`
	ByDType      map[string]int `json:"params_by_dtype"`
}

func runInspect(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "Hugging Face model `DIR`")
	fs.Group("Output")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--model is required")
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	defer m.Close()
	c := m.Cfg
	r := inspectReport{Dir: *dir, Architecture: c.Architecture, ModelType: c.ModelType, Layers: c.NumLayers,
		Hidden: c.HiddenSize, Intermediate: c.IntermediateSize, Heads: c.NumHeads, KVHeads: c.NumKVHeads,
		HeadDim: c.HeadDim, Vocab: c.VocabSize, Tied: c.TieEmbeddings,
		ByKind: map[string]int{}, ByDType: map[string]int{}}
	for _, p := range m.Params() {
		n := p.NumElements()
		r.Params += n
		r.Bytes += p.W.Bytes()
		r.ByKind[paramKind(p.Name)] += n
		r.ByDType[p.W.DType.String()] += n
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", r.Dir)
	fmt.Fprintf(tw, "architecture\t%s (%s)\n", r.Architecture, r.ModelType)
	fmt.Fprintf(tw, "shape\t%s, hidden %d, MLP %d, %s / %s of %d, vocab %d, tied %v\n",
		human.Plural(r.Layers, "layer"), r.Hidden, r.Intermediate, human.Plural(r.Heads, "head"), human.Plural(r.KVHeads, "KV head"), r.HeadDim, r.Vocab, r.Tied)
	fmt.Fprintf(tw, "parameters\t%s (%s)\n", human.Count(r.Params), human.Bytes(int64(r.Bytes)))
	for _, k := range sortedKeys(r.ByKind) {
		fmt.Fprintf(tw, "  %s\t%s\t%.1f%%\n", k, human.Count(r.ByKind[k]), 100*float64(r.ByKind[k])/float64(r.Params))
	}
	for _, k := range sortedKeys(r.ByDType) {
		fmt.Fprintf(tw, "dtype %s\t%s params\n", k, human.Count(r.ByDType[k]))
	}
	return tw.Flush()
}

// paramKind groups a Hugging Face tensor name (Llama's or GPT-2's):
// embedding, attention, mlp, norm or lm_head.
func paramKind(name string) string {
	switch {
	case strings.Contains(name, "embed_tokens"), strings.Contains(name, ".wte."), strings.Contains(name, ".wpe."):
		return "embedding"
	case strings.Contains(name, "norm"), strings.Contains(name, ".ln_"): // before attention: qwen3's self_attn.q_norm is a norm
		return "norm"
	case strings.Contains(name, "self_attn"), strings.Contains(name, ".attn."):
		return "attention"
	case strings.Contains(name, "mlp"):
		return "mlp"
	case strings.HasPrefix(name, "lm_head"):
		return "lm_head"
	}
	return "other"
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
