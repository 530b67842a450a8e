package serve

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPageInBrowser drives the chat page at / in headless Chromium: it
// picks the pirate adapter, sends a message, and waits for the streamed
// answer and the tokens/s figure; the answer is the text the API gives
// for the same greedy request. With $GOLORA_PAGE_SCREENSHOT set, a
// screenshot of the page is saved there. Skipped where no Chromium or
// Chrome is installed.
func TestPageInBrowser(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no chromium binary")
	}
	f := newFixture(t)
	_, ts := f.start(t, nil)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1000, 700))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	defer cancel()

	const msg = "Hello there"
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitReady(`#model option[value="pirate"]`),
		chromedp.SetValue(`#model`, "pirate"),
		chromedp.SetValue(`#temp`, "0"),
		chromedp.SetValue(`#max`, "24"),
		chromedp.SendKeys(`#input`, msg),
		chromedp.Click(`#send`),
		chromedp.Poll[chromedp.Void](`document.querySelector(".assistant") !== null && !document.querySelector("#send").disabled &&
			document.querySelector("#stats").textContent.includes("tokens/s")`),
	)
	if err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({
		who: document.querySelector(".assistant .who").textContent,
		answer: document.querySelector(".assistant").lastChild.textContent,
		stats: document.querySelector("#stats").textContent})`))
	if err != nil {
		t.Fatal(err)
	}
	who, answer, stats := page["who"], page["answer"], page["stats"]
	if path := os.Getenv("GOLORA_PAGE_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: a PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out := post(t, ts.URL+"/v1/chat/completions", map[string]any{"model": "pirate", "temperature": 0, "max_tokens": 24,
		"messages": []map[string]string{{"role": "user", "content": msg}}})
	want := ""
	if ch, ok := out["choices"].([]any); ok && len(ch) == 1 {
		want, _ = ch[0].(map[string]any)["message"].(map[string]any)["content"].(string)
	}
	if code != 200 || who != "pirate" || answer == "" || answer != want {
		t.Errorf("page: %q answered %q; the API (%d) answers %q", who, answer, code, want)
	}
	if !strings.Contains(stats, " tokens, first after ") {
		t.Errorf("stats %q", stats)
	}
}
