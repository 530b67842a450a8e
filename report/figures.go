package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/golora/golora/internal/human"
)

// histSet is one population of a histogram.
type histSet struct {
	name   string
	values []float32
	color  string
}

// magnitudeHistogram draws the distribution of |x| of every set over
// log-spaced bins (log x axis) with counts on a log y axis, and each set's
// median as a dashed line. Zeros, which have no logarithm, are counted in
// the legend.
func magnitudeHistogram(id, title string, sets []histSet, caption string) []byte {
	const W, H, nbins = 720.0, 380.0, 60
	c := newCanvas(id, W, H)
	lo, hi := math.Inf(1), 0.0
	for _, s := range sets {
		for _, v := range s.values {
			a := math.Abs(float64(v))
			if a > 0 && finite(a) {
				lo, hi = math.Min(lo, a), math.Max(hi, a)
			}
		}
	}
	if hi == 0 {
		c.text(W/2, 22, title, 15, "middle", true, false)
		c.text(W/2, H/2, "every entry is zero", 13, "middle", false, false)
		return c.bytes()
	}
	if lo == hi {
		lo, hi = lo/2, hi*2
	}
	llo, lhi := math.Log10(lo), math.Log10(hi)
	width := (lhi - llo) / nbins
	counts := make([][]float64, len(sets))
	zeros := make([]int, len(sets))
	medians := make([]float64, len(sets))
	maxCount := 1.0
	for k, s := range sets {
		counts[k] = make([]float64, nbins)
		abs := make([]float64, 0, len(s.values))
		for _, v := range s.values {
			a := math.Abs(float64(v))
			if !(a > 0) || !finite(a) {
				zeros[k]++
				continue
			}
			abs = append(abs, a)
			b := min(nbins-1, max(0, int((math.Log10(a)-llo)/width)))
			counts[k][b]++
		}
		for _, n := range counts[k] {
			maxCount = math.Max(maxCount, n)
		}
		sort.Float64s(abs)
		medians[k] = math.NaN()
		if len(abs) > 0 {
			medians[k] = abs[len(abs)/2]
		}
	}
	p := plotArea{x: 80, y: 40, w: W - 80 - 24, h: H - 40 - 78}
	p.xa = axis{min: math.Pow(10, llo), max: math.Pow(10, lhi), log: true, lo: p.x, hi: p.x + p.w}
	p.ya = axis{min: 0.8, max: maxCount * 1.6, log: true, lo: p.y + p.h, hi: p.y}
	c.frame(p, title, "|entry| (log scale)", "number of entries (log scale)")
	for k, s := range sets {
		var pts [][2]float64
		pts = append(pts, [2]float64{p.xa.px(math.Pow(10, llo)), p.y + p.h})
		for b, n := range counts[k] {
			y := p.y + p.h
			if n > 0 {
				y = p.ya.px(n)
			}
			x0, x1 := p.xa.px(math.Pow(10, llo+float64(b)*width)), p.xa.px(math.Pow(10, llo+float64(b+1)*width))
			pts = append(pts, [2]float64{x0, y}, [2]float64{x1, y})
		}
		pts = append(pts, [2]float64{p.x + p.w, p.y + p.h})
		var sb strings.Builder
		for i, q := range pts {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(num(q[0]) + "," + num(q[1]))
		}
		fmt.Fprintf(&c.b, `<polygon points="%s" fill="%s" fill-opacity="0.35" stroke="%s" stroke-width="1.5"/>`+"\n",
			sb.String(), s.color, s.color)
		if m := medians[k]; finite(m) {
			x := p.xa.px(m)
			c.line(x, p.y, x, p.y+p.h, s.color, 2, "6,4")
		}
	}
	// Legend.
	lx, ly := p.x+p.w-300, p.y+6
	fmt.Fprintf(&c.b, `<rect x="%s" y="%s" width="296" height="%s" fill="#ffffff" fill-opacity="0.85" stroke="#bbb"/>`+"\n",
		num(lx), num(ly), num(float64(len(sets))*18+8))
	for k, s := range sets {
		yy := ly + 16 + float64(k)*18
		c.rect(lx+8, yy-10, 22, 10, s.color, s.color)
		label := fmt.Sprintf("%s: median %s", s.name, short(medians[k]))
		if zeros[k] > 0 {
			label += ", " + human.Plural(zeros[k], "zero") + " not shown"
		}
		c.text(lx+36, yy, label, 12, "start", false, false)
	}
	if caption != "" {
		c.text(p.x+p.w/2, H-12, caption, 12, "middle", false, false)
	}
	return c.bytes()
}

// matrix is one matrix of the module figure, sampled for display.
type matrix struct {
	title, sub string
	rows, cols int
	at         func(i, j int) float64 // the full matrix's entries
}

// sample picks every kr-th row and kc-th column so that neither side shows
// more than limit cells.
func (m matrix) sample(limit int) (z [][]float64, kr, kc int) {
	kr, kc = (m.rows+limit-1)/limit, (m.cols+limit-1)/limit
	for i := 0; i < m.rows; i += kr {
		row := make([]float64, 0, m.cols/kc+1)
		for j := 0; j < m.cols; j += kc {
			row = append(row, m.at(i, j))
		}
		z = append(z, row)
	}
	return z, kr, kc
}

// absQuantile returns the q-quantile of |z| over the sampled entries, or
// the largest |z| when that is 0.
func absQuantile(z [][]float64, q float64) float64 {
	var a []float64
	for _, r := range z {
		for _, v := range r {
			if finite(v) {
				a = append(a, math.Abs(v))
			}
		}
	}
	if len(a) == 0 {
		return 1
	}
	sort.Float64s(a)
	v := a[min(len(a)-1, int(q*float64(len(a))))]
	if v == 0 {
		v = a[len(a)-1]
	}
	if v == 0 {
		v = 1
	}
	return v
}

// matrixGroup is matrices drawn on one colour scale.
type matrixGroup []matrix

// matrixFigure draws each group of matrices side by side with a shared,
// symmetric colour bar (±the 99th percentile of |entries| of the first
// matrix), groups in rows of at most perRow groups. Matrices keep their
// aspect ratio; the long side of the largest is box pixels.
func matrixFigure(id, title string, rows [][]matrixGroup, box float64) []byte {
	const limit = 256
	longest := 1
	for _, r := range rows {
		for _, g := range r {
			for _, m := range g {
				longest = max(longest, m.rows, m.cols)
			}
		}
	}
	scale := box / float64(longest)
	size := func(m matrix) (float64, float64) {
		return math.Max(12, float64(m.cols)*scale), math.Max(12, float64(m.rows)*scale)
	}
	const gap, cbw, head, foot = 28.0, 96.0, 40.0, 52.0
	// Measure.
	W, H := 0.0, 40.0
	for _, r := range rows {
		w, h := gap, 0.0
		for _, g := range r {
			for _, m := range g {
				mw, mh := size(m)
				w += math.Max(mw, 150) + gap
				h = math.Max(h, mh)
			}
			w += cbw
		}
		W, H = math.Max(W, w), H+head+h+foot
	}
	c := newCanvas(id, W, H)
	c.text(W/2, 22, title, 15, "middle", true, false)
	y := 40.0
	for _, r := range rows {
		rowH := 0.0
		for _, g := range r {
			for _, m := range g {
				_, mh := size(m)
				rowH = math.Max(rowH, mh)
			}
		}
		x := gap
		for _, g := range r {
			var lim float64
			for k, m := range g {
				mw, mh := size(m)
				slot := math.Max(mw, 150)
				z, kr, kc := m.sample(limit)
				if k == 0 {
					lim = absQuantile(z, 0.99)
				}
				mx := x + (slot-mw)/2
				my := y + head
				c.text(x+slot/2, y+head-22, m.title, 13, "middle", true, false)
				c.text(x+slot/2, y+head-7, fmt.Sprintf("%d×%d", m.rows, m.cols), 11, "middle", false, false)
				c.cells(mx, my, mw, mh, z, diverging, -lim, lim)
				sub := m.sub
				c.text(x+slot/2, my+mh+16, sub, 11, "middle", false, false)
				if note := strideNote(kr, kc); note != "" {
					c.text(x+slot/2, my+mh+30, note, 10, "middle", false, false)
				}
				x += slot + gap
				if k == len(g)-1 {
					c.colorbar(x-gap+8, my, math.Max(rowH, 60), diverging, -lim, lim, "value (±p99)")
					x += cbw
				}
			}
		}
		y += head + rowH + foot
	}
	return c.bytes()
}

// strideNote says which rows and columns a sampled matrix shows.
func strideNote(kr, kc int) string {
	switch {
	case kr == 1 && kc == 1:
		return ""
	case kr == kc:
		return "every " + ordinal(kr) + " row and column shown"
	case kc == 1:
		return "every " + ordinal(kr) + " row shown"
	case kr == 1:
		return "every " + ordinal(kc) + " column shown"
	}
	return "every " + ordinal(kr) + " row, " + ordinal(kc) + " column shown"
}

func ordinal(n int) string {
	suf := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suf = "st"
	case n%10 == 2:
		suf = "nd"
	case n%10 == 3:
		suf = "rd"
	}
	return fmt.Sprintf("%d%s", n, suf)
}
