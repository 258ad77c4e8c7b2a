// Package runinfo is what every whole-system benchmark harness in bench/
// records about a run and where it runs: the kmigrate module's directory,
// a digest of the sources measured, the host, and a free disk check before
// the clusters fill it.
package runinfo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Host describes where a run happened.
type Host struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	MemTotal  string `json:"mem_total,omitempty"`
	GoVersion string `json:"go_version"`
	Kmigrate  string `json:"kmigrate_version,omitempty"`
	Kcat      string `json:"kcat_version,omitempty"`
}

// ThisHost describes the machine the harness runs on.
func ThisHost() Host {
	h := Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	h.CPUModel = procField("/proc/cpuinfo", "model name")
	h.MemTotal = procField("/proc/meminfo", "MemTotal")
	return h
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ModuleRoot finds the kmigrate module's directory from the working
// directory, as `go run ./bench/cmd/...` and make are run there.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the kmigrate module: run from its directory")
	}
	data, err := os.ReadFile(mod)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(data, []byte("module github.com/kmigrate/kmigrate\n")) {
		return "", fmt.Errorf("%s is not the kmigrate module: run from its directory", mod)
	}
	return filepath.Dir(mod), nil
}

// CheckDisk refuses to start when dir's file system has less than need
// bytes free. hint says how to need less.
func CheckDisk(dir string, need int64, hint string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < need {
		return fmt.Errorf("%s has %.1f GB free, the run needs about %.1f GB: free space, pass --dir, or %s",
			dir, float64(free)/1e9, float64(need)/1e9, hint)
	}
	return nil
}

// SourceDigest hashes the Go sources kmigrate is built from (every .go
// file outside bench/, go.mod, go.sum), so that two runs of a tree that
// is being edited can tell whether they measured the same code.
func SourceDigest(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "bench" || (rel != "." && strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") && rel != "go.mod" && rel != "go.sum" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash the sources: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Logf writes a timestamped progress line to stderr.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// BuildKmigrate builds ./cmd/kmigrate of the module at root into dir and
// returns the binary's path and the first line of its `version` output.
func BuildKmigrate(ctx context.Context, root, dir string) (bin, version string, err error) {
	bin = filepath.Join(dir, "kmigrate")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kmigrate")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/kmigrate: %w", err)
	}
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return bin, version, nil
}

// WriteJSON writes v, indented, to dir/<started as 20060102T150405Z><suffix>
// (dir created if missing) and returns the path: every benchmark's result
// file.
func WriteJSON(dir string, started time.Time, suffix string, v any) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, started.UTC().Format("20060102T150405Z")+suffix)
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// WorkDir makes a temporary data directory for a benchmark under parent
// (the system temp dir when ""), and returns it with a function for the
// benchmark's deferred cleanup: it removes the directory, or with keep
// logs where it is, and joins a removal failure to *err.
func WorkDir(parent, prefix string, keep bool) (string, func(err *error), error) {
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, err
	}
	return dir, func(err *error) {
		if keep {
			Logf("data kept in %s", dir)
			return
		}
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			*err = errors.Join(*err, fmt.Errorf("remove %s: %w", dir, rmErr))
		}
	}, nil
}
