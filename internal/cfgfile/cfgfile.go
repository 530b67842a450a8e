// Package cfgfile reads a settings file into a struct: JSON or YAML is
// decoded into a map, keys written in other vocabularies are renamed
// through an alias table, and the result is decoded into the struct by its
// json tags. Every error names the file and the key as the file writes it:
// an unknown key with the nearest known one, two keys that set one setting
// to different values, a value of the wrong type.
package cfgfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/golora/golora/internal/suggest"
)

// Alias is another name for a key of the struct.
type Alias struct {
	Key string // the struct's key (its json tag)
	// Unset, when not nil, is a value that means "not set" under this
	// name (the Hugging Face Trainer's max_steps: -1): the key is ignored.
	Unset any
}

// Load overlays the keys of the JSON or YAML file path onto *v, a struct
// whose json tags name its keys. The format is chosen by the extension
// (.json, .yaml, .yml), else by the content (JSON when it starts with
// '{'). aliases maps other names to the struct's keys; a key the struct
// does not know may also be written with '_' for '-' (batch_size). A list
// of strings given for a string field is joined with commas
// (target_modules: [q_proj, v_proj] is "q_proj,v_proj").
func Load(path string, v any, aliases map[string]Alias) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := decode(raw, isJSON(path, raw), v, aliases); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func isJSON(path string, raw []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	return bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{"))
}

// setting is one key of the file, renamed to the struct's key.
type setting struct {
	name  string // as the file writes it
	value any
}

func decode(raw []byte, asJSON bool, v any, aliases map[string]Alias) error {
	var m map[string]any
	if asJSON {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("not a JSON object of settings: %w", err)
		}
		if dec.More() {
			return fmt.Errorf("not one JSON object: data after it")
		}
	} else if err := yaml.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("not a YAML mapping of settings: %w", err)
	}
	fields := jsonFields(reflect.TypeOf(v).Elem())
	byKey := map[string][]setting{}
	for _, name := range sortedKeys(m) {
		key, ok := canonical(name, fields, aliases)
		if !ok {
			return fmt.Errorf("unknown key %q%s", name, nearest(name, fields, aliases))
		}
		value := m[name]
		if a, ok := aliases[name]; ok && a.Unset != nil && sameValue(value, a.Unset) {
			continue
		}
		if s, ok := joinStrings(value); ok && fields[key].Kind() == reflect.String {
			value = s
		}
		byKey[key] = append(byKey[key], setting{name, value})
	}
	out := map[string]any{}
	for _, key := range sortedKeys(byKey) {
		ss := byKey[key]
		for _, s := range ss[1:] {
			if !sameValue(s.value, ss[0].value) {
				return fmt.Errorf("%q and %q both set %s, to %s and %s", ss[0].name, s.name, key, show(ss[0].value), show(s.value))
			}
		}
		out[key] = ss[0].value
	}
	js, err := json.Marshal(out)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// te.Field is a path through embedded structs
			// ("Config.epochs"); the file's keys are flat.
			key := te.Field[strings.LastIndex(te.Field, ".")+1:]
			name, got := key, te.Value
			if ss := byKey[key]; len(ss) > 0 {
				name, got = ss[0].name, show(ss[0].value)
			}
			want := te.Type
			if ft := fields[key]; ft != nil {
				want = ft // a list, where te.Type is its element
			}
			return fmt.Errorf("%s: want %s, got %s", name, kind(want), got)
		}
		return err
	}
	return nil
}

// jsonFields maps the json names of t's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			for k, v := range jsonFields(f.Type) { // promoted, exported or not, as encoding/json does
				out[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		out[name] = ft
	}
	return out
}

// canonical is the struct key that name means.
func canonical(name string, fields map[string]reflect.Type, aliases map[string]Alias) (string, bool) {
	if _, ok := fields[name]; ok {
		return name, true
	}
	if a, ok := aliases[name]; ok {
		return a.Key, true
	}
	if k := strings.ReplaceAll(name, "_", "-"); fields[k] != nil {
		return k, true
	}
	return "", false
}

// nearest suggests the known key or alias closest to name.
func nearest(name string, fields map[string]reflect.Type, aliases map[string]Alias) string {
	known := append(sortedKeys(fields), sortedKeys(aliases)...)
	if c := suggest.Nearest(name, known); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return fmt.Sprintf("; known keys: %s", strings.Join(known, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// joinStrings joins a list of strings with commas.
func joinStrings(v any) (string, bool) {
	list, ok := v.([]any)
	if !ok {
		return "", false
	}
	parts := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return "", false
		}
		parts[i] = s
	}
	return strings.Join(parts, ","), true
}

// number reads v as a number: JSON numbers, YAML ints and floats.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// sameValue reports whether two decoded values are equal, numbers by value
// (8 and 8.0 are the same).
func sameValue(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// show writes a decoded value as the file would.
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(js)
}

// kind names what a Go type takes, for type errors.
func kind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(kind(t.Elem()), "an "), "a ") + "s"
	}
	return t.String()
}
