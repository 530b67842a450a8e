//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/runlog"
	"github.com/golora/golora/safetensors"
)

// child is golora train running as a child process (this test binary,
// re-executed by TestMain).
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	return startChildEnv(t, nil, args...)
}

// startChildEnv starts a child with env added to its environment.
func startChildEnv(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...)}
	c.cmd.Env = append(append(os.Environ(), "GOLORA_TEST_AS_CLI=1"), env...)
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// wait returns the child's exit status.
func (c *child) wait(t *testing.T) int {
	t.Helper()
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return c.cmd.ProcessState.ExitCode()
}

// waitForSteps waits until out/metrics.jsonl holds at least n lines.
func waitForSteps(t *testing.T, out string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		raw, _ := os.ReadFile(filepath.Join(out, runlog.MetricsFile))
		if bytes.Count(raw, []byte("\n")) >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("no %d metrics lines in %s", n, out)
}

// waitForCheckpoint waits until out holds a complete checkpoint of step n
// or later.
func waitForCheckpoint(t *testing.T, out string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if step, _ := runlog.LatestCheckpoint(out); step >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no checkpoint of step %d in %s", n, out)
}

// sameAdapter fails unless the adapter weights in a and b are equal byte for byte.
func sameAdapter(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(filepath.Join(a, lora.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(filepath.Join(b, lora.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s differs from %s", b, a)
	}
}

// checkLoads fails unless every complete checkpoint in out, and out's
// adapter if it has one, loads: the PEFT adapter, every optimizer tensor,
// trainer_state.json. It returns the checkpoints' steps.
func checkLoads(t *testing.T, out string) []int {
	t.Helper()
	steps, err := runlog.Checkpoints(out)
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{}
	for _, s := range steps {
		dirs = append(dirs, runlog.CheckpointDir(out, s))
	}
	if _, err := os.Stat(filepath.Join(out, lora.WeightsFile)); err == nil {
		dirs = append(dirs, out)
	}
	for _, dir := range dirs {
		if _, err := lora.ReadDir(dir); err != nil {
			t.Errorf("adapter: %v", err)
		}
		if dir == out {
			continue
		}
		f, err := safetensors.Open(filepath.Join(dir, "optimizer.safetensors"))
		if err != nil {
			t.Errorf("optimizer: %v", err)
			continue
		}
		for _, n := range f.Names() {
			tt, _ := f.Tensor(n)
			if _, err := tt.F32(); err != nil {
				t.Errorf("%s: %s: %v", f.Path(), n, err)
			}
		}
		f.Close()
		var st map[string]any
		raw, err := os.ReadFile(filepath.Join(dir, runlog.TrainerStateFile))
		if err == nil {
			err = json.Unmarshal(raw, &st)
		}
		if err != nil {
			t.Errorf("trainer state: %v", err)
		}
	}
	return steps
}

// TestInterruptSavesAndResumes sends real SIGINT and SIGTERM to golora
// train: it finishes the step, writes a checkpoint and the adapter, prints
// the command that resumes, and exits 130 (143); that command completes
// the run bit for bit as an uninterrupted one.
func TestInterruptSavesAndResumes(t *testing.T) {
	dir, data, _ := childSetup(t)
	const steps = 1500 // far more than the steps made before the signal lands
	full := filepath.Join(dir, "full")
	if _, errs, code := golora(t, trainArgs(data, full, steps)...); code != 0 {
		t.Fatalf("uninterrupted run: %s", errs)
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			c := startChild(t, trainArgs(data, out, steps)...)
			waitForSteps(t, out, 1)
			c.cmd.Process.Signal(tc.sig)
			if code := c.wait(t); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, c.stderr.String())
			}
			saved := checkLoads(t, out)
			if len(saved) != 1 || saved[0] >= steps {
				t.Fatalf("checkpoints %v after the interrupt", saved)
			}
			ri, err := runlog.ReadRunInfo(filepath.Join(out, runlog.RunFile))
			if err != nil || ri.Status != "stopped" {
				t.Errorf("run.json: %+v, %v", ri, err)
			}
			errs := c.stderr.String()
			want := fmt.Sprintf("stopped after step %d of %d", saved[0], steps)
			_, resume, ok := strings.Cut(errs, "to resume:\n  ")
			if !strings.Contains(errs, want) || !ok {
				t.Fatalf("stderr does not say %q and how to resume:\n%s", want, errs)
			}
			// The printed command, run as printed, completes the run.
			words := strings.Fields(strings.TrimSpace(resume))
			if words[0] != "golora" || words[len(words)-1] != "--resume" {
				t.Fatalf("resume command %q", resume)
			}
			if _, errs, code := golora(t, words[1:]...); code != 0 {
				t.Fatalf("resume: %s", errs)
			}
			sameAdapter(t, full, out)
		})
	}
}

// TestSecondInterruptQuitsAtOnce: a second SIGINT during the step the
// first one waits for ends the process at once, without saving; the
// checkpoint saved before stays loadable.
func TestSecondInterruptQuitsAtOnce(t *testing.T) {
	dir, data, _ := childSetup(t)
	out := filepath.Join(dir, "out")
	// Steps of 200×20 sequences: long enough to signal twice within one.
	cmd := exec.Command(os.Args[0], trainArgs(data, out, 1000, "--save-every", "1", "--batch-size", "200", "--grad-accum", "20")...)
	cmd.Env = append(os.Environ(), "GOLORA_TEST_AS_CLI=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForCheckpoint(t, out, 1)
	cmd.Process.Signal(syscall.SIGINT)
	var log bytes.Buffer
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "stopping after this step") {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, log.String())
	}
	if !strings.Contains(log.String(), "quitting without saving") || strings.Contains(log.String(), "stopped after step") {
		t.Errorf("stderr:\n%s", log.String())
	}
	if saved := checkLoads(t, out); len(saved) == 0 || saved[0] != 1 {
		t.Errorf("checkpoints %v, want the one of step 1", saved)
	}
}

// TestKillNineResumes kills `golora train --save-every 1` with SIGKILL at
// random moments, resuming it each time: everything on disk loads after
// every kill, and the finished adapter equals an uninterrupted run's bit
// for bit. $GOLORA_KILLS sets the number of kills (default 3;
// scripts/kill9.sh runs 20).
func TestKillNineResumes(t *testing.T) {
	kills := 3
	if n, err := strconv.Atoi(os.Getenv("GOLORA_KILLS")); err == nil && n > 0 {
		kills = n
	}
	dir, data, _ := childSetup(t)
	steps := 20 + 10*kills
	full := filepath.Join(dir, "full")
	if _, errs, code := golora(t, trainArgs(data, full, steps)...); code != 0 {
		t.Fatalf("uninterrupted run: %s", errs)
	}
	out := filepath.Join(dir, "out")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var at []string
	partial := 0
	for k := 0; k < kills; k++ {
		before, _ := runlog.LatestCheckpoint(out)
		c := startChild(t, trainArgs(data, out, steps, "--save-every", "1", "--resume")...)
		waitForCheckpoint(t, out, before+1)
		time.Sleep(time.Duration(rng.IntN(30000)) * time.Microsecond)
		c.cmd.Process.Kill()
		if code := c.wait(t); code != -1 {
			t.Fatalf("kill %d: the run ended by itself (exit %d) before the kill:\n%s", k+1, code, c.stderr.String())
		}
		saved := checkLoads(t, out)
		last := 0
		if len(saved) > 0 {
			last = saved[len(saved)-1]
		}
		at = append(at, strconv.Itoa(last))
		if tmp, _ := runlog.Temporaries(out); len(tmp) > 0 {
			partial++ // a write the kill cut short, removed by the next run
		}
	}
	c := startChild(t, trainArgs(data, out, steps, "--save-every", "1", "--resume")...)
	if code := c.wait(t); code != 0 {
		t.Fatalf("final resume: exit %d\n%s", code, c.stderr.String())
	}
	checkLoads(t, out)
	if tmp, _ := runlog.Temporaries(out); len(tmp) > 0 {
		t.Errorf("temporaries left: %v", tmp)
	}
	sameAdapter(t, full, out)
	t.Logf("%d kills -9 of a %d-step run; newest checkpoint after each kill: %s; %d kills cut a write short (its temporary removed by the next run, nothing damaged); the resumed adapter equals the uninterrupted run's bit for bit",
		kills, steps, strings.Join(at, ", "), partial)
}

// TestOneWriterPerOutput: a second golora train into the directory that a
// running one writes is refused naming the first process; once that one
// is killed (-9), its lock does not block.
func TestOneWriterPerOutput(t *testing.T) {
	dir, data, _ := childSetup(t)
	out := filepath.Join(dir, "out")
	c := startChild(t, trainArgs(data, out, 1000000)...)
	waitForSteps(t, out, 1)
	_, errs, code := golora(t, trainArgs(data, out, 2)...)
	want := fmt.Sprintf("%s is being written by process %d (%s train", out, c.cmd.Process.Pid, os.Args[0])
	if code != 1 || !strings.Contains(errs, want) {
		t.Errorf("second writer: exit %d, %q; want it refused with %q", code, errs, want)
	}
	c.cmd.Process.Kill()
	c.wait(t)
	if _, errs, code := golora(t, trainArgs(data, out, 2)...); code != 0 {
		t.Errorf("after the first writer was killed: %s", errs)
	}
}
