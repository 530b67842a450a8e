package export

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/golora/golora/gguf"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
	"github.com/golora/golora/tokenizer"
)

// WriteModel writes the model in dir (a Hugging Face directory; a 4-bit one
// is dequantized) with the adapters merged into it (each update scaled by
// its Spec's scale) to out as a llama.cpp GGUF: Model's hyperparameters and
// tensors of type typ followed by Tokenizer's metadata for dir's tokenizer
// (pre as Tokenizer takes it). A Modelfile for ollama create (see
// Modelfile) is written beside out.
func WriteModel(out, dir string, adapters []lora.Spec, typ gguf.Type, pre string) error {
	m, err := model.Load(dir)
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return err
	}
	as, err := lora.AttachAll(m, adapters)
	if err != nil {
		return err
	}
	if _, _, fourBit := m.QuantType(); fourBit {
		m.Dequantize()
	}
	for _, a := range as {
		a.Merge(m, 1) // each spec's Scale is already in its modules' scale
	}
	meta, tensors, err := Model(m, typ)
	if err != nil {
		return err
	}
	tmeta, err := Tokenizer(tok, gemmaVocab(m.Cfg, tensors, tok.VocabSize()), pre)
	if err != nil {
		return fmt.Errorf("%w (tokenizer of %s)", err, dir)
	}
	if err := gguf.Write(out, append(meta, tmeta...), tensors); err != nil {
		return err
	}
	mf := filepath.Join(filepath.Dir(out), "Modelfile")
	if err := os.WriteFile(mf, []byte(Modelfile(filepath.Base(out), tok)), 0o644); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// Modelfile is an ollama Modelfile for the GGUF file named gguf in the same
// directory: FROM ./gguf and PARAMETER stop with the EOS token. It sets no
// TEMPLATE: ollama create chooses its chat template from the GGUF's
// tokenizer.chat_template, and golora does not translate Jinja templates
// into ollama's Go templates.
func Modelfile(gguf string, tok *tokenizer.Tokenizer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ollama create NAME -f Modelfile\nFROM ./%s\n", gguf)
	b.WriteString("# No TEMPLATE: ollama create takes the chat template from the GGUF's tokenizer.chat_template;\n" +
		"# golora does not translate Jinja chat templates into ollama's Go templates.\n")
	if eos := tok.EOS(); eos >= 0 {
		s := tok.Token(eos)
		if strings.ContainsAny(s, "\"\\\n") || s == "" {
			fmt.Fprintf(&b, "# No PARAMETER stop: the EOS token %q cannot be written in a Modelfile string.\n", s)
		} else {
			fmt.Fprintf(&b, "PARAMETER stop \"%s\"\n", s)
		}
	}
	return b.String()
}
