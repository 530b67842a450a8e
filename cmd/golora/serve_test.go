package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestServeCommand starts `golora serve` on a free port, lists its models,
// and stops it with SIGINT: it exits 0.
func TestServeCommand(t *testing.T) {
	dir := tinyModelWithTokenizer(t)
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var errb strings.Builder
	go func() {
		done <- run([]string{"serve", "--model", dir, "--name", "tiny", "--port", "0"}, pw, &errb)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var url, models string
	for models == "" && lines.Scan() {
		l := lines.Text()
		if u, ok := strings.CutPrefix(l, "golora serve: "); ok && url == "" {
			url = strings.Fields(u)[0]
		}
		if m, ok := strings.CutPrefix(l, "models: "); ok {
			models = m
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" || models != "tiny" {
		t.Fatalf("printed URL %q, models %q; stderr %s", url, models, errb.String())
	}
	resp, err := http.Get(url + "v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Data []struct{ ID string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || len(list.Data) != 1 || list.Data[0].ID != "tiny" {
		t.Errorf("models %+v, %v", list, err)
	}
	resp.Body.Close()
	if resp, err := http.Get(url + "health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("health once loaded: %v %v", resp, err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 {
		t.Errorf("exit %d after SIGINT: %s", code, errb.String())
	}
}

func TestServeRefusesOpenHostWithoutKey(t *testing.T) {
	t.Setenv("GOLORA_API_KEY", "")
	_, errs, code := golora(t, "serve", "--model", "x", "--host", "0.0.0.0")
	if code == 0 || !strings.Contains(errs, "--api-key") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
