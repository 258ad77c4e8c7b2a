package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time with -ldflags "-X
// github.com/kmigrate/kmigrate/internal/cli.version=v1.2.3"; otherwise it
// comes from the module's build info.
var version = ""

// Version returns kmigrate's version, the VCS revision when known, and the
// franz-go version it was built with.
func Version() string {
	v, rev, franz := version, "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					rev += "-dirty"
				}
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/twmb/franz-go" {
				franz = d.Version
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	s := "kmigrate " + v
	if rev != "" {
		s += " (" + rev + ")"
	}
	s += fmt.Sprintf(" %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if franz != "" {
		s += " franz-go " + franz
	}
	return s
}

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print kmigrate's version",
		Example: "  kmigrate version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, Version())
			return err
		},
	}
}
