package sandbox_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/kmigrate/kmigrate/internal/sandbox"
)

// clusterIDFormat is Kafka's: 16 bytes in URL-safe base64 without padding,
// not starting with '-'.
var clusterIDFormat = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{21}$`)

func TestStartTwoClustersOfThreeBrokers(t *testing.T) {
	dir := t.TempDir()
	s := start(t, randomConfig(t, dir))

	for _, c := range []struct {
		role string
		ep   sandbox.Endpoint
	}{{"source", s.Source()}, {"target", s.Target()}} {
		if !clusterIDFormat.MatchString(c.ep.ID) {
			t.Errorf("%s id %q is not in Kafka's format", c.role, c.ep.ID)
		}
		if want := filepath.Join(dir, c.role); c.ep.Dir != want {
			t.Errorf("%s dir = %q, want %q", c.role, c.ep.Dir, want)
		}
		if c.ep.Restored {
			t.Errorf("%s: Restored = true on a new directory", c.role)
		}
		m, err := newAdmin(t, c.ep.Bootstrap).BrokerMetadata(t.Context())
		if err != nil {
			t.Fatalf("%s metadata: %v", c.role, err)
		}
		if m.Cluster != c.ep.ID {
			t.Errorf("%s cluster answers with id %q, Endpoint says %q", c.role, m.Cluster, c.ep.ID)
		}
		var addrs []string
		for _, b := range m.Brokers {
			addrs = append(addrs, net.JoinHostPort(b.Host, fmt.Sprint(b.Port)))
		}
		if !reflect.DeepEqual(addrs, c.ep.Bootstrap) || len(addrs) != 3 {
			t.Errorf("%s brokers = %v, want the 3 of Bootstrap %v", c.role, addrs, c.ep.Bootstrap)
		}
	}
	if s.Source().ID == s.Target().ID {
		t.Errorf("source and target share id %q", s.Source().ID)
	}
	if slices.Equal(s.Source().Bootstrap, s.Target().Bootstrap) {
		t.Errorf("source and target share brokers %v", s.Source().Bootstrap)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	s, err := sandbox.Start(t.Context(), randomConfig(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
}

// TestRestartKeepsClusterIDs also shows that kfake, not kmigrate, keeps the
// ids: Start offers kfake a fresh random id every time.
func TestRestartKeepsClusterIDs(t *testing.T) {
	dir := t.TempDir()
	first, err := sandbox.Start(t.Context(), randomConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	src, tgt := first.Source(), first.Target()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	again := start(t, randomConfig(t, dir))
	if got := again.Source(); got.ID != src.ID || !got.Restored {
		t.Errorf("source after restart: id %q restored %v, want id %q restored true", got.ID, got.Restored, src.ID)
	}
	if got := again.Target(); got.ID != tgt.ID || !got.Restored {
		t.Errorf("target after restart: id %q restored %v, want id %q restored true", got.ID, got.Restored, tgt.ID)
	}
}

func TestRefuseCopiedClusterData(t *testing.T) {
	dir := t.TempDir()
	first, err := sandbox.Start(t.Context(), randomConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	id := first.Source().ID
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target")
	if err := os.RemoveAll(target); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(target, os.DirFS(filepath.Join(dir, "source"))); err != nil {
		t.Fatal(err)
	}

	s, err := sandbox.Start(t.Context(), randomConfig(t, dir))
	if err == nil {
		s.Close()
		t.Fatal("Start succeeded with one cluster's data in both directories")
	}
	want := fmt.Sprintf("source and target have the same cluster id %q (was one data directory copied to the other?); "+
		"reset the sandbox in %q", id, dir)
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	// The failed Start let go of the directory.
	cfg := randomConfig(t, dir)
	cfg.Reset = true
	start(t, cfg)
}

func TestResetStartsOver(t *testing.T) {
	dir := t.TempDir()
	first, err := sandbox.Start(t.Context(), randomConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.Seed(t.Context(), first.Source().Bootstrap, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	oldSource, oldTarget := first.Source().ID, first.Target().ID
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// A file of the user's next to the clusters' data survives a reset.
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg := randomConfig(t, dir)
	cfg.Reset = true
	s := start(t, cfg)
	if s.Source().Restored || s.Target().Restored {
		t.Errorf("Restored after reset: source %v target %v", s.Source().Restored, s.Target().Restored)
	}
	if s.Source().ID == oldSource || s.Target().ID == oldTarget {
		t.Errorf("ids kept across reset: source %q target %q", s.Source().ID, s.Target().ID)
	}
	topics, err := newAdmin(t, s.Source().Bootstrap).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if names := topics.Names(); len(names) != 0 {
		t.Errorf("topics after reset: %v, want none", names)
	}
	if b, err := os.ReadFile(notes); err != nil || string(b) != "mine" {
		t.Errorf("notes.txt after reset: %q, %v", b, err)
	}
}

func TestRefuseDirectoryNotMadeBySandbox(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprintf("reset=%v", reset), func(t *testing.T) {
			dir := t.TempDir()
			precious := filepath.Join(dir, "thesis.tex")
			if err := os.WriteFile(precious, []byte("years of work"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := randomConfig(t, dir)
			cfg.Reset = reset
			s, err := sandbox.Start(t.Context(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if !errors.Is(err, sandbox.ErrNotSandboxDir) {
				t.Errorf("error %v is not ErrNotSandboxDir", err)
			}
			want := fmt.Sprintf("%q holds files but no .kmigrate-sandbox marker; "+
				"choose an empty or new directory: not a sandbox data directory", dir)
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != "thesis.tex" {
				t.Errorf("directory changed: %v", entries)
			}
		})
	}
}

func TestDirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	start(t, randomConfig(t, dir))

	s, err := sandbox.Start(t.Context(), randomConfig(t, dir))
	if err == nil {
		s.Close()
		t.Fatal("second Start on one directory succeeded")
	}
	if !errors.Is(err, sandbox.ErrDirInUse) {
		t.Errorf("error %v is not ErrDirInUse", err)
	}
	want := fmt.Sprintf("sandbox data directory is in use: %q is used by another process; "+
		"stop the other `kmigrate sandbox` or choose another directory", dir)
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
}

func TestDirectoryNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only directories")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })

	s, err := sandbox.Start(t.Context(), randomConfig(t, dir))
	if err == nil {
		s.Close()
		t.Fatal("Start succeeded")
	}
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("error %v is not a permission error", err)
	}
	want := fmt.Sprintf("sandbox data directory %q is not writable: open %s: permission denied",
		dir, filepath.Join(dir, ".kmigrate-sandbox"))
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
}

func TestPortInUse(t *testing.T) {
	for _, role := range []string{"source", "target"} {
		t.Run(role, func(t *testing.T) {
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			port := held.Addr().(*net.TCPAddr).Port

			dir := t.TempDir()
			cfg := randomConfig(t, dir)
			cfg.SourcePorts = freePorts(t, 3)
			if role == "source" {
				cfg.SourcePorts[2] = port
			} else {
				cfg.TargetPorts[1] = port
			}
			s, err := sandbox.Start(t.Context(), cfg)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			var pe *sandbox.PortInUseError
			if !errors.As(err, &pe) || pe.Role != role || pe.Port != port {
				t.Fatalf("error %v (%T) is not a PortInUseError for %s port %d", err, err, role, port)
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("error %v does not unwrap to EADDRINUSE", err)
			}
			want := fmt.Sprintf("%s cluster: port %d is already in use (another sandbox or Kafka running?): "+
				"stop that process or choose other ports with --%s-port", role, port, role)
			if err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}

			// Nothing is left running: the source's ports are free
			// and the directory is unlocked.
			if role == "target" {
				for _, p := range cfg.SourcePorts {
					ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
					if err != nil {
						t.Fatalf("source port %d still taken: %v", p, err)
					}
					ln.Close()
				}
			}
			start(t, randomConfig(t, dir))
		})
	}
}

func TestStartRejectsBadPorts(t *testing.T) {
	for _, tc := range []struct {
		name           string
		source, target []int
		want           string
	}{
		{"no source ports", nil, []int{0}, "source cluster: no broker ports given"},
		{"no target ports", []int{0}, []int{}, "target cluster: no broker ports given"},
		{"negative", []int{-1}, []int{0}, "source cluster: port -1 out of range"},
		{"too large", []int{0}, []int{65536}, "target cluster: port 65536 out of range"},
		{"twice in source", []int{19092, 19092}, []int{0}, "source cluster: port 19092 is given twice"},
		{"in both", []int{19092, 19093}, []int{19093}, "target cluster: port 19093 is also given to the source cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sandbox")
			s, err := sandbox.Start(t.Context(), sandbox.Config{Dir: dir, SourcePorts: tc.source, TargetPorts: tc.target})
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Start touched the directory before checking ports: %v", err)
			}
		})
	}
}

func TestZeroPortsMeanRandomPorts(t *testing.T) {
	s := start(t, randomConfig(t, t.TempDir()))
	seen := make(map[string]bool)
	for _, addr := range append(s.Source().Bootstrap, s.Target().Bootstrap...) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" || port == "0" || seen[port] {
			t.Errorf("broker address %q: want 127.0.0.1 and a distinct non-zero port (err %v)", addr, err)
		}
		seen[port] = true
	}
}

func TestDefaultPorts(t *testing.T) {
	if got, want := sandbox.DefaultPorts(sandbox.SourceBasePort, sandbox.DefaultBrokers), []int{19092, 19093, 19094}; !slices.Equal(got, want) {
		t.Errorf("source: %v, want %v", got, want)
	}
	if got, want := sandbox.DefaultPorts(sandbox.TargetBasePort, sandbox.DefaultBrokers), []int{29092, 29093, 29094}; !slices.Equal(got, want) {
		t.Errorf("target: %v, want %v", got, want)
	}
	if got := sandbox.DefaultPorts(19092, 0); len(got) != 0 {
		t.Errorf("n=0: %v, want none", got)
	}
}

func TestDefaultDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the cache directory is asserted as Linux defines it")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	got, err := sandbox.DefaultDir()
	if want := filepath.Join(cache, "kmigrate", "sandbox"); got != want || err != nil {
		t.Errorf("DefaultDir = %q, %v; want %q", got, err, want)
	}

	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	_, err = sandbox.DefaultDir()
	if want := "find user cache directory: neither $XDG_CACHE_HOME nor $HOME are defined"; err == nil || err.Error() != want {
		t.Errorf("DefaultDir without a home: %v, want %s", err, want)
	}
}
