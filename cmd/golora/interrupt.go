package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// interrupts returns a context that the first SIGINT or SIGTERM cancels,
// saying on stderr that the run stops after the current step; a second
// one ends the process at once with exit status 128+signal. signaled
// returns the signal caught (nil: none); release stops listening.
func interrupts(stderr io.Writer) (ctx context.Context, signaled func() os.Signal, release func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var mu sync.Mutex
	var caught os.Signal
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			mu.Lock()
			caught = s
			mu.Unlock()
			fmt.Fprintf(stderr, "\n%v: stopping after this step and saving a checkpoint (again to quit at once)\n", s)
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "\n%v: quitting without saving; the last checkpoint is intact\n", s)
			os.Exit(exitStatus(s))
		case <-done:
		}
	}()
	signaled = func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return caught
	}
	release = func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
	return ctx, signaled, release
}

// exitStatus is the shell's status of a process a signal ended: 128+n
// (130 for SIGINT, 143 for SIGTERM).
func exitStatus(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// resumeCommand is the command line that continues a stopped `golora
// train` run: args without --resume and --resume-from, then --resume, each
// quoted for a POSIX shell where needed.
func resumeCommand(args []string) string {
	words := []string{app.Name, "train"}
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if strings.HasPrefix(args[i], "-") && (name == "resume" || name == "resume-from") {
			if name == "resume-from" && !hasValue {
				i++
			}
			continue
		}
		words = append(words, shellQuote(args[i]))
	}
	return strings.Join(append(words, "--resume"), " ")
}

// shellQuote quotes s for a POSIX shell unless it is made of characters
// that need none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
