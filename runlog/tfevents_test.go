package runlog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var updateEvents = flag.Bool("update", false, "rewrite testdata/tfevents/ (then run testdata/read_tfevents.py on it into testdata/tfevents.txt)")

// The published check value of CRC-32C (Castagnoli).
func TestCRC32C(t *testing.T) {
	if got := crc32c([]byte("123456789")); got != 0xE3069283 {
		t.Errorf("crc32c(\"123456789\") = %#x, want 0xe3069283", got)
	}
}

// writeGoldenEvents writes the golden log directory into dir: a run of 3
// steps (the second evaluated), then a run resumed from step 2 that makes
// steps 3 and 4 again.
func writeGoldenEvents(t *testing.T, dir string) {
	t.Helper()
	v := 2.5
	metric := func(step int) Metric {
		m := Metric{Step: step, Epoch: float64(step) / 4, Loss: 3 - 0.25*float64(step), Accuracy: 0.1 * float64(step),
			LR: 2e-4 * float64(step) / 4, GradNorm: 1.5, Tokens: 100 + step, TokensPerSec: 1234.5, ElapsedSec: float64(step)}
		if step == 2 {
			m.ValidLoss = &v
		}
		return m
	}
	t0 := time.Unix(1700000000, 250000000)
	for i, run := range []struct{ start, end int }{{0, 3}, {2, 4}} {
		t1 := t0.Add(time.Duration(i) * time.Hour)
		w, err := CreateEvents(dir, run.start, t1, "golden", 1)
		if err != nil {
			t.Fatal(err)
		}
		for step := run.start + 1; step <= run.end; step++ {
			m := metric(step)
			if i == 1 {
				m.Loss -= 0.125 // the resumed run's own values
			}
			if err := w.WriteMetric(m, t1.Add(time.Duration(step)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEventsGolden: golora writes testdata/tfevents/ byte for byte, and
// what an independent reader (testdata/read_tfevents.py, in Python with
// its own CRC32C and protobuf decoding) printed from it, in
// testdata/tfevents.txt, is what the events decode to here.
func TestEventsGolden(t *testing.T) {
	golden := filepath.Join("testdata", "tfevents")
	if *updateEvents {
		os.RemoveAll(golden)
		writeGoldenEvents(t, golden)
	}
	dir := t.TempDir()
	writeGoldenEvents(t, dir)
	names, _ := filepath.Glob(filepath.Join(golden, "events.out.tfevents.*"))
	if len(names) != 2 {
		t.Fatalf("golden event files: %v, want 2", names)
	}
	for _, p := range names {
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(dir, filepath.Base(p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: written differently now (%v)", p, err)
		}
	}
	got, err := readEvents(golden)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "tfevents.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(got) != len(want) {
		t.Fatalf("decoded %d lines, the Python reader %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !sameEventLine(got[i], want[i]) {
			t.Errorf("line %d: decoded %q, the Python reader %q", i+1, got[i], want[i])
		}
	}
	// Scalars are the metrics' fields: 4 steps of 8 scalars after the purge,
	// and one evaluation.
	if n := len(got) - 2; n != 4*8+1 {
		t.Errorf("%d scalars, want 33", n)
	}
}

// Every field of metrics.jsonl but the step is a scalar.
func TestScalarsCoverMetric(t *testing.T) {
	v := 1.0
	js, _ := json.Marshal(Metric{ValidLoss: &v})
	var keys map[string]any
	json.Unmarshal(js, &keys)
	if got, want := len(Metric{ValidLoss: &v}.scalars()), len(keys)-1; got != want {
		t.Errorf("%d scalars for the %d fields of metrics.jsonl besides step", got, want)
	}
}

// sameEventLine compares "step tag value wall" lines by their numbers
// (value a float32, wall a float64), or other lines as text.
func sameEventLine(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	if len(fa) != 4 || len(fb) != 4 || fa[1] == "file_version" {
		return a == b
	}
	va, _ := strconv.ParseFloat(fa[2], 32)
	vb, _ := strconv.ParseFloat(fb[2], 32)
	wa, _ := strconv.ParseFloat(fa[3], 64)
	wb, _ := strconv.ParseFloat(fb[3], 64)
	return fa[0] == fb[0] && fa[1] == fb[1] && float32(va) == float32(vb) && wa == wb
}

// readEvents decodes the event files of dir as TensorBoard reads them (in
// name order, checking every record's CRCs, a SessionLog START at step s
// dropping the scalars of steps ≥ s) into the lines the Python reader
// prints.
func readEvents(dir string) ([]string, error) {
	type value struct {
		step  int
		tag   string
		value float32
		wall  float64
	}
	names, err := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var head []string
	var scalars []value
	for _, p := range names {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		for len(raw) > 0 {
			if len(raw) < 12 {
				return nil, fmt.Errorf("%s: truncated record header", p)
			}
			n := binary.LittleEndian.Uint64(raw)
			if binary.LittleEndian.Uint32(raw[8:]) != maskedCRC32C(raw[:8]) {
				return nil, fmt.Errorf("%s: bad length CRC", p)
			}
			if uint64(len(raw)-16) < n {
				return nil, fmt.Errorf("%s: truncated record", p)
			}
			ev := raw[12 : 12+n]
			if binary.LittleEndian.Uint32(raw[12+n:]) != maskedCRC32C(ev) {
				return nil, fmt.Errorf("%s: bad data CRC", p)
			}
			raw = raw[16+n:]
			var wall float64
			var step int
			for _, f := range protoFields(ev) {
				switch f.num {
				case 1:
					wall = math.Float64frombits(binary.LittleEndian.Uint64(f.data))
				case 2:
					step = int(f.varint)
				}
			}
			for _, f := range protoFields(ev) {
				switch f.num {
				case 3:
					head = append(head, filepath.Base(p)+" file_version "+string(f.data))
				case 6:
					for _, s := range protoFields(f.data) {
						if s.num == 1 && s.varint == 1 { // START
							scalars = slices.DeleteFunc(scalars, func(x value) bool { return x.step >= step })
						}
					}
				case 5:
					for _, v := range protoFields(f.data) {
						var x value
						x.step, x.wall = step, wall
						for _, vf := range protoFields(v.data) {
							switch vf.num {
							case 1:
								x.tag = string(vf.data)
							case 2:
								x.value = math.Float32frombits(binary.LittleEndian.Uint32(vf.data))
							}
						}
						scalars = append(scalars, x)
					}
				}
			}
		}
	}
	for _, s := range scalars {
		head = append(head, fmt.Sprintf("%d %s %.9g %.17g", s.step, s.tag, s.value, s.wall))
	}
	return head, nil
}

type protoField struct {
	num    int
	varint uint64
	data   []byte // fixed32, fixed64 and length-delimited fields
}

// protoFields splits a protocol buffer message into its fields (the test's
// own decoder; malformed input ends the list).
func protoFields(b []byte) []protoField {
	var out []protoField
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return out
		}
		b = b[n:]
		f := protoField{num: int(key >> 3)}
		switch key & 7 {
		case 0:
			f.varint, n = binary.Uvarint(b)
			if n <= 0 {
				return out
			}
			b = b[n:]
		case 1, 5:
			size := 8
			if key&7 == 5 {
				size = 4
			}
			if len(b) < size {
				return out
			}
			f.data, b = b[:size], b[size:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return out
			}
			f.data, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return out
		}
		out = append(out, f)
	}
	return out
}
