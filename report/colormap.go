package report

import (
	"image/color"
	"math"
)

// colormap is a piecewise-linear colour scale over [0, 1].
type colormap []color.RGBA

// viridis (sequential, matplotlib's), for magnitudes.
var viridis = colormap{
	{0x44, 0x01, 0x54, 0xff}, {0x48, 0x28, 0x78, 0xff}, {0x3e, 0x49, 0x89, 0xff}, {0x31, 0x68, 0x8e, 0xff},
	{0x26, 0x82, 0x8e, 0xff}, {0x1f, 0x9e, 0x89, 0xff}, {0x35, 0xb7, 0x79, 0xff}, {0x6e, 0xce, 0x58, 0xff},
	{0xfd, 0xe7, 0x25, 0xff},
}

// diverging (ColorBrewer RdBu reversed: blue negative, white 0, red
// positive), for signed weights on a symmetric range.
var diverging = colormap{
	{0x05, 0x30, 0x61, 0xff}, {0x21, 0x66, 0xac, 0xff}, {0x43, 0x93, 0xc3, 0xff}, {0x92, 0xc5, 0xde, 0xff},
	{0xd1, 0xe5, 0xf0, 0xff}, {0xf7, 0xf7, 0xf7, 0xff}, {0xfd, 0xdb, 0xc7, 0xff}, {0xf4, 0xa5, 0x82, 0xff},
	{0xd6, 0x60, 0x4d, 0xff}, {0xb2, 0x18, 0x2b, 0xff}, {0x67, 0x00, 0x1f, 0xff},
}

// at returns the colour at t, clamped to [0, 1].
func (cm colormap) at(t float64) color.RGBA {
	if !(t > 0) {
		t = 0
	}
	t = math.Min(t, 1)
	f := t * float64(len(cm)-1)
	i := min(int(f), len(cm)-2)
	u := f - float64(i)
	a, b := cm[i], cm[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + u*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// isDark reports whether white text reads better than black on c.
func isDark(c color.RGBA) bool {
	return 0.299*float64(c.R)+0.587*float64(c.G)+0.114*float64(c.B) < 128
}

// reversed is the colour map run backwards.
func (cm colormap) reversed() colormap {
	out := make(colormap, len(cm))
	for i, c := range cm {
		out[len(cm)-1-i] = c
	}
	return out
}
