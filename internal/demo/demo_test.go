package demo_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/demo"
)

// TestDemo runs the README's demo and checks its report: every record the
// producer app wrote, on either cluster, consumed exactly once, the copy
// verified, the group resumed on all 15 partitions, and of the
// transactional history (aborted transactions several fetches deep at the
// mirror's smallest budget) exactly the committed records copied.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	r, err := demo.Run(t.Context(), &out, demo.Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if !r.OK || r.Duplicates != 0 || r.Gaps != 0 || r.Produced == 0 || r.Consumed != r.Produced || r.Copied == 0 || !r.Verify.OK || len(r.Resumed) != 15 {
		t.Errorf("report: ok %v, duplicates %d, gaps %d, produced %d, consumed %d, copied %d, verify %v, resumed %d\n%s",
			r.OK, r.Duplicates, r.Gaps, r.Produced, r.Consumed, r.Copied, r.Verify.OK, len(r.Resumed), out.String())
	}
	// The transactional history: exactly its committed records copied,
	// per verify and per a read_committed consumer of the new cluster.
	want := demo.History{Topic: "payments", Committed: 8060, Aborted: 4015, Copied: 8060, ReadOnTarget: 8060, Distinct: 8060}
	if r.History == nil || *r.History != want {
		t.Errorf("history %+v, want %+v", r.History, want)
	}
	for _, want := range []string{
		"payments (transactional): 8060 records committed and 4015 in aborted transactions on the old cluster;\n" +
			"    copied 8060 (verify), read_committed on the new cluster 8060 (8060 distinct): exactly the committed records\n",
		"Phase 1, sync", "Phase 2, consumers", "Phase 3, producers", "Phase 4, promote", "Phase 5, done", "Report (PASSED)", "duplicates:        0", "gaps:              0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the narration lacks %q:\n%s", want, out.String())
		}
	}
}
