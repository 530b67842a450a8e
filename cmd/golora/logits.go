package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

func init() {
	register("logits", "print next-token logits of a model for a sequence of token ids", runLogits)
}

func runLogits(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logits", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("model", "", "Hugging Face model directory (config.json, *.safetensors)")
	idsFlag := fs.String("ids", "", "comma-separated token ids, e.g. 1,2,3")
	var adapters adapterFlags
	fs.Var(&adapters, "adapter", "PEFT adapter directory `DIR[:SCALE]` to apply (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dir == "" || *idsFlag == "" {
		return fmt.Errorf("--model and --ids are required")
	}
	ids, err := parseIDs(*idsFlag)
	if err != nil {
		return err
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

// parseIDs parses "1,2,3" into token ids.
func parseIDs(s string) ([]int, error) {
	var ids []int
	for i, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("--ids: entry %d (%q) is not a non-negative integer", i+1, f)
		}
		ids = append(ids, v)
	}
	return ids, nil
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
