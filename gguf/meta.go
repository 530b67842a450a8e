package gguf

import (
	"fmt"
	"math"
)

// KV is one metadata entry. Value holds the Go type of its GGUF type:
// uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64,
// int64, float64, or for an ARRAY a slice of one of those ([]uint32,
// []string, …).
type KV struct {
	Key   string
	Value any
}

// valueTypeOf is the GGUF type of a Go value as KV holds it, and for a
// slice its element type; ok is false for any other Go type.
func valueTypeOf(v any) (typ, elem ValueType, ok bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, 0, true
	case int8:
		return TypeInt8, 0, true
	case uint16:
		return TypeUint16, 0, true
	case int16:
		return TypeInt16, 0, true
	case uint32:
		return TypeUint32, 0, true
	case int32:
		return TypeInt32, 0, true
	case float32:
		return TypeFloat32, 0, true
	case bool:
		return TypeBool, 0, true
	case string:
		return TypeString, 0, true
	case uint64:
		return TypeUint64, 0, true
	case int64:
		return TypeInt64, 0, true
	case float64:
		return TypeFloat64, 0, true
	case []uint8:
		return TypeArray, TypeUint8, true
	case []int8:
		return TypeArray, TypeInt8, true
	case []uint16:
		return TypeArray, TypeUint16, true
	case []int16:
		return TypeArray, TypeInt16, true
	case []uint32:
		return TypeArray, TypeUint32, true
	case []int32:
		return TypeArray, TypeInt32, true
	case []float32:
		return TypeArray, TypeFloat32, true
	case []bool:
		return TypeArray, TypeBool, true
	case []string:
		return TypeArray, TypeString, true
	case []uint64:
		return TypeArray, TypeUint64, true
	case []int64:
		return TypeArray, TypeInt64, true
	case []float64:
		return TypeArray, TypeFloat64, true
	}
	return 0, 0, false
}

// Value is the value of key, as KV holds it.
func (f *File) Value(key string) (any, bool) {
	i, ok := f.keys[key]
	if !ok {
		return nil, false
	}
	return f.meta[i].Value, true
}

// String is the STRING value of key; a missing key or another type is an
// error naming the file and the key.
func (f *File) String(key string) (string, error) {
	v, ok := f.Value(key)
	if !ok {
		return "", f.keyErr(key, "missing")
	}
	s, ok := v.(string)
	if !ok {
		return "", f.keyErr(key, "is %s, not STRING", typeName(v))
	}
	return s, nil
}

// Int is the value of key when it has an integer type (any width, signed
// or not) whose value fits an int64.
func (f *File) Int(key string) (int64, error) {
	v, ok := f.Value(key)
	if !ok {
		return 0, f.keyErr(key, "missing")
	}
	switch x := v.(type) {
	case uint8:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, f.keyErr(key, "%d does not fit an int64", x)
		}
		return int64(x), nil
	}
	return 0, f.keyErr(key, "is %s, not an integer", typeName(v))
}

// Float is the value of key when it has a floating-point or integer type.
func (f *File) Float(key string) (float64, error) {
	v, ok := f.Value(key)
	if !ok {
		return 0, f.keyErr(key, "missing")
	}
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	n, err := f.Int(key)
	if err != nil {
		return 0, f.keyErr(key, "is %s, not a number", typeName(v))
	}
	return float64(n), nil
}

// typeName is the GGUF type of a KV value in words ("ARRAY of STRING").
func typeName(v any) string {
	t, e, ok := valueTypeOf(v)
	switch {
	case !ok:
		return fmt.Sprintf("Go type %T", v)
	case t == TypeArray:
		return "ARRAY of " + e.String()
	}
	return t.String()
}

func (f *File) keyErr(key, format string, args ...any) error {
	return &FormatError{Path: f.path, Key: key, Msg: fmt.Sprintf(format, args...)}
}
