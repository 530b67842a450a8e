package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
	"strings"
)

// canvas accumulates one SVG document. Sizes are in CSS pixels; id
// prefixes the document's element ids so that several pictures can be
// inlined into one HTML page.
type canvas struct {
	b    strings.Builder
	id   string
	w, h float64
}

func newCanvas(id string, w, h float64) *canvas {
	c := &canvas{id: id, w: w, h: h}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`+"\n",
		num(w), num(h), num(w), num(h))
	c.rect(0, 0, w, h, "#ffffff", "")
	return c
}

// bytes closes the document.
func (c *canvas) bytes() []byte {
	c.b.WriteString("</svg>\n")
	return []byte(c.b.String())
}

// num formats a coordinate compactly.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

func (c *canvas) rect(x, y, w, h float64, fill, stroke string) {
	s := ""
	if stroke != "" {
		s = fmt.Sprintf(` stroke="%s"`, stroke)
	}
	fmt.Fprintf(&c.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"%s/>`+"\n", num(x), num(y), num(w), num(h), fill, s)
}

func (c *canvas) line(x1, y1, x2, y2 float64, stroke string, width float64, dash string) {
	d := ""
	if dash != "" {
		d = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	fmt.Fprintf(&c.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`+"\n",
		num(x1), num(y1), num(x2), num(y2), stroke, num(width), d)
}

// text writes s at (x, y) (the baseline); anchor is start, middle or end;
// rotate turns it by −90° about (x, y) (a vertical axis label).
func (c *canvas) text(x, y float64, s string, size float64, anchor string, bold, rotate bool) {
	extra := ""
	if bold {
		extra += ` font-weight="bold"`
	}
	if rotate {
		extra += fmt.Sprintf(` transform="rotate(-90 %s %s)"`, num(x), num(y))
	}
	fmt.Fprintf(&c.b, `<text x="%s" y="%s" font-size="%s" text-anchor="%s" fill="#222"%s>%s</text>`+"\n",
		num(x), num(y), num(size), anchor, extra, html.EscapeString(s))
}

// polyline draws a line through pts; fill "" leaves it open.
func (c *canvas) polyline(pts [][2]float64, stroke string, width float64, dash, fill string) {
	if len(pts) == 0 {
		return
	}
	var sb strings.Builder
	for i, p := range pts {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(num(p[0]) + "," + num(p[1]))
	}
	d := ""
	if dash != "" {
		d = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	f := "none"
	if fill != "" {
		f = fill
	}
	tag := "polyline"
	if fill != "" {
		tag = "polygon"
	}
	fmt.Fprintf(&c.b, `<%s points="%s" fill="%s" stroke="%s" stroke-width="%s" stroke-linejoin="round"%s/>`+"\n",
		tag, sb.String(), f, stroke, num(width), d)
}

func (c *canvas) circle(x, y, r float64, fill, stroke string) {
	fmt.Fprintf(&c.b, `<circle cx="%s" cy="%s" r="%s" fill="%s" stroke="%s"/>`+"\n", num(x), num(y), num(r), fill, stroke)
}

// image embeds img as a PNG data URI stretched over the rectangle, drawn
// with hard pixel edges.
func (c *canvas) image(x, y, w, h float64, img image.Image) {
	var buf bytes.Buffer
	png.Encode(&buf, img) // cannot fail writing to memory
	fmt.Fprintf(&c.b, `<image x="%s" y="%s" width="%s" height="%s" preserveAspectRatio="none" style="image-rendering:pixelated;image-rendering:crisp-edges" href="data:image/png;base64,%s"/>`+"\n",
		num(x), num(y), num(w), num(h), base64.StdEncoding.EncodeToString(buf.Bytes()))
}

// axis maps data values in [min, max] (log10 of them when log) to pixels
// in [lo, hi].
type axis struct {
	min, max float64
	log      bool
	lo, hi   float64
}

func (a axis) px(v float64) float64 {
	mn, mx := a.min, a.max
	if a.log {
		v, mn, mx = math.Log10(v), math.Log10(mn), math.Log10(mx)
	}
	if mx == mn {
		return (a.lo + a.hi) / 2
	}
	return a.lo + (v-mn)/(mx-mn)*(a.hi-a.lo)
}

// ticks returns about n round values inside the axis range, and the step
// between them (0 on a log axis, whose ticks are powers of ten).
func (a axis) ticks(n int) ([]float64, float64) {
	if a.log {
		var out []float64
		lo, hi := math.Floor(math.Log10(a.min)), math.Ceil(math.Log10(a.max))
		stride := math.Max(1, math.Ceil((hi-lo)/float64(n)))
		for e := lo; e <= hi; e += stride {
			if v := math.Pow(10, e); v >= a.min*(1-1e-9) && v <= a.max*(1+1e-9) {
				out = append(out, v)
			}
		}
		return out, 0
	}
	for try := 0; ; try++ {
		step := niceStep((a.max - a.min) / float64(max(n, 1)))
		if step == 0 {
			return []float64{a.min}, 0
		}
		var out []float64
		dec := decimals(step)
		for k := math.Ceil(a.min/step - 1e-9); k*step <= a.max+step*1e-9; k++ {
			v, _ := strconv.ParseFloat(strconv.FormatFloat(k*step, 'f', dec+1, 64), 64)
			if v == 0 {
				v = 0 // not −0
			}
			out = append(out, v)
		}
		if len(out) >= 3 || try == 3 {
			return out, step
		}
		n *= 2 // too few round values inside the range: finer steps
	}
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if !(x > 0) || math.IsInf(x, 0) {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// niceRange widens [lo, hi] to round ends (for a linear axis).
func niceRange(lo, hi float64, n int) (float64, float64) {
	if lo == hi {
		if lo == 0 {
			return 0, 1
		}
		d := math.Abs(lo) * 0.1
		lo, hi = lo-d, hi+d
	}
	s := niceStep((hi - lo) / float64(n))
	return math.Floor(lo/s+1e-9) * s, math.Ceil(hi/s-1e-9) * s
}

// tickLabel formats a tick value: plain decimals when they are short,
// scientific notation (2e-4) for tiny or huge values or log axes.
func tickLabel(v, step float64) string {
	if v == 0 {
		return "0"
	}
	av := math.Abs(v)
	if step == 0 || av >= 1e5 || av < 1e-3 || step < 1e-3 {
		return sci(v)
	}
	return strconv.FormatFloat(v, 'f', decimals(step), 64)
}

// decimals is the number of decimal places that write multiples of step
// exactly (0.25 → 2, 5 → 0).
func decimals(step float64) int {
	for d := 0; d < 12; d++ {
		x := step * math.Pow(10, float64(d))
		if math.Abs(x-math.Round(x)) < 1e-6*x {
			return d
		}
	}
	return 12
}

// sci formats v as 2.5e-4 / 1e6 (at most three significant digits).
func sci(v float64) string {
	s := strconv.FormatFloat(v, 'e', 2, 64)
	mant, exp, _ := strings.Cut(s, "e")
	if strings.Contains(mant, ".") {
		mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
	}
	e, _ := strconv.Atoi(exp)
	if e == 0 {
		return mant
	}
	return mant + "e" + strconv.Itoa(e)
}

// short formats a value for annotations and captions with 4 significant
// digits.
func short(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	av := math.Abs(v)
	if av != 0 && (av < 1e-3 || av >= 1e6) {
		return sci(v)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// plotArea is a chart frame: the data rectangle and its axes.
type plotArea struct {
	x, y, w, h float64
	xa, ya     axis
}

// frame draws the title, the axes with ticks, grid lines and labels.
func (c *canvas) frame(p plotArea, title, xlabel, ylabel string) {
	c.text(c.w/2, 22, title, 15, "middle", true, false)
	c.rect(p.x, p.y, p.w, p.h, "#ffffff", "#888")
	xt, xs := p.xa.ticks(6)
	for _, v := range xt {
		x := p.xa.px(v)
		c.line(x, p.y, x, p.y+p.h, "#e4e4e4", 1, "")
		c.line(x, p.y+p.h, x, p.y+p.h+5, "#555", 1, "")
		c.text(x, p.y+p.h+18, tickLabel(v, xs), 11, "middle", false, false)
	}
	yt, ys := p.ya.ticks(5)
	for _, v := range yt {
		y := p.ya.px(v)
		c.line(p.x, y, p.x+p.w, y, "#e4e4e4", 1, "")
		c.line(p.x-5, y, p.x, y, "#555", 1, "")
		c.text(p.x-8, y+4, tickLabel(v, ys), 11, "end", false, false)
	}
	c.rect(p.x, p.y, p.w, p.h, "none", "#666")
	c.text(p.x+p.w/2, p.y+p.h+38, xlabel, 13, "middle", false, false)
	c.text(p.x-52, p.y+p.h/2, ylabel, 13, "middle", false, true)
}

// series is one line of a line chart.
type series struct {
	name    string
	x, y    []float64
	color   string
	width   float64
	markers bool
	dash    string
}

// lineChart draws series over a shared x axis with a legend; logY uses a
// log scale on y (only positive values are drawn), fromZero starts a
// linear y axis at 0.
func lineChart(id, title, xlabel, ylabel string, ss []series, logY, fromZero bool) []byte {
	const W, H = 720.0, 340.0
	c := newCanvas(id, W, H)
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for i := range s.x {
			if !finite(s.y[i]) || (logY && s.y[i] <= 0) {
				continue
			}
			xmin, xmax = math.Min(xmin, s.x[i]), math.Max(xmax, s.x[i])
			ymin, ymax = math.Min(ymin, s.y[i]), math.Max(ymax, s.y[i])
		}
	}
	if math.IsInf(xmin, 0) {
		c.text(W/2, 22, title, 15, "middle", true, false)
		c.text(W/2, H/2, "no data", 13, "middle", false, false)
		return c.bytes()
	}
	if xmin == xmax {
		xmin, xmax = xmin-1, xmax+1
	}
	p := plotArea{x: 80, y: 40, w: W - 80 - 24, h: H - 40 - 58}
	if logY {
		if ymin == ymax {
			ymin, ymax = ymin/2, ymax*2
		}
		p.ya = axis{min: ymin, max: ymax, log: true, lo: p.y + p.h, hi: p.y}
	} else {
		if fromZero {
			ymin = math.Min(0, ymin)
		}
		lo, hi := niceRange(ymin, ymax, 5)
		p.ya = axis{min: lo, max: hi, lo: p.y + p.h, hi: p.y}
	}
	p.xa = axis{min: xmin, max: xmax, lo: p.x, hi: p.x + p.w}
	c.frame(p, title, xlabel, ylabel)
	for _, s := range ss {
		var pts [][2]float64
		for i := range s.x {
			if !finite(s.y[i]) || (logY && s.y[i] <= 0) {
				continue
			}
			pts = append(pts, [2]float64{p.xa.px(s.x[i]), p.ya.px(s.y[i])})
		}
		c.polyline(pts, s.color, s.width, s.dash, "")
		if s.markers {
			for _, q := range pts {
				c.circle(q[0], q[1], 3.5, s.color, "#fff")
			}
		}
	}
	// Legend, top right inside the plot.
	n := 0
	for _, s := range ss {
		if s.name != "" {
			n++
		}
	}
	if n > 0 {
		lw, lx, ly := 210.0, p.x+p.w-214, p.y+6
		c.b.WriteString(fmt.Sprintf(`<rect x="%s" y="%s" width="%s" height="%s" fill="#ffffff" fill-opacity="0.85" stroke="#bbb"/>`+"\n",
			num(lx), num(ly), num(lw), num(float64(n)*18+8)))
		i := 0
		for _, s := range ss {
			if s.name == "" {
				continue
			}
			yy := ly + 16 + float64(i)*18
			c.line(lx+8, yy-4, lx+34, yy-4, s.color, math.Max(2, s.width), s.dash)
			if s.markers {
				c.circle(lx+21, yy-4, 3.5, s.color, "#fff")
			}
			c.text(lx+40, yy, s.name, 12, "start", false, false)
			i++
		}
	}
	return c.bytes()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// raster paints a rows×cols grid as an image with every cell sx×sy pixels;
// NaN cells are light grey.
func raster(z [][]float64, cm colormap, lo, hi float64, sx, sy int) image.Image {
	rows, cols := len(z), len(z[0])
	img := image.NewRGBA(image.Rect(0, 0, cols*sx, rows*sy))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			col := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
			if v := z[i][j]; finite(v) {
				t := 0.5
				if hi > lo {
					t = (v - lo) / (hi - lo)
				}
				col = cm.at(t)
			}
			for y := i * sy; y < (i+1)*sy; y++ {
				for x := j * sx; x < (j+1)*sx; x++ {
					img.SetRGBA(x, y, col)
				}
			}
		}
	}
	return img
}

// cells draws grid z into the rectangle (x, y, w, h) as a raster image.
func (c *canvas) cells(x, y, w, h float64, z [][]float64, cm colormap, lo, hi float64) {
	if len(z) == 0 || len(z[0]) == 0 {
		return
	}
	rows, cols := len(z), len(z[0])
	// Cells drawn a few pixels wide are painted that size into the image,
	// so that any viewer shows hard edges; smaller ones stay one pixel.
	sx, sy := 1, 1
	if cw := w / float64(cols); cw >= 3 {
		sx = int(math.Ceil(cw))
	}
	if ch := h / float64(rows); ch >= 3 {
		sy = int(math.Ceil(ch))
	}
	// Keep the embedded image small: the browser scales it up crisply.
	for cols*sx*rows*sy > 1<<20 && (sx > 1 || sy > 1) {
		sx, sy = max(1, sx/2), max(1, sy/2)
	}
	c.image(x, y, w, h, raster(z, cm, lo, hi, sx, sy))
	c.rect(x, y, w, h, "none", "#666")
}

// colorbar draws a vertical colour scale at (x, y) of height h with ticks
// and a label on its right.
func (c *canvas) colorbar(x, y, h float64, cm colormap, lo, hi float64, label string) {
	const w = 14.0
	z := make([][]float64, 128)
	for i := range z {
		z[i] = []float64{hi - (hi-lo)*(float64(i)+0.5)/float64(len(z))}
	}
	c.image(x, y, w, h, raster(z, cm, lo, hi, 1, 1))
	c.rect(x, y, w, h, "none", "#666")
	a := axis{min: lo, max: hi, lo: y + h, hi: y}
	if lo == hi {
		a.min, a.max = lo-1, hi+1
	}
	ts, step := a.ticks(max(2, int(h/40)))
	for _, v := range ts {
		yy := a.px(v)
		c.line(x+w, yy, x+w+4, yy, "#555", 1, "")
		c.text(x+w+6, yy+4, tickLabel(v, step), 10, "start", false, false)
	}
	if label != "" {
		c.text(x+w+58, y+h/2, label, 11, "middle", false, true)
	}
}

// tick is a labelled position on a heatmap axis, in cell units (0.5 is the
// centre of the first cell).
type tick struct {
	pos   float64
	label string
}

// heatmap is a titled grid with labelled axes and a colour bar.
type heatmap struct {
	id, title, xlabel, ylabel, clabel string
	z                                 [][]float64 // rows × cols, NaN: no value
	xticks, yticks                    []tick
	cmap                              colormap
	lo, hi                            float64
	annotate                          func(i, j int) string // optional text in cells
	mark                              [][2]int              // cells to outline
	plotW, plotH                      float64
	note                              string // a line under the plot
}

func (hm heatmap) svg() []byte {
	rows, cols := len(hm.z), 0
	if rows > 0 {
		cols = len(hm.z[0])
	}
	left, top, right, bottom := 84.0, 40.0, 96.0, 60.0
	if hm.note != "" {
		bottom += 18
	}
	W, H := left+hm.plotW+right, top+hm.plotH+bottom
	// Widen the picture for a long title or note (about 0.6 em a character).
	need := math.Max(float64(len([]rune(hm.title)))*15*0.62, float64(len([]rune(hm.note)))*11*0.6) + 24
	if need > W {
		left += (need - W) / 2
		W = need
	}
	c := newCanvas(hm.id, W, H)
	c.text(W/2, 22, hm.title, 15, "middle", true, false)
	if rows == 0 || cols == 0 {
		c.text(W/2, H/2, "no data", 13, "middle", false, false)
		return c.bytes()
	}
	x0, y0 := left, top
	cw, ch := hm.plotW/float64(cols), hm.plotH/float64(rows)
	c.cells(x0, y0, hm.plotW, hm.plotH, hm.z, hm.cmap, hm.lo, hm.hi)
	for _, t := range hm.xticks {
		x := x0 + t.pos*cw
		c.line(x, y0+hm.plotH, x, y0+hm.plotH+5, "#555", 1, "")
		c.text(x, y0+hm.plotH+18, t.label, 11, "middle", false, false)
	}
	for _, t := range hm.yticks {
		y := y0 + t.pos*ch
		c.line(x0-5, y, x0, y, "#555", 1, "")
		c.text(x0-8, y+4, t.label, 11, "end", false, false)
	}
	if hm.annotate != nil {
		size := math.Min(13, math.Min(cw/4.5, ch/1.8))
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				s := hm.annotate(i, j)
				if s == "" {
					continue
				}
				fill := "#111"
				if v := hm.z[i][j]; finite(v) && isDark(hm.cmap.at((v-hm.lo)/(hm.hi-hm.lo))) {
					fill = "#fff"
				}
				fmt.Fprintf(&c.b, `<text x="%s" y="%s" font-size="%s" text-anchor="middle" fill="%s">%s</text>`+"\n",
					num(x0+(float64(j)+0.5)*cw), num(y0+(float64(i)+0.5)*ch+size/3), num(size), fill, html.EscapeString(s))
			}
		}
	}
	for _, m := range hm.mark {
		fmt.Fprintf(&c.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#e8112d" stroke-width="3"/>`+"\n",
			num(x0+float64(m[1])*cw+1.5), num(y0+float64(m[0])*ch+1.5), num(cw-3), num(ch-3))
	}
	c.text(x0+hm.plotW/2, y0+hm.plotH+40, hm.xlabel, 13, "middle", false, false)
	c.text(x0-54, y0+hm.plotH/2, hm.ylabel, 13, "middle", false, true)
	if hm.note != "" {
		c.text(W/2, y0+hm.plotH+60, hm.note, 11, "middle", false, false)
	}
	c.colorbar(x0+hm.plotW+16, y0, hm.plotH, hm.cmap, hm.lo, hm.hi, hm.clabel)
	return c.bytes()
}

// spreadTicks picks at most n evenly spaced labels out of labels (one per
// cell), always including the first and the last.
func spreadTicks(labels []string, n int) []tick {
	if len(labels) == 0 {
		return nil
	}
	stride := max(1, int(math.Ceil(float64(len(labels))/float64(n))))
	var out []tick
	for i := 0; i < len(labels); i += stride {
		out = append(out, tick{float64(i) + 0.5, labels[i]})
	}
	if last := len(labels) - 1; out[len(out)-1].pos != float64(last)+0.5 {
		if len(out) > 1 && float64(last)-out[len(out)-1].pos < float64(stride)/2 {
			out = out[:len(out)-1]
		}
		out = append(out, tick{float64(last) + 0.5, labels[last]})
	}
	return out
}

// stepTicks labels the columns whose step (increasing) is a multiple of a
// round interval, about n of them, and the last column.
func stepTicks(steps []int, n int) []tick {
	if len(steps) == 0 {
		return nil
	}
	every := max(1, int(niceStep(float64(steps[len(steps)-1]-steps[0])/float64(n))))
	var out []tick
	lastStep := math.MinInt
	for j, s := range steps {
		if s%every == 0 && s >= lastStep+every {
			out = append(out, tick{float64(j) + 0.5, fmt.Sprint(s)})
			lastStep = s
		}
	}
	last := len(steps) - 1
	if len(out) == 0 || out[len(out)-1].pos != float64(last)+0.5 {
		if len(out) > 0 && steps[last]-lastStep < every/2 {
			out = out[:len(out)-1]
		}
		out = append(out, tick{float64(last) + 0.5, fmt.Sprint(steps[last])})
	}
	return out
}
