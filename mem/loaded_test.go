package mem

import (
	"path/filepath"
	"testing"

	"github.com/golora/golora/internal/testref"
	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// TestLoadedModel checks Held, Generation and Merge on the lora_train
// fixture (float32; hidden 32, 2 layers, 4 heads of 8, 2 KV heads) with
// its adapter on q_proj, v_proj and down_proj, against sizes worked out by
// hand.
func TestLoadedModel(t *testing.T) {
	m, err := model.Load(testref.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got, want := Held(m), int64(4*m.NumParams()); got != want {
		t.Errorf("Held of the base: %d, want %d", got, want)
	}
	a, err := lora.Load(filepath.Join(testref.Dir(), "adapter_init"), m, "default")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Held(m), int64(4*(m.NumParams()+a.NumParams())); got != want {
		t.Errorf("Held with the adapter: %d, want %d", got, want)
	}
	// Each position more in the cache: keys and values of 2 layers × 2 KV
	// heads × 8 floats, and a RoPE cos and sin row of 4.
	if d := Generation(m, 3, 11, 1) - Generation(m, 3, 10, 1); d != 2*2*16*4+2*4*4 {
		t.Errorf("a cache position costs %d bytes, want %d", d, 2*2*16*4+2*4*4)
	}
	// q_proj 32×32, v_proj 16×32 and down_proj 32×48 in each of 2 layers
	// widened to float32; requantize keeps a float32 copy of all 7 linears
	// (q 32×32, k 16×32, v 16×32, o 32×32, gate 48×32, up 48×32, down
	// 32×48) per layer.
	adapted := int64(2 * 4 * (32*32 + 16*32 + 32*48))
	if got := Merge(m, false); got != adapted {
		t.Errorf("Merge: %d, want %d", got, adapted)
	}
	all := int64(2 * 4 * (2*32*32 + 2*16*32 + 3*48*32))
	if got, want := Merge(m, true), adapted+all; got != want {
		t.Errorf("Merge with requantize: %d, want %d", got, want)
	}
}
