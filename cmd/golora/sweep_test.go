package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets sweep and compare re-execute this test binary as golora:
// with GOLORA_TEST_AS_CLI=1 it runs the command line instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("GOLORA_TEST_AS_CLI") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// patternData writes n pre-tokenized sequences (ids below 64) that a
// model can learn: each token is the previous plus 3.
func patternData(t *testing.T, path string, n int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		s := rng.IntN(60)
		ids := make([]int, 10)
		for j := range ids {
			ids[j] = (s + 3*j) % 64
		}
		line, _ := json.Marshal(map[string]any{"input_ids": ids})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// childSetup makes data and lets the children run as this binary.
func childSetup(t *testing.T) (dir, trainFile, validFile string) {
	t.Helper()
	t.Setenv("GOLORA_TEST_AS_CLI", "1")
	dir = t.TempDir()
	return dir, patternData(t, filepath.Join(dir, "train.jsonl"), 12, 1), patternData(t, filepath.Join(dir, "valid.jsonl"), 4, 2)
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func TestSweep(t *testing.T) {
	dir, tr, va := childSetup(t)
	out := filepath.Join(dir, "sweep")
	stdout, errs, code := golora(t, "sweep", "--model", filepath.Join(ref, "lora_train"), "--data", tr, "--valid", va,
		"--out", out, "--ranks", "2,4", "--alphas", "4,16", "--steps", "3", "--lr", "0.01", "--batch-size", "4", "--targets", "q_proj,v_proj")
	if code != 0 {
		t.Fatalf("sweep: exit %d\n%s", code, errs)
	}
	rows := readCSV(t, filepath.Join(out, "sweep.csv"))
	if len(rows) != 4 {
		t.Fatalf("sweep.csv has %d rows, want 4 (2 ranks × 2 alphas)", len(rows))
	}
	params := map[string]int{}
	bestLoss, best := 1e300, ""
	nbest := 0
	for _, r := range rows {
		loss, err := strconv.ParseFloat(r["valid_loss"], 64)
		if err != nil || !(loss > 0) {
			t.Errorf("row %v: no validation loss", r)
		}
		if loss < bestLoss {
			bestLoss, best = loss, r["rank"]+"/"+r["alpha"]
		}
		if r["best"] == "true" {
			nbest++
			if r["rank"]+"/"+r["alpha"] != best && loss != bestLoss {
				t.Errorf("best row %v is not the lowest loss", r)
			}
		}
		n, _ := strconv.Atoi(r["trainable_params"])
		params[r["rank"]] = n
		if rss, _ := strconv.ParseInt(r["peak_rss_bytes"], 10, 64); rss <= 0 && isLinux() {
			t.Errorf("row %v: no peak RSS", r)
		}
		if b, _ := strconv.Atoi(r["adapter_bytes"]); b <= 0 {
			t.Errorf("row %v: no adapter size", r)
		}
		if tps, _ := strconv.ParseFloat(r["tokens_per_sec"], 64); !(tps > 0) {
			t.Errorf("row %v: no tokens/s", r)
		}
		if _, err := os.Stat(filepath.Join(r["dir"], "adapter_model.safetensors")); err != nil {
			t.Errorf("row %v: no adapter saved", r)
		}
	}
	if nbest != 1 {
		t.Errorf("%d rows marked best", nbest)
	}
	// q_proj 32→32 and v_proj 32→16 in 2 layers: r·(32+32) + r·(32+16) per layer.
	if params["2"] != 2*2*(64+48) || params["4"] != 2*params["2"] {
		t.Errorf("trainable params by rank: %v", params)
	}
	if !strings.Contains(stdout, "← best") || !strings.Contains(stdout, "valid loss") {
		t.Errorf("no text table on stdout:\n%s", stdout)
	}
	txt, _ := os.ReadFile(filepath.Join(out, "sweep.txt"))
	if !strings.Contains(string(txt), "← best") {
		t.Errorf("sweep.txt:\n%s", txt)
	}
	svg, err := os.ReadFile(filepath.Join(out, "sweep.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Errorf("sweep.svg is not XML: %v", err)
	}
	for _, want := range []string{"Validation loss by LoRA rank and alpha", "rank r", "alpha", "best (red outline)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("sweep.svg lacks %q", want)
		}
	}
}

func isLinux() bool {
	_, err := os.Stat("/proc/self/status")
	return err == nil
}

func TestSweepErrors(t *testing.T) {
	dir, tr, va := childSetup(t)
	m := filepath.Join(ref, "lora_train")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--valid", va, "--ranks", "2,x"}, "--ranks"},
		{[]string{"--valid", va, "--alphas", "-1"}, "--alphas"},
		{nil, "--valid"},
		{[]string{"--valid", va, "--full"}, "--full"},
		{[]string{"--valid", va, "--lr-schedule", "zigzag"}, "zigzag"},
	} {
		args := append([]string{"sweep", "--model", m, "--data", tr, "--out", filepath.Join(dir, "o"), "--steps", "1"}, tc.args...)
		_, errs, code := golora(t, args...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errs, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); err == nil {
		t.Error("a refused sweep created its output directory")
	}
	// A run that fails is reported, and the sweep says so.
	_, errs, code := golora(t, "sweep", "--model", m, "--data", tr, "--valid", va, "--out", filepath.Join(dir, "f"),
		"--steps", "1", "--ranks", "2", "--alphas", "4", "--targets", "nonexistent_proj")
	if code == 0 || !strings.Contains(errs, "nonexistent_proj") || !strings.Contains(errs, "1 of 1 training run failed") {
		t.Errorf("failed child: exit %d, stderr %q", code, errs)
	}
	if rows := readCSV(t, filepath.Join(dir, "f", "sweep.csv")); len(rows) != 1 || rows[0]["error"] == "" {
		t.Errorf("the failed run is not in sweep.csv: %v", rows)
	}
}

func TestCompare(t *testing.T) {
	dir, tr, va := childSetup(t)
	out := filepath.Join(dir, "cmp")
	stdout, errs, code := golora(t, "compare", "--model", filepath.Join(ref, "lora_train"), "--data", tr, "--valid", va,
		"--out", out, "--steps", "3", "--lr", "0.01", "--batch-size", "4", "--json")
	if code != 0 {
		t.Fatalf("compare: exit %d\n%s", code, errs)
	}
	var rows []compareRow
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	var got []string
	by := map[string]compareRow{}
	for _, r := range rows {
		got = append(got, r.Method)
		by[r.Method] = r
		if r.Error != "" || r.ValidLoss == nil || r.Perplexity == nil || r.TokensPerSec <= 0 || r.SavedBytes <= 0 || (isLinux() && r.PeakRSSBytes <= 0) {
			t.Errorf("%s: incomplete row %+v", r.Method, r)
		}
	}
	if fmt.Sprint(got) != "[full lora qlora]" {
		t.Fatalf("methods %v, want full, lora, qlora", got)
	}
	const baseParams = 19616 // testdata/ref/lora_train
	if f := by["full"]; f.TrainableParams != baseParams || f.TrainablePercent != 100 || f.Saved != "model" {
		t.Errorf("full fine-tuning row: %+v", f)
	}
	l, q := by["lora"], by["qlora"]
	if l.TrainableParams != 2*8*(64+48) || q.TrainableParams != l.TrainableParams || l.Saved != "adapter" {
		t.Errorf("lora %d, qlora %d trainable params", l.TrainableParams, q.TrainableParams)
	}
	if l.SavedBytes >= by["full"].SavedBytes {
		t.Errorf("the adapter (%d bytes) is not smaller than the full model (%d)", l.SavedBytes, by["full"].SavedBytes)
	}
	if *l.ValidLoss == *q.ValidLoss {
		t.Error("QLoRA's validation loss equals LoRA's: was the base quantized?")
	}
	log, _ := os.ReadFile(filepath.Join(out, "qlora", "train.log"))
	if !strings.Contains(string(log), "quantized") {
		t.Errorf("the qlora run did not quantize the base:\n%s", log)
	}
	if rs := readCSV(t, filepath.Join(out, "compare.csv")); len(rs) != 3 {
		t.Errorf("compare.csv has %d rows", len(rs))
	}
	txt, _ := os.ReadFile(filepath.Join(out, "compare.txt"))
	for _, want := range []string{"peak RSS", "tokens/s", "valid loss", "perplexity", "trainable params", "(adapter)", "(model)"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("compare.txt lacks %q:\n%s", want, txt)
		}
	}
	if _, errs, code := golora(t, "compare", "--model", filepath.Join(ref, "lora_train"), "--data", tr, "--valid", va,
		"--out", out, "--steps", "1", "--methods", "lora,dora"); code == 0 || !strings.Contains(errs, "dora") {
		t.Errorf("unknown method: exit %d, %q", code, errs)
	}
}
