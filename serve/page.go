package serve

import (
	_ "embed"
	"net/http"
)

// page is the chat page served at GET /: one HTML file, no outside
// resources.
//
//go:embed page.html
var page []byte

func handlePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
	w.Write(page)
}
