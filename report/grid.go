package report

import (
	"math"
)

// Grid is a table of numbers drawn as a heatmap, e.g. validation loss by
// rank (rows) and alpha (columns) of a sweep.
type Grid struct {
	Title, RowLabel, ColLabel, ValueLabel string
	Rows, Cols                            []string    // tick labels
	Z                                     [][]float64 // len(Rows) × len(Cols); NaN: no value
	// LowerIsBetter draws low values bright (reversed viridis).
	LowerIsBetter bool
	// Text, when set, annotates each cell.
	Text func(i, j int) string
	// Mark outlines these cells (row, column) in red, e.g. the best.
	Mark [][2]int
	Note string // a line under the picture
}

// SVG renders the grid with a title, axis labels and a colour bar.
func (g Grid) SVG() []byte {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range g.Z {
		for _, v := range r {
			if finite(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if lo == hi {
		d := math.Max(math.Abs(lo)*0.01, 1e-6)
		lo, hi = lo-d, hi+d
	}
	cm := viridis
	if g.LowerIsBetter {
		cm = viridis.reversed()
	}
	var xt, yt []tick
	for j, c := range g.Cols {
		xt = append(xt, tick{float64(j) + 0.5, c})
	}
	for i, r := range g.Rows {
		yt = append(yt, tick{float64(i) + 0.5, r})
	}
	return heatmap{
		id: "grid", title: g.Title, xlabel: g.ColLabel, ylabel: g.RowLabel, clabel: g.ValueLabel,
		z: g.Z, xticks: xt, yticks: yt, cmap: cm, lo: lo, hi: hi, annotate: g.Text, mark: g.Mark,
		plotW: math.Min(640, math.Max(240, 120*float64(len(g.Cols)))),
		plotH: math.Min(480, math.Max(120, 64*float64(len(g.Rows)))),
		note:  g.Note,
	}.svg()
}
