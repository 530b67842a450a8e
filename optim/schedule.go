package optim

import (
	"fmt"
	"math"
)

// LR returns the learning rate for the optimizer step that follows step
// steps already taken: base·f(step), where f is the LambdaLR factor of the
// Hugging Face transformers schedule of that kind (torch's LambdaLR applies
// f(s) to the step taken after s scheduler steps). With w = warmup and
// T = total, every kind warms up linearly for s < w,
//
//	f(s) = s / max(1, w)                               (s < w; f(0) = 0)
//
// and afterwards
//
//	"constant": f(s) = 1                               (get_constant_schedule_with_warmup)
//	"linear":   f(s) = max(0, (T − s) / max(1, T − w))  (get_linear_schedule_with_warmup)
//	"cosine":   f(s) = max(0, ½(1 + cos(π·2c·q)))       (get_cosine_schedule_with_warmup, c = ½)
//	            with q = (s − w) / max(1, T − w)
//
// As in transformers, cosine rises again past T (q > 1); a training loop
// stops at T. Negative step, warmup or total, an unknown kind or a non-finite
// base is an error.
func LR(kind string, base float64, step, warmup, total int) (float64, error) {
	if step < 0 || warmup < 0 || total < 0 {
		return 0, fmt.Errorf("optim: schedule %q: negative step %d, warmup %d or total %d", kind, step, warmup, total)
	}
	if math.IsNaN(base) || math.IsInf(base, 0) {
		return 0, fmt.Errorf("optim: schedule %q: learning rate %v", kind, base)
	}
	var f float64
	switch kind {
	case "constant", "linear", "cosine":
	default:
		return 0, fmt.Errorf("optim: unknown schedule %q (want constant, linear or cosine)", kind)
	}
	if step < warmup {
		f = float64(step) / float64(max(1, warmup))
		return base * f, nil
	}
	switch kind {
	case "constant":
		f = 1
	case "linear":
		f = max(0, float64(total-step)/float64(max(1, total-warmup)))
	case "cosine":
		const cycles = 0.5
		q := float64(step-warmup) / float64(max(1, total-warmup))
		// Same association as transformers: ((π·c)·2)·q.
		f = max(0, 0.5*(1+math.Cos(math.Pi*cycles*2*q)))
	}
	return base * f, nil
}
