package runlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"time"
)

// EventsDir (OUT/runs) is where a run reported to TensorBoard writes its
// event files: `tensorboard --logdir OUT/runs`.
const EventsDir = "runs"

// eventsPrefix begins the name of every TensorBoard event file.
const eventsPrefix = "events.out.tfevents."

// An EventWriter writes a TensorBoard event file: a sequence of records
//
//	uint64 length (little-endian), uint32 masked CRC32C of those 8 bytes,
//	the Event protocol buffer (length bytes), uint32 masked CRC32C of it
//
// with mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 (TFRecord framing).
// The first Event has file_version "brain.Event:2"; each metric is one
// Event {wall_time, step, summary} whose Summary holds one Value
// {tag, simple_value} per scalar of the metric (Metric.scalars).
type EventWriter struct {
	f   *os.File
	buf []byte
}

// eventFileName is the name torch's SummaryWriter gives an event file:
// events.out.tfevents.<unix seconds, 10 digits>.<host>.<pid>.<n>.
func eventFileName(t time.Time, host string, pid, n int) string {
	return fmt.Sprintf("%s%010d.%s.%d.%d", eventsPrefix, t.Unix(), host, pid, n)
}

// CreateEvents starts a new event file in dir (made if missing) for a run
// that continues from step start, named by eventFileName with the first n
// ≥ 0 not taken. For a fresh run (start 0) the event files of an earlier
// run in dir are removed first, as metrics.jsonl is emptied. A resumed run
// keeps them and begins its file with a SessionLog START at step start+1:
// TensorBoard drops the older files' events from that step on (the steps
// an interrupted run made after its checkpoint), as it does for torch's
// SummaryWriter(purge_step=start+1). wall is the wall time of the first
// events.
func CreateEvents(dir string, start int, wall time.Time, host string, pid int) (*EventWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if start == 0 {
		if err := RemoveEvents(dir); err != nil {
			return nil, err
		}
	}
	var f *os.File
	for n := 0; f == nil; n++ {
		var err error
		f, err = os.OpenFile(filepath.Join(dir, eventFileName(wall, host, pid, n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	w := &EventWriter{f: f}
	step := 0
	if start > 0 {
		step = start + 1
	}
	ev := appendWallStep(nil, wall, step)
	ev = appendBytes(ev, 3, []byte("brain.Event:2")) // Event.file_version
	if err := w.write(ev); err != nil {
		w.f.Close()
		return nil, err
	}
	if start > 0 {
		session := appendVarintField(nil, 1, 1)                        // SessionLog.status = START
		ev := appendBytes(appendWallStep(nil, wall, step), 6, session) // Event.session_log
		if err := w.write(ev); err != nil {
			w.f.Close()
			return nil, err
		}
	}
	return w, nil
}

// RemoveEvents removes the event files in dir (none when it does not
// exist).
func RemoveEvents(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, eventsPrefix+"*"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return nil
}

// scalar is one value of a TensorBoard summary.
type scalar struct {
	Tag   string
	Value float64 // written as float32 (simple_value)
}

// scalars are the values of m as the Hugging Face Trainer's TensorBoard
// callback tags them: every field of metrics.jsonl but the step (the
// event's step) under "train/", lr as train/learning_rate, and valid_loss,
// when the step evaluated, as eval/loss.
func (m Metric) scalars() []scalar {
	s := []scalar{
		{"train/epoch", m.Epoch},
		{"train/loss", m.Loss},
		{"train/mean_token_accuracy", m.Accuracy},
		{"train/learning_rate", m.LR},
		{"train/grad_norm", m.GradNorm},
		{"train/tokens", float64(m.Tokens)},
		{"train/tokens_per_sec", m.TokensPerSec},
		{"train/elapsed_sec", m.ElapsedSec},
	}
	if m.ValidLoss != nil {
		s = append(s, scalar{"eval/loss", *m.ValidLoss})
	}
	return s
}

// WriteMetric appends m as one Event at step m.Step and wall time wall.
func (w *EventWriter) WriteMetric(m Metric, wall time.Time) error {
	var summary []byte
	for _, s := range m.scalars() {
		v := appendBytes(nil, 1, []byte(s.Tag)) // Summary.Value.tag
		v = binary.AppendUvarint(v, 2<<3|5)     // Summary.Value.simple_value, fixed32
		v = binary.LittleEndian.AppendUint32(v, math.Float32bits(float32(s.Value)))
		summary = appendBytes(summary, 1, v) // Summary.value
	}
	return w.write(appendBytes(appendWallStep(nil, wall, m.Step), 5, summary)) // Event.summary
}

// Close closes the file.
func (w *EventWriter) Close() error { return w.f.Close() }

// write appends one record holding the encoded Event ev. Each record is
// one write call, as each metrics.jsonl line is.
func (w *EventWriter) write(ev []byte) error {
	b := binary.LittleEndian.AppendUint64(w.buf[:0], uint64(len(ev)))
	b = binary.LittleEndian.AppendUint32(b, maskedCRC32C(b))
	b = append(b, ev...)
	b = binary.LittleEndian.AppendUint32(b, maskedCRC32C(ev))
	w.buf = b
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("%s: %w", w.f.Name(), err)
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the Castagnoli CRC of b (polynomial 0x1EDC6F41, reflected).
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// maskedCRC32C is the CRC32C of b masked as TFRecord files store it:
// ((c >> 15) | (c << 17)) + 0xa282ead8.
func maskedCRC32C(b []byte) uint32 {
	c := crc32c(b)
	return (c>>15 | c<<17) + 0xa282ead8
}

// appendWallStep appends Event.wall_time (field 1, a double in seconds)
// and Event.step (field 2, an int64; left out when 0, as protobuf does).
func appendWallStep(b []byte, wall time.Time, step int) []byte {
	b = binary.AppendUvarint(b, 1<<3|1) // fixed64
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(wall.Unix())+float64(wall.Nanosecond())/1e9))
	if step == 0 {
		return b
	}
	return appendVarintField(b, 2, uint64(step))
}

// appendVarintField appends field number field as a varint.
func appendVarintField(b []byte, field int, v uint64) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3)
	return binary.AppendUvarint(b, v)
}

// appendBytes appends field number field as length-delimited bytes (a
// string or an embedded message).
func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
