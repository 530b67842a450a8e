package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

func random(r *rand.Rand, m, n int) Mat {
	a := New(m, n)
	for i := range a.Data {
		a.Data[i] = r.NormFloat64()
	}
	return a
}

func maxDiff(t *testing.T, what string, a, b Mat, tol float64) {
	t.Helper()
	if a.Rows != b.Rows || a.Cols != b.Cols {
		t.Fatalf("%s: shapes %d×%d and %d×%d", what, a.Rows, a.Cols, b.Rows, b.Cols)
	}
	for i := range a.Data {
		if d := math.Abs(a.Data[i] - b.Data[i]); d > tol {
			t.Fatalf("%s: element %d differs by %g (%g vs %g)", what, i, d, a.Data[i], b.Data[i])
		}
	}
}

func identity(n int) Mat {
	m := New(n, n)
	for i := 0; i < n; i++ {
		m.Set(i, i, 1)
	}
	return m
}

func TestQR(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][2]int{{7, 3}, {3, 7}, {5, 5}, {1, 4}} {
		a := random(r, sh[0], sh[1])
		q, rr := QR(a)
		k := min(sh[0], sh[1])
		if q.Rows != sh[0] || q.Cols != k || rr.Rows != k || rr.Cols != sh[1] {
			t.Fatalf("%v: Q %d×%d R %d×%d", sh, q.Rows, q.Cols, rr.Rows, rr.Cols)
		}
		maxDiff(t, "QR reconstructs", Mul(q, rr), a, 1e-12)
		maxDiff(t, "QᵀQ = I", Mul(q.T(), q), identity(k), 1e-12)
		for i := 0; i < k; i++ {
			for j := 0; j < i; j++ {
				if rr.At(i, j) != 0 {
					t.Fatalf("%v: R(%d,%d) = %g below the diagonal", sh, i, j, rr.At(i, j))
				}
			}
		}
	}
	// A rank-deficient matrix (a zero column and a repeated one) keeps Q orthonormal.
	a := random(r, 6, 4)
	for i := 0; i < 6; i++ {
		a.Set(i, 1, 0)
		a.Set(i, 3, a.At(i, 0))
	}
	q, rr := QR(a)
	maxDiff(t, "rank-deficient QR reconstructs", Mul(q, rr), a, 1e-12)
	maxDiff(t, "rank-deficient QᵀQ = I", Mul(q.T(), q), identity(4), 1e-12)
}

func TestSVD(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][2]int{{8, 5}, {5, 8}, {6, 6}, {1, 3}} {
		a := random(r, sh[0], sh[1])
		u, s, v := SVD(a)
		k := min(sh[0], sh[1])
		if u.Rows != sh[0] || u.Cols != k || len(s) != k || v.Rows != sh[1] || v.Cols != k {
			t.Fatalf("%v: U %d×%d, %d values, V %d×%d", sh, u.Rows, u.Cols, len(s), v.Rows, v.Cols)
		}
		us := New(u.Rows, k)
		for i := 0; i < u.Rows; i++ {
			for j := 0; j < k; j++ {
				us.Set(i, j, u.At(i, j)*s[j])
			}
		}
		maxDiff(t, "U·S·Vᵀ reconstructs", Mul(us, v.T()), a, 1e-12)
		maxDiff(t, "UᵀU = I", Mul(u.T(), u), identity(k), 1e-12)
		maxDiff(t, "VᵀV = I", Mul(v.T(), v), identity(k), 1e-12)
		for j := 1; j < k; j++ {
			if s[j] > s[j-1] || s[j] < 0 {
				t.Fatalf("%v: singular values not sorted non-negative: %v", sh, s)
			}
		}
	}
}

// TestSVDDiagonal checks a case known in closed form: a diagonal matrix
// with entries of mixed sign and order has their absolute values, sorted,
// as singular values.
func TestSVDDiagonal(t *testing.T) {
	d := []float64{1, -5, 3, 0.5}
	a := New(4, 4)
	for i, x := range d {
		a.Set(i, i, x)
	}
	_, s, _ := SVD(a)
	want := []float64{5, 3, 1, 0.5}
	for i := range want {
		if math.Abs(s[i]-want[i]) > 1e-14 {
			t.Fatalf("singular values %v, want %v", s, want)
		}
	}
}
