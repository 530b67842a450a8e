package serve

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/golora/golora/lora"
	"github.com/golora/golora/model"
)

// adapter is one loaded adapter: its modules on the model, its default
// scale, and how many requests use it (it is detached only when none do).
type adapter struct {
	la       *lora.Adapter
	scale    float32
	users    int
	removing bool
	idle     chan struct{} // closed when removing and no request uses it
}

// adapterName is what an adapter's id may be made of.
var adapterName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// attach loads the adapter in dir onto the model as name. It runs before
// the scheduler starts or on the scheduler's goroutine (the model is
// changed).
func (s *Server) attach(name, dir string, scale float32) error {
	if !adapterName.MatchString(name) {
		return fmt.Errorf("adapter name %q: use letters, digits and . _ : - (at most 128)", name)
	}
	s.mu.Lock()
	_, dup := s.adapters[name]
	s.mu.Unlock()
	if dup || name == s.cfg.Name {
		return fmt.Errorf("adapter name %q is already served", name)
	}
	cfg, err := lora.LoadConfig(filepath.Join(dir, lora.ConfigFile))
	if err != nil {
		return err
	}
	if cfg.DoRA {
		return fmt.Errorf("adapter %q (%s): DoRA adapters cannot be served (batched decoding adds plain LoRA terms per row); merge it into the base with golora merge and serve that", name, dir)
	}
	la, err := lora.Load(dir, s.m, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.adapters[name] = &adapter{la: la, scale: scale, idle: make(chan struct{})}
	s.order = append(s.order, name)
	s.mu.Unlock()
	return nil
}

// adapterRef is one entry of a request's "adapters" field.
type adapterRef struct {
	Name  string   `json:"name"`
	Scale *float32 `json:"scale"`
}

// resolve turns a request's "model" (the base or one adapter at its
// default scale) and "adapters" fields into the Selection to decode with,
// and takes a use of each adapter in it: give them back with release.
func (s *Server) resolve(id string, refs []adapterRef) (model.Selection, []string, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sel := model.Selection{}
	if id != s.cfg.Name {
		a := s.adapters[id]
		if a == nil || a.removing {
			return nil, nil, errorf(http.StatusNotFound, "invalid_request_error", "model",
				"model %q is not served; the models are %s", id, strings.Join(s.modelsLocked(), ", "))
		}
		sel[id] = a.scale
	}
	for i, r := range refs {
		a := s.adapters[r.Name]
		if a == nil || a.removing {
			return nil, nil, errorf(http.StatusNotFound, "invalid_request_error", fmt.Sprintf("adapters[%d].name", i),
				"adapter %q is not loaded; the adapters are %s", r.Name, strings.Join(s.order, ", "))
		}
		sel[r.Name] = a.scale
		if r.Scale != nil {
			sel[r.Name] = *r.Scale
		}
	}
	names := make([]string, 0, len(sel))
	for n := range sel {
		s.adapters[n].users++
		names = append(names, n)
	}
	return sel, names, nil
}

func (s *Server) modelsLocked() []string { return append([]string{s.cfg.Name}, s.order...) }

// release gives back the uses resolve took.
func (s *Server) release(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		a := s.adapters[n]
		a.users--
		if a.removing && a.users == 0 {
			close(a.idle)
		}
	}
}

// confine resolves rel inside root: rel must be relative, without "..",
// and neither it nor the adapter files in it may lead out of root through
// a symbolic link.
func confine(root, rel string) (string, error) {
	if rel == "" || filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`) {
		return "", errors.New("path must be relative to the adapters directory")
	}
	if slices.Contains(strings.FieldsFunc(rel, func(r rune) bool { return r == '/' || r == '\\' }), "..") {
		return "", errors.New(`path must not contain ".."`)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("adapters directory: %w", err)
	}
	dir := filepath.Join(root, rel)
	for _, p := range []string{dir, filepath.Join(dir, lora.ConfigFile), filepath.Join(dir, lora.WeightsFile)} {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", fmt.Errorf("%s: no PEFT adapter there (%s and %s)", rel, lora.ConfigFile, lora.WeightsFile)
		}
		if r, err := filepath.Rel(realRoot, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("%s leads out of the adapters directory", rel)
		}
	}
	return dir, nil
}

// handleLoadAdapter is POST /v1/adapters {"name", "path", "scale"}.
func (s *Server) handleLoadAdapter(w http.ResponseWriter, r *http.Request) {
	if s.cfg.AdaptersDir == "" {
		writeError(w, errorf(http.StatusForbidden, "permission_error", "", "loading adapters at run time is off: start the server with --adapters-dir"))
		return
	}
	var req struct {
		Name  string   `json:"name"`
		Path  string   `json:"path"`
		Scale *float32 `json:"scale"`
	}
	if e := decodeBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Name == "" {
		writeError(w, invalid("name", "name is required"))
		return
	}
	if req.Path == "" {
		req.Path = req.Name
	}
	dir, err := confine(s.cfg.AdaptersDir, req.Path)
	if err != nil {
		writeError(w, invalid("path", "%v", err))
		return
	}
	scale := float32(1)
	if req.Scale != nil {
		scale = *req.Scale
	}
	if err := s.sched.do(func() error { return s.attach(req.Name, dir, scale) }); err != nil {
		writeError(w, invalid("", "%v", err))
		return
	}
	s.cfg.Log.Printf("loaded adapter %s from %s", req.Name, dir)
	writeJSON(w, http.StatusOK, modelEntry{ID: req.Name, Object: "model", Created: s.created, OwnedBy: "golora", Parent: s.cfg.Name})
}

// handleUnloadAdapter is DELETE /v1/adapters/{name}: the adapter stops
// being offered at once, and is detached when the requests using it have
// finished.
func (s *Server) handleUnloadAdapter(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	a := s.adapters[name]
	if a == nil || a.removing {
		s.mu.Unlock()
		writeError(w, errorf(http.StatusNotFound, "invalid_request_error", "name", "adapter %q is not loaded", name))
		return
	}
	a.removing = true
	if a.users == 0 {
		close(a.idle)
	}
	s.mu.Unlock()
	<-a.idle
	s.sched.do(func() error {
		a.la.Detach(s.m)
		return nil
	})
	s.mu.Lock()
	delete(s.adapters, name)
	s.order = slices.DeleteFunc(s.order, func(n string) bool { return n == name })
	s.mu.Unlock()
	s.cfg.Log.Printf("unloaded adapter %s", name)
	writeJSON(w, http.StatusOK, map[string]any{"id": name, "object": "model", "deleted": true})
}
