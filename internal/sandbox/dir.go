package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// markerName is the file that says "the sandbox made this directory". Its
// absence in a non-empty directory stops Start from writing there and Reset
// from deleting anything, so `--dir ~ --reset` cannot wipe a home
// directory. It is also the file we lock to keep two processes off one
// directory: kfake does no locking, and two clusters writing the same
// segment files would corrupt them.
const markerName = ".kmigrate-sandbox"

const markerText = "This directory holds the data of the local Kafka clusters of `kmigrate sandbox`.\n" +
	"`kmigrate sandbox --reset` deletes source/ and target/ here.\n"

// Subdirectories of Config.Dir, one per cluster.
const (
	sourceSubdir = "source"
	targetSubdir = "target"
)

// dirLock is a locked sandbox directory. Release unlocks it.
type dirLock struct {
	f *os.File
}

// openDir makes dir ready for the clusters and locks it: it creates dir if
// needed, refuses a non-empty directory without the marker, takes the lock,
// writes the marker and, with reset, deletes the clusters' data. Reset
// deletes only the subdirectories we own, never the directory itself, so
// anything else a user put there survives.
func openDir(dir string, reset bool) (_ *dirLock, err error) {
	if dir == "" {
		return nil, errors.New("no sandbox data directory given")
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create sandbox data directory %q: %w", dir, err)
		}
	case err != nil:
		return nil, fmt.Errorf("read sandbox data directory %q: %w", dir, err)
	case len(entries) > 0 && !hasMarker(entries):
		return nil, fmt.Errorf("%q holds files but no %s marker; choose an empty or new directory: %w",
			dir, markerName, ErrNotSandboxDir)
	}

	marker := filepath.Join(dir, markerName)
	f, err := os.OpenFile(marker, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sandbox data directory %q is not writable: %w", dir, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := lockFile(f); errors.Is(err, ErrDirInUse) {
		return nil, fmt.Errorf("%w: %q is used by another process; stop the other `kmigrate sandbox` "+
			"or choose another directory", err, dir)
	} else if err != nil {
		return nil, fmt.Errorf("lock sandbox data directory %q: %w", dir, err)
	}
	if err := writeMarker(f); err != nil {
		return nil, fmt.Errorf("sandbox data directory %q is not writable: %w", dir, err)
	}

	for _, sub := range []string{sourceSubdir, targetSubdir} {
		p := filepath.Join(dir, sub)
		if reset {
			if err := os.RemoveAll(p); err != nil {
				return nil, fmt.Errorf("reset %q: %w", p, err)
			}
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("sandbox data directory %q is not writable: %w", dir, err)
		}
	}
	return &dirLock{f: f}, nil
}

func hasMarker(entries []os.DirEntry) bool {
	for _, e := range entries {
		if e.Name() == markerName && e.Type().IsRegular() {
			return true
		}
	}
	return false
}

func writeMarker(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(markerText), 0); err != nil {
		return err
	}
	return f.Sync()
}

// release unlocks the directory. Closing the file drops the lock.
func (l *dirLock) release() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("unlock sandbox data directory: %w", err)
	}
	return nil
}
