package cli

import (
	"io"
	"runtime/debug"
	"strings"
)

func (a *App) runVersion(fs *FlagSet, args []string, stdout, stderr io.Writer) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	bi, _ := debug.ReadBuildInfo()
	_, err := io.WriteString(stdout, versionLine(a.Name, bi)+"\n")
	return err
}

// versionLine describes the build: "golora v1.2.0, revision 0123abcd…
// 2025-11-30T18:09:00Z (modified), go1.26.8". A binary built inside the
// module's own tree has version "(devel)"; one built without version
// control information (go build -buildvcs=false, go test) says "revision
// unknown".
func versionLine(name string, bi *debug.BuildInfo) string {
	version, goVersion := "(devel)", "go version unknown"
	settings := map[string]string{}
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	rev := "revision unknown"
	if r := settings["vcs.revision"]; r != "" {
		rev = "revision " + r
		if t := settings["vcs.time"]; t != "" {
			rev += " " + t
		}
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
	}
	return strings.Join([]string{name + " " + version, rev, goVersion}, ", ")
}
