package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/golora/golora/internal/cli"
)

func init() {
	register(&cli.Command{Name: "logits", Summary: "print next-token logits of a model for a sequence of token ids", Run: runLogits,
		Usage: "logits --model DIR --ids 1,2,3 [--adapter DIR[:SCALE]]...",
		Doc: `Runs the model (with any adapters) on one sequence of token ids and prints {"logits": [[...], ...]}, ` +
			"one row of vocabulary logits per position, each float32 in its shortest exact decimal form."})
}

func runLogits(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.Group("Model")
	dir := fs.String("model", "", "Hugging Face model `DIR` (config.json, *.safetensors)")
	var adapters adapterFlags
	fs.Var(&adapters, "adapter", "PEFT adapter directory `DIR[:SCALE]` to apply (repeatable)")
	fs.Group("Input")
	var ids []int
	fs.IntsVar(&ids, "ids", 0, "comma-separated token ids, e.g. 1,2,3")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || len(ids) == 0 {
		return fmt.Errorf("--model and --ids are required")
	}
	m, err := loadWithAdapters(*dir, adapters)
	if err != nil {
		return err
	}
	defer m.Close()
	s := m.NewState(1, len(ids), false)
	if err := m.Forward(s, ids); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	writeLogitsJSON(w, s.Logits, len(ids), m.Cfg.VocabSize)
	return w.Flush()
}

// writeLogitsJSON prints {"logits": [[...], ...]}, one row per position,
// each float32 in its shortest exact decimal form.
func writeLogitsJSON(w *bufio.Writer, logits []float32, T, V int) {
	w.WriteString(`{"logits": [`)
	var buf []byte
	for t := 0; t < T; t++ {
		if t > 0 {
			w.WriteString(", ")
		}
		w.WriteByte('[')
		for j, v := range logits[t*V : (t+1)*V] {
			if j > 0 {
				w.WriteString(", ")
			}
			buf = strconv.AppendFloat(buf[:0], float64(v), 'g', -1, 32)
			w.Write(buf)
		}
		w.WriteByte(']')
	}
	w.WriteString("]}\n")
}
