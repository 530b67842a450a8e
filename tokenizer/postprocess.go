package tokenizer

import (
	"encoding/json"
	"fmt"
)

// postProcessor adds the special tokens of a single sequence (BOS, CLS/SEP,
// …) when Encode is asked to. ByteLevel post-processing only trims offsets,
// so it does not change ids.
type postProcessor interface {
	process(ids []int) []int
}

type seqPostProcessor []postProcessor

func (s seqPostProcessor) process(ids []int) []int {
	for _, p := range s {
		ids = p.process(ids)
	}
	return ids
}

type noopPostProcessor struct{}

func (noopPostProcessor) process(ids []int) []int { return ids }

// templatePostProcessor is TemplateProcessing's "single" template: a list of
// special-token id runs and the sequence itself ($A).
type templatePostProcessor struct {
	items [][]int // nil entry: the sequence
}

func (t templatePostProcessor) process(ids []int) []int {
	var out []int
	for _, it := range t.items {
		if it == nil {
			out = append(out, ids...)
		} else {
			out = append(out, it...)
		}
	}
	return out
}

func parsePostProcessor(raw json.RawMessage, field string) (postProcessor, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var t typed
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	switch t.Type {
	case "Sequence":
		seq, err := parseSequence(raw, field, "processors", parsePostProcessor)
		return seqPostProcessor(seq), err
	case "ByteLevel":
		return noopPostProcessor{}, nil
	case "TemplateProcessing":
		var spec struct {
			Single        json.RawMessage `json:"single"`
			SpecialTokens map[string]struct {
				ID  string `json:"id"`
				IDs []int  `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, fmt.Errorf("%s: %v", field, err)
		}
		var items []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		}
		if err := json.Unmarshal(spec.Single, &items); err != nil {
			return nil, fmt.Errorf("%s.single: want a list of {\"SpecialToken\"|\"Sequence\": …}: %v", field, err)
		}
		var tp templatePostProcessor
		for i, it := range items {
			switch {
			case it.Sequence != nil:
				if it.Sequence.ID != "A" {
					return nil, fmt.Errorf("%s.single[%d]: sequence %q in a single template (want A)", field, i, it.Sequence.ID)
				}
				tp.items = append(tp.items, nil)
			case it.SpecialToken != nil:
				st, ok := spec.SpecialTokens[it.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("%s.single[%d]: special token %q is not in special_tokens", field, i, it.SpecialToken.ID)
				}
				ids := append([]int{}, st.IDs...)
				if ids == nil {
					ids = []int{}
				}
				tp.items = append(tp.items, ids)
			default:
				return nil, fmt.Errorf("%s.single[%d]: want SpecialToken or Sequence", field, i)
			}
		}
		return tp, nil
	case "RobertaProcessing", "BertProcessing":
		var spec struct {
			Sep []json.RawMessage `json:"sep"`
			Cls []json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, fmt.Errorf("%s: %v", field, err)
		}
		get := func(v []json.RawMessage, name string) (int, error) {
			var id int
			if len(v) != 2 || json.Unmarshal(v[1], &id) != nil {
				return 0, fmt.Errorf("%s.%s: want [token, id]", field, name)
			}
			return id, nil
		}
		cls, err := get(spec.Cls, "cls")
		if err != nil {
			return nil, err
		}
		sep, err := get(spec.Sep, "sep")
		if err != nil {
			return nil, err
		}
		return templatePostProcessor{items: [][]int{{cls}, nil, {sep}}}, nil
	case "":
		return nil, fmt.Errorf("%s.type: missing", field)
	}
	return nil, fmt.Errorf("%s.type: post-processor %q is not supported", field, t.Type)
}
