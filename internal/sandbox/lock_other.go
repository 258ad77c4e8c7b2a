//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package sandbox

import "os"

// lockFile does nothing on systems without flock: there, two sandboxes on
// one directory are not detected.
func lockFile(*os.File) error { return nil }
