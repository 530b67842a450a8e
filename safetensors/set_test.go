package safetensors

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sized makes a U8 tensor of n bytes filled with b.
func sized(name string, n int, b byte) Tensor {
	data := make([]byte, n)
	for i := range data {
		data[i] = b
	}
	return Tensor{Name: name, DType: U8, Shape: []int{n}, Data: data}
}

func TestSplitShards(t *testing.T) {
	cases := []struct {
		name  string
		sizes []int
		max   int64
		want  [][]string
	}{
		// The example of huggingface_hub's docstring: [6,6,2,6,2,2] at 10.
		{"hub docstring", []int{6, 6, 2, 6, 2, 2}, 10, [][]string{{"t0"}, {"t1", "t2"}, {"t3", "t4", "t5"}}},
		{"oversized tensor alone, placed when met", []int{2, 12, 3}, 10, [][]string{{"t1"}, {"t0", "t2"}}},
		{"exact fit", []int{5, 5, 5}, 10, [][]string{{"t0", "t1"}, {"t2"}}},
		{"no limit", []int{100, 100}, 0, [][]string{{"t0", "t1"}}},
		{"nothing", nil, 10, [][]string{{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ts []Tensor
			for i, n := range tc.sizes {
				ts = append(ts, sized("t"+string(rune('0'+i)), n, 0))
			}
			got := [][]string{}
			for _, shard := range splitShards(ts, tc.max) {
				names := []string{}
				for _, x := range shard {
					names = append(names, x.Name)
				}
				got = append(got, names)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("shards %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWriteShardedAndOpenDir(t *testing.T) {
	dir := t.TempDir()
	ts := []Tensor{sized("a", 6, 1), sized("b", 6, 2), sized("c", 2, 3), sized("d", 6, 4)}
	meta := map[string]string{"format": "pt"}
	if err := WriteSharded(dir, ts, meta, 10); err != nil {
		t.Fatal(err)
	}
	want := []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", IndexFileName}
	if got := listDir(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	idx, _ := os.ReadFile(filepath.Join(dir, IndexFileName))
	wantIdx := `{
  "metadata": {
    "total_size": 20
  },
  "weight_map": {
    "a": "model-00001-of-00003.safetensors",
    "b": "model-00002-of-00003.safetensors",
    "c": "model-00002-of-00003.safetensors",
    "d": "model-00003-of-00003.safetensors"
  }
}
`
	if string(idx) != wantIdx {
		t.Errorf("index:\n%s\nwant\n%s", idx, wantIdx)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Names(), []string{"a", "b", "c", "d"}) || len(s.Files()) != 3 {
		t.Errorf("names %v files %v", s.Names(), s.Files())
	}
	for _, w := range ts {
		g, ok := s.Tensor(w.Name)
		if !ok || !sameTensor(g, w) {
			t.Errorf("tensor %q: %+v", w.Name, g)
		}
	}
	if p, ok := s.FileOf("c"); !ok || filepath.Base(p) != "model-00002-of-00003.safetensors" {
		t.Errorf("FileOf(c) = %q", p)
	}
	if _, ok := s.Tensor("zz"); ok {
		t.Error("found a tensor that does not exist")
	}
	s.Close()

	// Saving again, small enough for one file, leaves no stale shard or index.
	if err := WriteSharded(dir, ts[:2], meta, 0); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{SingleFileName}) {
		t.Fatalf("files after a single-file save: %v", got)
	}
	s, err = OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !reflect.DeepEqual(s.Names(), []string{"a", "b"}) {
		t.Errorf("names %v", s.Names())
	}
	if f, _ := Open(filepath.Join(dir, SingleFileName)); f == nil || !reflect.DeepEqual(f.Metadata(), meta) {
		t.Error("metadata lost")
	} else {
		f.Close()
	}
}

func TestWriteShardedRejectsBeforeWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	err := WriteSharded(dir, []Tensor{sized("a", 4, 0), {Name: "b", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, nil, 2)
	if err == nil || !strings.Contains(err.Error(), `tensor "b"`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory created despite the error")
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestOpenDirFallbacks(t *testing.T) {
	t.Run("single file wins over others", func(t *testing.T) {
		dir := t.TempDir()
		mustWrite(t, filepath.Join(dir, SingleFileName), sized("a", 1, 1))
		mustWrite(t, filepath.Join(dir, "other.safetensors"), sized("b", 1, 1))
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !reflect.DeepEqual(s.Names(), []string{"a"}) {
			t.Errorf("names %v", s.Names())
		}
	})
	t.Run("all safetensors files", func(t *testing.T) {
		dir := t.TempDir()
		mustWrite(t, filepath.Join(dir, "adapter_model.safetensors"), sized("x", 1, 1))
		mustWrite(t, filepath.Join(dir, "extra.safetensors"), sized("y", 1, 1))
		os.WriteFile(filepath.Join(dir, ".hidden.safetensors"), []byte("junk"), 0o644)
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("junk"), 0o644)
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !reflect.DeepEqual(s.Names(), []string{"x", "y"}) || len(s.Files()) != 2 {
			t.Errorf("names %v files %v", s.Names(), s.Files())
		}
	})
}

func mustWrite(t *testing.T, path string, ts ...Tensor) {
	t.Helper()
	if err := Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDirErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(dir string)
		want  []string // all must appear in the error
	}{
		{"empty dir", func(dir string) {}, []string{"holds no model.safetensors.index.json, model.safetensors or *.safetensors"}},
		{"missing shard", func(dir string) {
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"w":"model-00001-of-00002.safetensors"}}`), 0o644)
		}, []string{IndexFileName, `tensor "w"`, "shard model-00001-of-00002.safetensors does not exist"}},
		{"tensor absent from its shard", func(dir string) {
			mustWrite(t, filepath.Join(dir, "s1.safetensors"), sized("a", 1, 1))
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"a":"s1.safetensors","ghost":"s1.safetensors"}}`), 0o644)
		}, []string{IndexFileName, `tensor "ghost"`, "listed in shard s1.safetensors but absent from it"}},
		{"bad shard file", func(dir string) {
			os.WriteFile(filepath.Join(dir, "s1.safetensors"), []byte("short"), 0o644)
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"a":"s1.safetensors"}}`), 0o644)
		}, []string{"s1.safetensors", "shorter than the 8-byte header length"}},
		{"index not JSON", func(dir string) {
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":`), 0o644)
		}, []string{IndexFileName, "not a JSON object"}},
		{"index without weight_map", func(dir string) {
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"metadata":{}}`), 0o644)
		}, []string{IndexFileName, "weight_map: missing"}},
		{"weight_map value not a string", func(dir string) {
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"w":3}}`), 0o644)
		}, []string{IndexFileName, `tensor "w"`, "want a file name"}},
		{"shard escapes the directory", func(dir string) {
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"w":"../x.safetensors"}}`), 0o644)
		}, []string{IndexFileName, `tensor "w"`, "not a file name inside the model directory"}},
		{"absolute shard path", func(dir string) {
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"w":"/etc/x.safetensors"}}`), 0o644)
		}, []string{`tensor "w"`, "not a file name inside"}},
		{"same tensor in two files", func(dir string) {
			mustWrite(t, filepath.Join(dir, "a.safetensors"), sized("w", 1, 1))
			mustWrite(t, filepath.Join(dir, "b.safetensors"), sized("w", 1, 2))
		}, []string{"b.safetensors", `tensor "w"`, "also present in", "a.safetensors"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			s, err := OpenDir(dir)
			if err == nil {
				s.Close()
				t.Fatal("OpenDir succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
