package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// kmigrate status as the lifecycle journey reads it (the command and GET
// /v1/status of a running mirror), and waiting for a status condition.

// TestMirrorServesNewStatus: the continuous mirror of a new migration
// serves GET /v1/status as soon as its state is on the target, that is as
// soon as kmigrate status, run from another process, reads it; not "the
// migration has no state on the target: run kmigrate mirror first" from
// the very mirror that wrote it.
func TestMirrorServesNewStatus(t *testing.T) {
	pair := kafkatest.NewPair(t, kafkatest.Brokers(1))
	seed(t, pair.Source, "orders", 3, 30)
	addr := fmt.Sprintf("127.0.0.1:%d", freePortBase(t, 1))
	m := startMirror(t, mirrorArgs(pair, "--http", addr))
	lc := &lifecycle{pair: pair}
	lc.waitStatus(t, "the new migration's state on the target", 30*time.Second, func(s lcStatus) bool {
		return len(s.Topics) == 1 && s.topic("orders").Lag == 0
	})
	if code, body := getLC(t, addr, "/v1/status"); code != http.StatusOK {
		t.Errorf("GET /v1/status of the running mirror, once kmigrate status reads the state: %d, want 200\n%s", code, body)
	}
	m.stop(t)
}

// lifecycle holds what the commands of the test share.
type lifecycle struct {
	pair *kafkatest.Pair
}

// args are a kmigrate command line against the pair.
func (lc *lifecycle) args(cmd ...string) []string {
	return append(cmd, "--source", strings.Join(lc.pair.Source.Addrs, ","), "--target", strings.Join(lc.pair.Target.Addrs, ","), "--log-level", "warn")
}

// lcStatus is the part of `kmigrate status --output json` the test reads.
type lcStatus struct {
	Phase    string   `json:"phase"`
	Next     string   `json:"next"`
	Blockers []string `json:"blockers"`
	Mirror   struct {
		Running bool `json:"running"`
	} `json:"mirror"`
	Topics []lcStatusTopic `json:"topics"`
	Groups []struct {
		Group       string `json:"group"`
		Switched    bool   `json:"switched"`
		SwitchedHow string `json:"switched_how"`
	} `json:"groups"`
	History []struct {
		Action string `json:"action"`
		Detail string `json:"detail"`
	} `json:"history"`
}

type lcStatusTopic struct {
	Source     string     `json:"source"`
	State      string     `json:"state"`
	Promoted   *time.Time `json:"promoted"`
	Lag        int64      `json:"lag"`
	LagSeconds float64    `json:"lag_seconds"`
	Producers  string     `json:"producers"`
}

// topic returns the status of a source topic; a missing one has lag -1.
func (s lcStatus) topic(name string) lcStatusTopic {
	for _, t := range s.Topics {
		if t.Source == name {
			return t
		}
	}
	return lcStatusTopic{Source: name, Lag: -1, LagSeconds: 1e9}
}

// status runs `kmigrate status --output json` with the given --sample.
func (lc *lifecycle) status(t *testing.T, sample string) lcStatus {
	t.Helper()
	s, err := lc.tryStatus(t, sample)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (lc *lifecycle) tryStatus(t *testing.T, sample string) (lcStatus, error) {
	t.Helper()
	out, errOut, code := run(t, lc.args("status", "--output", "json", "--quiet-period", lcQuiet, "--sample", sample)...)
	var s lcStatus
	if code != 0 {
		return s, fmt.Errorf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return s, fmt.Errorf("status: %v\n%s", err, out)
	}
	return s, nil
}

// getLCStatus reads GET /v1/status of a mirror's --http server.
func getLCStatus(t *testing.T, addr string) lcStatus {
	t.Helper()
	code, body := getLC(t, addr, "/v1/status")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/status: %d\n%s", code, body)
	}
	var s lcStatus
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("GET /v1/status: %v\n%s", err, body)
	}
	return s
}

func getLC(t *testing.T, addr, path string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

// waitStatus polls the status (without rate sampling) until cond holds.
func (lc *lifecycle) waitStatus(t *testing.T, what string, limit time.Duration, cond func(lcStatus) bool) lcStatus {
	t.Helper()
	return lc.poll(t, "0", what, limit, cond)
}

// waitStatusSampled is waitStatus with write rates sampled over 500ms.
func (lc *lifecycle) waitStatusSampled(t *testing.T, what string, limit time.Duration, cond func(lcStatus) bool) lcStatus {
	t.Helper()
	return lc.poll(t, "500ms", what, limit, cond)
}

func (lc *lifecycle) poll(t *testing.T, sample, what string, limit time.Duration, cond func(lcStatus) bool) lcStatus {
	t.Helper()
	var last lcStatus
	var lastErr error
	if !eventually(limit, func() bool {
		last, lastErr = lc.tryStatus(t, sample)
		return lastErr == nil && cond(last)
	}) {
		b, _ := json.MarshalIndent(last, "", "  ")
		t.Fatalf("timed out after %v waiting for %s; last status (error %v):\n%s", limit, what, lastErr, b)
	}
	return last
}
