package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/sandbox"
	"github.com/kmigrate/kmigrate/internal/verify"
)

// History is the transactional history topic: written before the migration
// by a transactional producer, some of whose transactions were aborted
// after their records reached the log. Its report proves that exactly the
// committed records were copied: none of an aborted transaction, none
// twice, none missing.
type History struct {
	Topic string `json:"topic"`
	// Committed and Aborted count the records of committed and aborted
	// transactions on the old cluster, as written.
	Committed int `json:"committed"`
	Aborted   int `json:"aborted"`
	// Copied is what verify counted as copies on the new cluster.
	Copied int64 `json:"copied"`
	// ReadOnTarget is what a read_committed consumer reads on the new
	// cluster, and Distinct how many different records that was.
	ReadOnTarget int `json:"read_on_target"`
	Distinct     int `json:"distinct"`
}

// OK reports whether exactly the committed records were copied.
func (h *History) OK() bool {
	c := int64(h.Committed)
	return h.Committed > 0 && h.Copied == c && int64(h.ReadOnTarget) == c && int64(h.Distinct) == c
}

// writeHistory writes the sandbox's transactional payments to the old
// cluster.
func writeHistory(ctx context.Context, bootstrap []string) (*History, error) {
	t, err := sandbox.SeedPayments(ctx, bootstrap)
	if err != nil {
		return nil, err
	}
	return &History{Topic: t.Name, Committed: t.Records, Aborted: t.Aborted}, nil
}

// check fills in what verify counted and what a read_committed consumer
// reads on the new cluster.
func (h *History) check(ctx context.Context, target []string, vr *verify.Report) error {
	for _, p := range vr.Partitions {
		if p.Topic == h.Topic {
			h.Copied += p.Counts.Copies
		}
	}
	n, distinct, err := readCommitted(ctx, target, h.Topic, 30*time.Second)
	h.ReadOnTarget, h.Distinct = n, distinct
	return err
}

// readCommitted reads topic from the start to its end offsets with
// read_committed and returns how many records and distinct values it read.
// Control records are kept so that the position reaches the end offset
// even when the log ends with a transaction marker: the read stops at the
// end, not after a guessed quiet time.
func readCommitted(ctx context.Context, bootstrap []string, topic string, limit time.Duration) (n, distinct int, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", topic, err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: end offsets: %w", topic, err)
	}
	left := map[int32]int64{} // partition -> end offset not reached yet
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	seen := map[string]struct{}{}
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for len(left) > 0 {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			return n, len(seen), fmt.Errorf("read %s: %d partitions not read to the end within %v", topic, len(left), limit)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", t, p, err)) })
		if ferr != nil {
			return n, len(seen), fmt.Errorf("read %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				n++
				seen[string(r.Value)] = struct{}{}
			}
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return n, len(seen), nil
}

func (h *History) print(w io.Writer) {
	fmt.Fprintf(w, "  %s (transactional): %d records committed and %d in aborted transactions on the old cluster;\n", h.Topic, h.Committed, h.Aborted)
	fmt.Fprintf(w, "    copied %d (verify), read_committed on the new cluster %d (%d distinct): %s\n", h.Copied, h.ReadOnTarget, h.Distinct, historyText(h.OK()))
}

func historyText(ok bool) string {
	if ok {
		return "exactly the committed records"
	}
	return "NOT exactly the committed records"
}
