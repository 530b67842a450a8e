// Package linalg is the small float64 dense linear algebra golora needs to
// recombine low-rank adapters: products, a thin Householder QR and a
// one-sided Jacobi SVD. Matrices are row-major.
package linalg

import (
	"fmt"
	"math"
	"sort"
)

// Mat is a dense row-major Rows×Cols matrix: element (i, j) is Data[i*Cols+j].
type Mat struct {
	Rows, Cols int
	Data       []float64
}

// New returns a zero r×c matrix.
func New(r, c int) Mat { return Mat{Rows: r, Cols: c, Data: make([]float64, r*c)} }

// At is element (i, j).
func (m Mat) At(i, j int) float64 { return m.Data[i*m.Cols+j] }

// Set sets element (i, j).
func (m Mat) Set(i, j int, v float64) { m.Data[i*m.Cols+j] = v }

// T is the transpose, a new Cols×Rows matrix.
func (m Mat) T() Mat {
	t := New(m.Cols, m.Rows)
	for i := 0; i < m.Rows; i++ {
		for j := 0; j < m.Cols; j++ {
			t.Data[j*m.Rows+i] = m.Data[i*m.Cols+j]
		}
	}
	return t
}

// Mul is a·b for a: m×k and b: k×n; it panics on mismatched shapes.
func Mul(a, b Mat) Mat {
	if a.Cols != b.Rows {
		panic(fmt.Sprintf("linalg.Mul: %d×%d times %d×%d", a.Rows, a.Cols, b.Rows, b.Cols))
	}
	c := New(a.Rows, b.Cols)
	for i := 0; i < a.Rows; i++ {
		ci := c.Data[i*b.Cols : (i+1)*b.Cols]
		for p := 0; p < a.Cols; p++ {
			x := a.Data[i*a.Cols+p]
			if x == 0 {
				continue
			}
			for j, y := range b.Data[p*b.Cols : (p+1)*b.Cols] {
				ci[j] += x * y
			}
		}
	}
	return c
}

// Frobenius is ‖m‖_F.
func (m Mat) Frobenius() float64 {
	var s float64
	for _, x := range m.Data {
		s += x * x
	}
	return math.Sqrt(s)
}

// QR is the thin QR factorisation a = Q·R of an m×n matrix by Householder
// reflections: with k = min(m, n), Q is m×k with orthonormal columns and R
// is k×n upper triangular. A rank-deficient a is fine (R has zeros on its
// diagonal; Q stays orthonormal).
func QR(a Mat) (q, r Mat) {
	m, n := a.Rows, a.Cols
	k := min(m, n)
	w := Mat{Rows: m, Cols: n, Data: append([]float64(nil), a.Data...)}
	vs := make([][]float64, k) // Householder vectors, v[j:] used
	for j := 0; j < k; j++ {
		var norm float64
		for i := j; i < m; i++ {
			norm += w.At(i, j) * w.At(i, j)
		}
		norm = math.Sqrt(norm)
		v := make([]float64, m)
		if norm == 0 {
			vs[j] = v // identity reflection
			continue
		}
		alpha := -norm
		if w.At(j, j) < 0 {
			alpha = norm
		}
		for i := j; i < m; i++ {
			v[i] = w.At(i, j)
		}
		v[j] -= alpha
		var vn float64
		for i := j; i < m; i++ {
			vn += v[i] * v[i]
		}
		vn = math.Sqrt(vn)
		for i := j; i < m; i++ {
			v[i] /= vn
		}
		vs[j] = v
		reflect(w, v, j)
	}
	r = New(k, n)
	for i := 0; i < k; i++ {
		for j := i; j < n; j++ {
			r.Set(i, j, w.At(i, j))
		}
	}
	// Q = H_0·H_1·…·H_{k−1} applied to the first k columns of the identity.
	q = New(m, k)
	for i := 0; i < k; i++ {
		q.Set(i, i, 1)
	}
	for j := k - 1; j >= 0; j-- {
		reflect(q, vs[j], j)
	}
	return q, r
}

// reflect applies H = I − 2·v·vᵀ (v unit or zero, nonzero from row from)
// to m from the left.
func reflect(m Mat, v []float64, from int) {
	for c := 0; c < m.Cols; c++ {
		var d float64
		for i := from; i < m.Rows; i++ {
			d += v[i] * m.At(i, c)
		}
		if d == 0 {
			continue
		}
		for i := from; i < m.Rows; i++ {
			m.Data[i*m.Cols+c] -= 2 * d * v[i]
		}
	}
}

// SVD is the thin singular value decomposition a = U·diag(S)·Vᵀ of an m×n
// matrix by one-sided Jacobi rotations (Hestenes), in float64: with
// k = min(m, n), U is m×k, S has k entries sorted in decreasing order, V is
// n×k. Columns of U and V are orthonormal, except that a column of U whose
// singular value is exactly zero is zero.
func SVD(a Mat) (u Mat, s []float64, v Mat) {
	if a.Rows < a.Cols {
		v, s, u = SVD(a.T())
		return u, s, v
	}
	m, n := a.Rows, a.Cols
	w := a.T() // column j of a is row j of w
	vt := New(n, n)
	for i := 0; i < n; i++ {
		vt.Set(i, i, 1)
	}
	const eps = 1e-15
	for sweep := 0; sweep < 60; sweep++ {
		rotated := false
		for p := 0; p < n-1; p++ {
			for q := p + 1; q < n; q++ {
				wp, wq := w.Data[p*m:(p+1)*m], w.Data[q*m:(q+1)*m]
				var alpha, beta, gamma float64
				for i := range wp {
					alpha += wp[i] * wp[i]
					beta += wq[i] * wq[i]
					gamma += wp[i] * wq[i]
				}
				if gamma == 0 || math.Abs(gamma) <= eps*math.Sqrt(alpha*beta) {
					continue
				}
				rotated = true
				zeta := (beta - alpha) / (2 * gamma)
				t := math.Copysign(1, zeta) / (math.Abs(zeta) + math.Sqrt(1+zeta*zeta))
				c := 1 / math.Sqrt(1+t*t)
				sn := c * t
				rotate(wp, wq, c, sn)
				rotate(vt.Data[p*n:(p+1)*n], vt.Data[q*n:(q+1)*n], c, sn)
			}
		}
		if !rotated {
			break
		}
	}
	norms := make([]float64, n)
	order := make([]int, n)
	for j := range norms {
		var x float64
		for _, y := range w.Data[j*m : (j+1)*m] {
			x += y * y
		}
		norms[j], order[j] = math.Sqrt(x), j
	}
	sort.SliceStable(order, func(x, y int) bool { return norms[order[x]] > norms[order[y]] })
	u, v, s = New(m, n), New(n, n), make([]float64, n)
	for k, j := range order {
		s[k] = norms[j]
		for i := 0; i < m; i++ {
			if s[k] > 0 {
				u.Set(i, k, w.Data[j*m+i]/s[k])
			}
		}
		for i := 0; i < n; i++ {
			v.Set(i, k, vt.Data[j*n+i])
		}
	}
	return u, s, v
}

// rotate replaces (x, y) by (c·x − s·y, s·x + c·y) elementwise.
func rotate(x, y []float64, c, s float64) {
	for i := range x {
		a, b := x[i], y[i]
		x[i], y[i] = c*a-s*b, s*a+c*b
	}
}
