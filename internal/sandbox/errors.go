package sandbox

import (
	"errors"
	"fmt"
)

// Sentinels for the failures a user can act on. Test with errors.Is.
var (
	// ErrNotSandboxDir: the data directory holds files but no marker, so
	// it was not made by the sandbox. Start refuses to write into it and
	// Reset refuses to delete anything in it.
	ErrNotSandboxDir = errors.New("not a sandbox data directory")
	// ErrDirInUse: another process runs a sandbox on the same directory.
	ErrDirInUse = errors.New("sandbox data directory is in use")
	// ErrSeedIncomplete: some, but not all, of the sample data exists,
	// which means an earlier Seed was interrupted.
	ErrSeedIncomplete = errors.New("sample data is incomplete")
)

// PortInUseError is returned by Start when a broker's port is taken. It
// unwraps to the listen error (errors.Is(err, syscall.EADDRINUSE) holds).
type PortInUseError struct {
	Role string // "source" or "target"
	Port int
	Err  error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("%s cluster: port %d is already in use (another sandbox or Kafka running?): "+
		"stop that process or choose other ports with --%s-port", e.Role, e.Port, e.Role)
}

func (e *PortInUseError) Unwrap() error { return e.Err }
