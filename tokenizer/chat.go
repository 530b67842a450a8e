package tokenizer

import (
	"fmt"

	"github.com/golora/golora/chat"
)

// Chat returns the tokenizer's chat template (from tokenizer_config.json or
// chat_template.jinja), or ChatML when it has none, with the template
// variables bos_token and eos_token set to its special tokens' text.
func (t *Tokenizer) Chat() (*chat.Template, chat.Vars, error) {
	v := chat.Vars{BOS: t.Token(t.BOS()), EOS: t.Token(t.EOS())}
	if t.chatTemplate == "" {
		return chat.ChatML(), v, nil
	}
	tmpl, err := chat.Parse(t.chatTemplate)
	if err != nil {
		return nil, v, fmt.Errorf("chat_template: %w", err)
	}
	return tmpl, v, nil
}
