// Package buildinfo reports the version of the running binary. Release
// builds set the variables with -ldflags -X (see .goreleaser.yaml); other
// builds fall back to what the Go toolchain recorded.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set at link time by release builds:
//
//	-X github.com/nimbus-sh/nimbus/internal/buildinfo.Version=1.2.3
//	-X github.com/nimbus-sh/nimbus/internal/buildinfo.Commit=abc123
//	-X github.com/nimbus-sh/nimbus/internal/buildinfo.Date=2026-11-29T00:00:00Z
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info is the version of the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the link-time values, completed from the Go build info where
// they were not set (go install, go build, go run).
func Get() Info {
	info := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && info.Commit == "":
				info.Commit = s.Value
			case s.Key == "vcs.time" && info.Date == "":
				info.Date = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	return info
}
