package finetune

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/golora/golora/runlog"
	"github.com/golora/golora/train"
)

// Progress is a train.Sink that only shows progress: a one-line bar (loss,
// tokens/s, ETA) redrawn on a terminal, or plain lines, about fifty per
// run, when the writer is not one. Call Done after training.
type Progress struct {
	w          io.Writer
	tty        bool
	total      int
	start      int
	t0         time.Time
	every      int
	lastLength int
}

// NewProgress shows the progress of a run of total steps that continues
// from step start on w (nil: nothing).
func NewProgress(w io.Writer, total, start int) *Progress {
	p := &Progress{w: w, total: total, start: start, t0: time.Now(), every: max(1, total/50)}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// Step shows the metric of a finished step (train.Sink).
func (p *Progress) Step(_ *train.Run, m runlog.Metric) error {
	p.step(m)
	return nil
}

// Checkpoint does nothing: Progress saves no checkpoints (train.Sink).
func (p *Progress) Checkpoint(*train.Run, int) error { return nil }

func (p *Progress) step(m runlog.Metric) {
	if p.w == nil {
		return
	}
	done := m.Step - p.start
	eta := time.Duration(0)
	if done > 0 {
		eta = time.Duration(float64(time.Since(p.t0)) / float64(done) * float64(p.total-m.Step)).Round(time.Second)
	}
	valid := ""
	if m.ValidLoss != nil {
		valid = fmt.Sprintf(" valid %.4f", *m.ValidLoss)
	}
	msg := fmt.Sprintf("step %d/%d loss %.4f%s lr %.3g grad %.3g %.0f tok/s ETA %s",
		m.Step, p.total, m.Loss, valid, m.LR, m.GradNorm, m.TokensPerSec, eta)
	if !p.tty {
		if m.Step%p.every == 0 || m.Step == p.total || m.ValidLoss != nil {
			fmt.Fprintln(p.w, msg)
		}
		return
	}
	const width = 24
	fill := width * m.Step / max(1, p.total)
	bar := "[" + strings.Repeat("=", fill) + strings.Repeat(" ", width-fill) + "] "
	line := bar + msg
	pad := ""
	if n := p.lastLength - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.lastLength = len(line)
	fmt.Fprint(p.w, "\r"+line+pad)
}

// Done ends the bar's line on a terminal.
func (p *Progress) Done() {
	if p.w != nil && p.tty {
		fmt.Fprintln(p.w)
	}
}
