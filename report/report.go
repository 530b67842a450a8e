// Package report draws what a training run did: loss and learning-rate
// curves, where the LoRA update grew (‖s·B·A‖_F per layer and module type
// over the steps), how small the update is next to the frozen weight, the
// matrices W, A, B and W + s·B·A of one module, the trainable parameters,
// the settings and what the run cost. Everything is read from the run
// directory (metrics.jsonl, norms.jsonl, run.json, the saved adapter and
// checkpoints) and the base model, so a report can be rebuilt at any time.
//
// The output is OUT/report.html, one self-contained page (inline SVG, no
// scripts, no network), and the same pictures as SVG files in OUT/report/.
package report

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/golora/golora/internal/atomicfile"
	"github.com/golora/golora/internal/human"
	"github.com/golora/golora/model"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/safetensors"
	"github.com/golora/golora/tensor"
)

// File names Write creates in the run directory.
const (
	HTMLFile   = "report.html"
	FiguresDir = "report"
)

// Options control Write.
type Options struct {
	// Model is the base model directory; "" uses the one the run names.
	Model string
	// Module is the module drawn up close (histogram and matrices): a full
	// name or a unique part of one (layers.1.self_attn.v_proj); "" picks the
	// module with the largest ‖s·B·A‖_F.
	Module string
}

// figure is one picture of the report.
type figure struct {
	file    string // name under FiguresDir
	caption string
	svg     []byte
}

// page collects the report's HTML and figures.
type page struct {
	b       strings.Builder
	figures []figure
	run     *Run
}

// Write builds the report of the run in dir: dir/report.html and the
// pictures in dir/report/*.svg, each written atomically. It returns the
// path of the HTML file.
func Write(dir string, o Options) (string, error) {
	r, err := Load(dir)
	if err != nil {
		return "", err
	}
	p := build(r, o)
	if err := os.MkdirAll(filepath.Join(dir, FiguresDir), 0o755); err != nil {
		return "", err
	}
	for _, f := range p.figures {
		if err := atomicfile.WriteFile(filepath.Join(dir, FiguresDir, f.file), f.svg); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, HTMLFile)
	return path, atomicfile.WriteFile(path, []byte(p.b.String()))
}

// build renders the report of a loaded run.
func build(r *Run, o Options) *page {
	p := &page{run: r}
	b := &base{dir: o.Model}
	if b.dir == "" {
		b.dir = r.ModelDir()
	}
	b.open(r)
	defer b.close()

	title := "golora report: " + filepath.Base(absOr(r.Dir))
	p.w(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title>`+"\n", esc(title))
	p.w("<style>%s</style></head><body>\n", css)
	p.w("<h1>%s</h1>\n<p class=sub>%s</p>\n", esc(title), esc(absOr(r.Dir)))
	p.summary(b)
	p.curves()
	p.preference()
	if r.Adapter != nil {
		p.norms(b)
		p.module(b, o.Module)
		p.paramTable(b)
	} else {
		p.w("<h2>What was trained</h2>\n<p>Full fine-tuning: every weight of the base model was trained with AdamW (%s values); there is no adapter, so the LoRA pictures are left out.</p>\n",
			esc(human.Count(r.TrainableParams())))
	}
	p.settings()
	if len(r.Notes)+len(b.notes) > 0 {
		p.w("<h2>Notes</h2>\n<ul>\n")
		for _, n := range append(append([]string(nil), r.Notes...), b.notes...) {
			p.w("<li>%s</li>\n", esc(n))
		}
		p.w("</ul>\n")
	}
	p.w("<p class=sub>Rebuild with <code>golora report %s</code>. Pictures: <code>%s/</code>.</p>\n</body></html>\n",
		esc(r.Dir), esc(FiguresDir))
	return p
}

func (p *page) w(format string, args ...any) { fmt.Fprintf(&p.b, format, args...) }

// fig adds a figure inline, with a caption and a link to its file.
func (p *page) fig(file, caption string, svg []byte) {
	p.figures = append(p.figures, figure{file, caption, svg})
	s := string(svg)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	p.w("<figure>%s<figcaption>%s <a href=\"%s/%s\">%s</a></figcaption></figure>\n",
		s, esc(caption), FiguresDir, file, file)
}

const css = `body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#222;line-height:1.45}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:36px}
.sub{color:#666;margin-top:2px}code{background:#f3f3f3;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;margin:10px 0}td,th{border:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.facts td:first-child{color:#555;white-space:nowrap}
figure{display:inline-block;margin:10px 14px 10px 0;vertical-align:top}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:13px;color:#555;max-width:720px}.grid{display:flex;flex-wrap:wrap}
.grid figure{width:560px}.grid figure svg{width:100%;height:auto}`

func esc(s string) string { return html.EscapeString(s) }

func absOr(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// base is the base model, opened lazily for the weights the report shows.
type base struct {
	dir    string
	set    *safetensors.Set
	params int
	bytes  int64
	notes  []string
}

func (b *base) open(r *Run) {
	if b.dir == "" {
		b.notes = append(b.notes, "the run names no base model: pass --model DIR to show the base weights")
		return
	}
	set, err := safetensors.OpenDir(b.dir)
	if err != nil {
		b.notes = append(b.notes, fmt.Sprintf("base model: %v; pass --model DIR to show the base weights", err))
		return
	}
	b.set = set
	for _, n := range set.Names() {
		t, _ := set.Tensor(n)
		b.params += t.NumElements()
	}
	for _, f := range append(set.Files(), filepath.Join(b.dir, "config.json"), filepath.Join(b.dir, safetensors.IndexFileName)) {
		if fi, err := os.Stat(f); err == nil {
			b.bytes += fi.Size()
		}
	}
}

func (b *base) close() {
	if b.set != nil {
		b.set.Close()
	}
}

// weight returns the base weight of a module as a matrix viewing the
// file, or ok false (with a note) when it cannot.
func (b *base) weight(module string) (tensor.Mat, bool) {
	if b.set == nil {
		return tensor.Mat{}, false
	}
	name := module + ".weight"
	t, ok := b.set.Tensor(name)
	if !ok || len(t.Shape) != 2 {
		b.notes = append(b.notes, fmt.Sprintf("base model %s has no matrix %s", b.dir, name))
		return tensor.Mat{}, false
	}
	w, err := t.Mat(t.Shape[0], t.Shape[1])
	if err != nil {
		b.notes = append(b.notes, fmt.Sprintf("base model %s: %v", b.dir, err))
		return tensor.Mat{}, false
	}
	return w, true
}

// summary is the table of headline facts.
func (p *page) summary(b *base) {
	r := p.run
	var rows [][2]string
	add := func(k, v string) { rows = append(rows, [2]string{k, v}) }
	status := "finished"
	if r.Info != nil {
		status = r.Info.Status
		if r.Info.Error != "" {
			status += ": " + r.Info.Error
		}
	}
	add("status", status)
	if r.Adapter != nil {
		c := r.Adapter.Config
		targets := strings.Join(c.Targets, ", ")
		if c.TargetRegex != "" {
			targets = "re:" + c.TargetRegex
		}
		rs := ""
		if c.RSLoRA {
			rs = ", rsLoRA"
		}
		if c.DoRA {
			rs += ", DoRA"
		}
		add("method", fmt.Sprintf("LoRA, rank r = %d, alpha = %s (scale s = %s%s), %s (%s)",
			c.R, short(c.Alpha), short(r.Adapter.Scale), rs, human.Plural(len(r.Adapter.Modules), "module"), targets))
	} else if r.Full {
		add("method", "full fine-tuning (every weight trained)")
	}
	if b.dir != "" {
		v := b.dir
		if b.set != nil {
			v += fmt.Sprintf(" (%s parameters, %s)", metric(float64(b.params)), human.Bytes(b.bytes))
		}
		add("base model", v)
	}
	if n := len(r.Metrics); n > 0 {
		last := r.Metrics[n-1]
		steps := fmt.Sprintf("%d", last.Step)
		if r.Info != nil {
			items := "training example"
			if r.Info.Options.Method != "" {
				items = r.Info.Options.Method + " pair"
			}
			steps += fmt.Sprintf(" of %d (%s, %d validation, sequences padded to %s)",
				r.Info.TotalSteps, human.Plural(r.Info.TrainExamples, items), r.Info.ValidExamples, human.Plural(r.Info.SeqLen, "token"))
		}
		add("steps", steps)
		add("training loss", fmt.Sprintf("%s → %s (first → last step)", short(r.Metrics[0].Loss), short(last.Loss)))
	}
	if v := r.FinalValidLoss(); finite(v) {
		add("validation loss", fmt.Sprintf("%s, perplexity %s", short(v), short(math.Exp(v))))
	}
	if t := r.TokensPerSec(); t > 0 {
		add("throughput", fmt.Sprintf("%s tokens/s (time in optimizer steps; validation excluded)", short(t)))
	}
	if r.Info != nil {
		if r.Info.PeakRSSBytes > 0 {
			add("peak RSS", human.Bytes(r.Info.PeakRSSBytes)+" (VmHWM of the training process)")
		}
		if r.Info.ElapsedSec > 0 {
			add("wall time", fmt.Sprintf("%s s, %s", short(r.Info.ElapsedSec), human.Plural(r.Info.Threads, "thread")))
		}
	} else {
		add("peak RSS", "not recorded (no "+runlog.RunFile+")")
	}
	if tp := r.TrainableParams(); tp > 0 {
		all := b.params
		if r.Info != nil && r.Info.BaseParams > 0 {
			all = r.Info.BaseParams
		}
		if r.Adapter != nil {
			all += r.SavedParams
		}
		v := human.Count(tp)
		if all > 0 {
			v += fmt.Sprintf(" of %s (%.4f%%)", human.Count(all), 100*float64(tp)/float64(all))
		}
		add("trainable parameters", v)
	}
	what := "adapter"
	if r.Adapter == nil {
		what = "model"
	}
	v := human.Bytes(r.SavedBytes)
	if b.bytes > 0 && r.SavedBytes > 0 {
		v += fmt.Sprintf(" = %s%% of the base model's %s", short(100*float64(r.SavedBytes)/float64(b.bytes)), human.Bytes(b.bytes))
	}
	add("saved "+what, v)
	p.w("<table class=facts>\n")
	for _, kv := range rows {
		p.w("<tr><td>%s</td><td>%s</td></tr>\n", esc(kv[0]), esc(kv[1]))
	}
	p.w("</table>\n")
}

// curves draws the loss, learning-rate and gradient-norm curves.
func (p *page) curves() {
	ms := p.run.Metrics
	p.w("<h2>Training curves</h2>\n")
	if len(ms) == 0 {
		p.w("<p>No metrics.jsonl: the run did not finish a step.</p>\n")
		return
	}
	var xs, loss, lr, gn, vx, vy []float64
	for _, m := range ms {
		xs = append(xs, float64(m.Step))
		loss = append(loss, m.Loss)
		lr = append(lr, m.LR)
		gn = append(gn, m.GradNorm)
		if m.ValidLoss != nil {
			vx = append(vx, float64(m.Step))
			vy = append(vy, *m.ValidLoss)
		}
	}
	ss := []series{{name: "training loss", x: xs, y: loss, color: "#1f77b4", width: 1.5}}
	if len(xs) >= 20 {
		ss[0].name, ss[0].color, ss[0].width = "training loss (per step)", "#9ecae1", 1
		ss = append(ss, series{name: "training loss (moving average)", x: xs, y: movingAverage(loss, max(2, len(loss)/20)), color: "#1f77b4", width: 2.2})
	}
	if len(vx) > 0 {
		ss = append(ss, series{name: "validation loss", x: vx, y: vy, color: "#d62728", width: 2, markers: true})
	}
	caption, ylabel := "Loss (mean cross-entropy per target token, nats) after each optimizer step; validation loss where it was measured.", "loss (nats/token)"
	if c := p.preferenceCaption(); c != "" {
		caption, ylabel = c, "loss"
	}
	p.fig("loss.svg", caption, lineChart("loss", "Loss", "optimizer step", ylabel, ss, false, false))
	p.w("<div class=grid>\n")
	p.fig("lr.svg", "Learning rate of each step (schedule after warmup).",
		lineChart("lr", "Learning rate", "optimizer step", "learning rate", []series{{x: xs, y: lr, color: "#2ca02c", width: 2}}, false, true))
	p.fig("grad-norm.svg", "Gradient norm before clipping.",
		lineChart("gradnorm", "Gradient norm", "optimizer step", "‖gradient‖₂", []series{{x: xs, y: gn, color: "#9467bd", width: 1.5}}, false, true))
	p.w("</div>\n")
}

// movingAverage is the trailing mean over k values.
func movingAverage(v []float64, k int) []float64 {
	out := make([]float64, len(v))
	var sum float64
	for i, x := range v {
		sum += x
		if i >= k {
			sum -= v[i-k]
		}
		out[i] = sum / float64(min(i+1, k))
	}
	return out
}

// norms draws one heatmap of ‖s·B·A‖_F (layers × recorded steps) per
// module type, all on one colour scale, and lists the most adapted modules.
func (p *page) norms(b *base) {
	r := p.run
	p.w("<h2>Where LoRA adapted</h2>\n")
	if len(r.Norms) == 0 {
		p.w("<p>No norms were recorded.</p>\n")
		return
	}
	kinds, maxLayer, hi := map[string]bool{}, 0, 0.0
	for _, m := range r.Adapter.Modules {
		kinds[m.Kind] = true
		maxLayer = max(maxLayer, m.Layer)
	}
	for _, nr := range r.Norms {
		for _, v := range nr.Norms {
			hi = math.Max(hi, v)
		}
	}
	if hi == 0 {
		hi = 1
	}
	var order []string
	for k := range kinds {
		order = append(order, k)
	}
	sort.Slice(order, func(i, j int) bool {
		return kindRank(order[i]) < kindRank(order[j]) || kindRank(order[i]) == kindRank(order[j]) && order[i] < order[j]
	})
	steps := make([]int, len(r.Norms))
	for j, nr := range r.Norms {
		steps[j] = nr.Step
	}
	layers := make([]string, maxLayer+1)
	for i := range layers {
		layers[i] = fmt.Sprint(i)
	}
	src := "recorded during training"
	if r.NormsFrom == "checkpoints" {
		src = "computed from the checkpoints and the final adapter"
	}
	p.w("<p>Frobenius norm of each module's update s·B·A (the amount LoRA adds to W), per layer (rows) after each recorded step (columns), %s. One colour scale for all module types, so the brightest cells are where the model changed most.</p>\n<div class=grid>\n", esc(src))
	for _, kind := range order {
		z := make([][]float64, maxLayer+1)
		for i := range z {
			z[i] = make([]float64, len(r.Norms))
			for j := range z[i] {
				z[i][j] = math.NaN()
			}
		}
		for _, m := range r.Adapter.Modules {
			if m.Kind != kind || m.Layer < 0 {
				continue
			}
			for j, nr := range r.Norms {
				if v, ok := nr.Norms[m.Name]; ok {
					z[m.Layer][j] = v
				}
			}
		}
		hm := heatmap{
			id: "norms-" + kind, title: "‖s·B·A‖_F of " + kind + " by layer and step",
			xlabel: "optimizer step", ylabel: "layer", clabel: "‖s·B·A‖_F",
			z: z, xticks: stepTicks(steps, 8), yticks: spreadTicks(layers, 16),
			cmap: viridis, lo: 0, hi: hi,
			plotW: 480, plotH: math.Min(420, math.Max(90, float64(len(z))*18)),
		}
		if anyNaN(z) {
			hm.note = "grey: layer not adapted"
		}
		p.fig("norms-"+kind+".svg", fmt.Sprintf("‖s·B·A‖_F of the %s modules: rows are layers, columns the recorded steps.", kind), hm.svg())
	}
	p.w("</div>\n")
	// The most adapted modules.
	mods := append([]*Module(nil), r.Adapter.Modules...)
	sort.SliceStable(mods, func(i, j int) bool { return mods[i].Norm > mods[j].Norm })
	mods = mods[:min(len(mods), 8)]
	p.w("<table><tr><th>most adapted modules (final adapter)</th><th>‖s·B·A‖_F</th><th>‖W‖_F</th><th>‖s·B·A‖_F / ‖W‖_F</th></tr>\n")
	for _, m := range mods {
		wn, rel := "–", "–"
		if w, ok := b.weight(m.Name); ok {
			n := frobenius(w)
			wn, rel = short(n), short(m.Norm/n)
		}
		p.w("<tr><td><code>%s</code></td><td class=n>%s</td><td class=n>%s</td><td class=n>%s</td></tr>\n", esc(m.Name), short(m.Norm), wn, rel)
	}
	p.w("</table>\n")
}

func anyNaN(z [][]float64) bool {
	for _, r := range z {
		for _, v := range r {
			if math.IsNaN(v) {
				return true
			}
		}
	}
	return false
}

// kindRank orders module types as they appear in a decoder layer.
func kindRank(k string) int {
	for i, n := range model.LinearKinds() {
		if k == n {
			return i
		}
	}
	return 100
}

func frobenius(m tensor.Mat) float64 {
	row := make([]float32, m.Cols)
	var s float64
	for i := 0; i < m.Rows; i++ {
		for _, v := range m.Row(i, row) {
			s += float64(v) * float64(v)
		}
	}
	return math.Sqrt(s)
}

// pickModule finds the module named (a full name or a unique part of
// one), or the one with the largest update.
func pickModule(a *Adapter, want string) (*Module, error) {
	if want == "" {
		best := a.Modules[0]
		for _, m := range a.Modules {
			if m.Norm > best.Norm {
				best = m
			}
		}
		return best, nil
	}
	var hits []*Module
	for _, m := range a.Modules {
		if m.Name == want {
			return m, nil
		}
		if strings.Contains(m.Name, want) {
			hits = append(hits, m)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	var names []string
	for _, m := range a.Modules[:min(4, len(a.Modules))] {
		names = append(names, m.Name)
	}
	if len(hits) == 0 {
		return nil, fmt.Errorf("--module %q matches no module of the adapter (e.g. %s)", want, strings.Join(names, ", "))
	}
	names = names[:0]
	for _, m := range hits[:min(4, len(hits))] {
		names = append(names, m.Name)
	}
	return nil, fmt.Errorf("--module %q matches %d modules (%s…); name one", want, len(hits), strings.Join(names, ", "))
}

// module shows one module up close: the histogram of W against s·B·A and
// the matrices.
func (p *page) module(b *base, want string) {
	a := p.run.Adapter
	m, err := pickModule(a, want)
	if err != nil {
		b.notes = append(b.notes, err.Error())
		m, _ = pickModule(a, "")
	}
	s := a.Scale
	r, out, in := m.A.Rows, m.B.Rows, m.A.Cols
	why := "The module with the largest update (choose another with <code>golora report --module NAME</code>)"
	if want != "" && err == nil {
		why = "Chosen with --module"
	}
	p.w("<h2>One module up close: <code>%s</code></h2>\n<p>%s. ", esc(m.Name), why)
	p.w("W is %d×%d = %s values, frozen; A is %d×%d = %s and B is %d×%d = %s trainable values (together %s%% of W); the update s·B·A has rank ≤ %d, s = %s.</p>\n",
		out, in, human.Count(out*in), r, in, human.Count(r*in), out, r, human.Count(out*r), short(100*float64(r*(in+out))/float64(out*in)), r, short(s))
	delta := func(i, j int) float64 {
		var d float64
		for k := 0; k < r; k++ {
			d += float64(m.B.F32[i*r+k]) * float64(m.A.F32[k*in+j])
		}
		return s * d
	}
	w, haveW := b.weight(m.Name)
	if haveW && (w.Rows != out || w.Cols != in) {
		b.notes = append(b.notes, fmt.Sprintf("base weight of %s is %d×%d, the adapter needs %d×%d: wrong base model?", m.Name, w.Rows, w.Cols, out, in))
		haveW = false
	}
	// Histogram over (a sample of) the rows.
	kr := max(1, (out*in+(1<<22)-1)/(1<<22))
	var dv, wv []float32
	var dn, wn float64
	for i := 0; i < out; i += kr {
		for j := 0; j < in; j++ {
			d := delta(i, j)
			dv = append(dv, float32(d))
			dn += d * d
			if haveW {
				x := float64(w.At(i, j))
				wv = append(wv, float32(x))
				wn += x * x
			}
		}
	}
	sets := []histSet{{name: "s·B·A", values: dv, color: "#d62728"}}
	caption := ""
	if haveW {
		sets = append([]histSet{{name: "W", values: wv, color: "#1f77b4"}}, sets...)
		caption = fmt.Sprintf("‖s·B·A‖_F / ‖W‖_F = %s", short(math.Sqrt(dn)/math.Sqrt(wn)))
	}
	if kr > 1 {
		caption += fmt.Sprintf(" (every %s row)", ordinal(kr))
	}
	title := "|entries| of W and of the update s·B·A"
	if !haveW {
		title = "|entries| of the update s·B·A (base weight not available)"
	}
	p.fig("histogram.svg", "Magnitudes of the entries of the frozen weight W and of the LoRA update s·B·A that training added to it, both axes log scale; dashed lines: medians. The further left the red histogram, the smaller the perturbation of W.",
		magnitudeHistogram("hist", title, sets, strings.TrimSpace(caption)))
	A := matrix{title: "A (trainable)", sub: human.Count(r*in) + " trainable", rows: r, cols: in, at: func(i, j int) float64 { return float64(m.A.F32[i*in+j]) }}
	B := matrix{title: "B (trainable)", sub: human.Count(out*r) + " trainable", rows: out, cols: r, at: func(i, j int) float64 { return float64(m.B.F32[i*r+j]) }}
	D := matrix{title: "s·B·A (the update)", sub: fmt.Sprintf("rank ≤ %d, s = %s", r, short(s)), rows: out, cols: in, at: delta}
	rows := [][]matrixGroup{{{B}, {A}, {D}}}
	if haveW {
		W := matrix{title: "W (frozen)", sub: human.Count(out*in) + " frozen", rows: out, cols: in, at: func(i, j int) float64 { return float64(w.At(i, j)) }}
		WD := matrix{title: "W + s·B·A (merged)", sub: "same colour scale as W", rows: out, cols: in,
			at: func(i, j int) float64 { return float64(w.At(i, j)) + delta(i, j) }}
		rows = append([][]matrixGroup{{{W, WD}}}, rows...)
	}
	p.fig("matrices.svg", "The matrices of the module, each with its shape and trainable count; blue negative, red positive, colour range ± the 99th percentile of |entries|. W and W + s·B·A share one scale, so what differs between them is what LoRA changed.",
		matrixFigure("mats", "Matrices of "+m.Name, rows, 260))
}

// paramTable lists the trainable parameters by module type.
func (p *page) paramTable(b *base) {
	a := p.run.Adapter
	type row struct {
		kind       string
		n          int
		layers     []int
		aShape     string
		bShape     string
		per, total int
		sameShapes bool
	}
	byKind := map[string]*row{}
	var order []string
	total := 0
	for _, m := range a.Modules {
		rw := byKind[m.Kind]
		per := m.A.Rows*m.A.Cols + m.B.Rows*m.B.Cols
		as, bs := fmt.Sprintf("%d×%d", m.A.Rows, m.A.Cols), fmt.Sprintf("%d×%d", m.B.Rows, m.B.Cols)
		if rw == nil {
			rw = &row{kind: m.Kind, aShape: as, bShape: bs, per: per, sameShapes: true}
			byKind[m.Kind] = rw
			order = append(order, m.Kind)
		}
		rw.n++
		rw.total += per
		rw.sameShapes = rw.sameShapes && rw.aShape == as && rw.bShape == bs
		if m.Layer >= 0 {
			rw.layers = append(rw.layers, m.Layer)
		}
		total += per
	}
	sort.Slice(order, func(i, j int) bool {
		return kindRank(order[i]) < kindRank(order[j]) || kindRank(order[i]) == kindRank(order[j]) && order[i] < order[j]
	})
	p.w("<h2>Trainable parameters</h2>\n<table><tr><th>module type</th><th>modules</th><th>layers</th><th>A</th><th>B</th><th>per module</th><th>total</th></tr>\n")
	for _, k := range order {
		rw := byKind[k]
		per := human.Count(rw.per)
		if !rw.sameShapes {
			rw.aShape, rw.bShape, per = "varies", "varies", "–"
		}
		p.w("<tr><td><code>%s</code></td><td class=n>%d</td><td>%s</td><td>%s</td><td>%s</td><td class=n>%s</td><td class=n>%s</td></tr>\n",
			esc(k), rw.n, esc(ranges(rw.layers)), rw.aShape, rw.bShape, per, human.Count(rw.total))
	}
	p.w("<tr><th>all</th><th class=n>%d</th><th></th><th></th><th></th><th></th><th class=n>%s</th></tr>\n</table>\n", len(a.Modules), human.Count(total))
	baseN := b.params
	if p.run.Info != nil && p.run.Info.BaseParams > 0 {
		baseN = p.run.Info.BaseParams
	}
	if baseN > 0 {
		all := baseN + total
		p.w("<p><code>trainable params: %s || all params: %s || trainable%%: %.4f</code> (PEFT's count; the base model's %s weights are frozen and get no gradient buffers).</p>\n",
			human.Count(total), human.Count(all), 100*float64(total)/float64(all), human.Count(baseN))
	}
}

// ranges formats sorted layer numbers as 0–5, 8.
func ranges(xs []int) string {
	if len(xs) == 0 {
		return "–"
	}
	sort.Ints(xs)
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] <= xs[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, fmt.Sprint(xs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d–%d", xs[i], xs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// settings lists the run's options (flag names) and environment.
func (p *page) settings() {
	r := p.run
	p.w("<h2>Settings</h2>\n")
	if r.Options == nil {
		p.w("<p>Not recorded (no %s and no checkpoint).</p>\n", runlog.RunFile)
		return
	}
	p.w("<table>\n")
	v := reflect.ValueOf(*r.Options)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		val := fmt.Sprint(v.Field(i).Interface())
		if v.Field(i).Kind() == reflect.Slice && v.Field(i).Len() == 0 {
			val = "all"
		}
		p.w("<tr><td><code>--%s</code></td><td>%s</td></tr>\n", esc(name), esc(val))
	}
	if ri := r.Info; ri != nil {
		for _, kv := range [][2]string{
			{"total steps", fmt.Sprint(ri.TotalSteps)}, {"padded sequence length", fmt.Sprint(ri.SeqLen)},
			{"norms recorded every", human.Plural(ri.NormEvery, "step")}, {"threads", fmt.Sprint(ri.Threads)},
			{"started", ri.Started}, {"Go", ri.GoVersion + " " + ri.Platform},
		} {
			p.w("<tr><td>%s</td><td>%s</td></tr>\n", esc(kv[0]), esc(kv[1]))
		}
	}
	p.w("</table>\n")
}

// metric writes a count as 1.2k, 3.4M, 7.1B.
func metric(v float64) string {
	for _, u := range []struct {
		f float64
		s string
	}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.f {
			return fmt.Sprintf("%.3g%s", v/u.f, u.s)
		}
	}
	return fmt.Sprintf("%g", v)
}
