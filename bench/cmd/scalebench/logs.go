package main

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"
)

// The mirror's log messages (--log-format json) that the steps wait for.
// "work units assigned" is logged by internal/membership when the units
// group gives this process units, just before it starts copying them:
// the process is mirroring from then on.
const (
	msgAssigned = "work units assigned"
	msgRevoked  = "work units revoked"
	msgLost     = "work units lost"
	msgUnits    = "mirroring in work units"
)

// logLine is what the harness reads from one JSON log line of a mirror.
type logLine struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	Units []int     `json:"-"`
}

// parseLogLine reads one line of slog's JSON output; ok is false for
// anything else (a panic trace, a plain line).
func parseLogLine(b []byte) (logLine, bool) {
	var l struct {
		logLine
		// Units is a list in the assigned, revoked and lost lines, a
		// count in "mirroring in work units".
		Units json.RawMessage `json:"units"`
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return logLine{}, false
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Msg == "" {
		return logLine{}, false
	}
	if len(l.Units) > 0 && l.Units[0] == '[' {
		if err := json.Unmarshal(l.Units, &l.logLine.Units); err != nil {
			return logLine{}, false
		}
	}
	return l.logLine, true
}

// owned follows the units a member owns from its assigned, revoked and
// lost lines, and returns the set after l (sorted).
func owned(have []int, l logLine) []int {
	switch l.Msg {
	case msgAssigned:
		for _, u := range l.Units {
			if !slices.Contains(have, u) {
				have = append(have, u)
			}
		}
	case msgRevoked, msgLost:
		have = slices.DeleteFunc(have, func(u int) bool { return slices.Contains(l.Units, u) })
	}
	slices.Sort(have)
	return have
}

// watcher is a mirror process's stderr: it keeps the log (also copied to
// a file), the time of the first line of each message, and the units the
// process owns, and wakes waiters on every change.
type watcher struct {
	mu      sync.Mutex
	partial []byte
	first   map[string]time.Time
	units   []int
	// allAt is when the process first owned every unit after the mark
	// (see markAll); zero until then.
	allAt    time.Time
	allUnits int
	changed  chan struct{}
	file     io.Writer
	errors   []string
}

func newWatcher(file io.Writer, units int) *watcher {
	return &watcher{first: map[string]time.Time{}, changed: make(chan struct{}), file: file, allUnits: units}
}

// Write implements io.Writer.
func (w *watcher) Write(p []byte) (int, error) {
	if w.file != nil {
		_, _ = w.file.Write(p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		if l, ok := parseLogLine(line); ok {
			if _, seen := w.first[l.Msg]; !seen {
				w.first[l.Msg] = l.Time
			}
			if _, seen := w.first[""]; !seen {
				w.first[""] = l.Time // any line
			}
			w.units = owned(w.units, l)
			if len(w.units) == w.allUnits && w.allAt.IsZero() {
				w.allAt = l.Time
			}
			if l.Level == "ERROR" && len(w.errors) < 5 {
				w.errors = append(w.errors, string(line))
			}
		}
		w.partial = append(w.partial[:0], w.partial[i+1:]...)
	}
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

// when returns the time of msg's first line ("": of any line), and a
// channel closed at the next change.
func (w *watcher) when(msg string) (time.Time, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first[msg], w.changed
}

// owns returns the units owned now, when the process last came to own
// all of them (zero if it does not since the last markAll), and a channel
// closed at the next change.
func (w *watcher) owns() ([]int, time.Time, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.units), w.allAt, w.changed
}

// markAll forgets when the process came to own every unit, so that the
// next time counts (the rebalance after a kill).
func (w *watcher) markAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.allAt = time.Time{}
	if len(w.units) == w.allUnits {
		w.allAt = time.Now()
	}
}

// errorLines returns the first ERROR lines the process logged.
func (w *watcher) errorLines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.errors)
}
