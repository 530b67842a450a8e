package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/golora/golora/internal/testref"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// TestAfterTrainingMatchesPyTorch trains adapter_init for the fixture's six
// steps, loads the saved adapter onto the base and compares its logits
// with the reference's logits_after_training and its masked mean loss
// (Σ CE over the targets labels[b][t+1] ≠ -100 / their count) with
// loss_after_training; for the LoRA and the DoRA (dora_train) fixture.
func TestAfterTrainingMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"lora_train", "dora_train"} {
		t.Run(name, func(t *testing.T) { testAfterTrainingMatchesPyTorch(t, testref.DirOf(name)) })
	}
}

func testAfterTrainingMatchesPyTorch(t *testing.T, dir string) {
	r := testref.LoadDir(t, dir)
	var exp struct {
		Logits [][][]float64 `json:"logits_after_training"`
		Loss   float64       `json:"loss_after_training"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	run := refRunIn(t, dir, refConfig(2, 1))
	if err := run.Fit(0); err != nil {
		t.Fatal(err)
	}
	if err := run.SaveWeights(out); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := lora.Load(out, m, "default"); err != nil {
		t.Fatal(err)
	}
	B, T := len(r.IDs), len(r.IDs[0])
	s := m.NewState(B, T, false)
	if err := m.Forward(s, slices.Concat(r.IDs...)); err != nil {
		t.Fatal(err)
	}
	var want []float64
	for _, row := range exp.Logits {
		want = append(want, slices.Concat(row...)...)
	}
	if len(s.Logits) != len(want) {
		t.Fatalf("%d logits, reference has %d", len(s.Logits), len(want))
	}
	var num, den float64
	for i, w := range want {
		num = math.Max(num, math.Abs(float64(s.Logits[i])-w))
		den = math.Max(den, math.Abs(w))
	}
	if num/den > 1e-4 {
		t.Errorf("logits after training: relative error %.3g > 1e-4", num/den)
	}
	t.Logf("logits after training: relative error %.3g", num/den)
	sum, count, err := m.Loss(s, slices.Concat(r.Labels...), 0)
	if err != nil {
		t.Fatal(err)
	}
	if loss := sum / float64(count); math.Abs(loss-exp.Loss) > 1e-4*exp.Loss {
		t.Errorf("loss after training %.7g, reference %.7g", loss, exp.Loss)
	}
}
