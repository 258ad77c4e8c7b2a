package main_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestMirrorTransactionalSource is issue 10's scenario, through the built
// binary: a 2-partition source topic holds 90,000 records written by a
// librdkafka transactional producer, 200 records per transaction, each
// transaction flushed to the log before it ends, every third one aborted
// (about 7 MB per partition, so the mirror reads each partition in several
// fetches, with aborted transactions in all of them). `kmigrate mirror
// --until end` at the default memory budget and at the smallest one, each
// into a fresh target, must copy exactly the 60,000 committed records: a
// read_committed librdkafka consumer counts them on both sides, and
// `kmigrate verify` exits 0.
//
// The source has one broker, so both partitions share each fetch request:
// kfake leaves the aborted-transactions list out of a response that
// reaches the request's MaxBytes, which is what let aborted records through
// before the mirror held a transaction's records until its marker.
func TestMirrorTransactionalSource(t *testing.T) {
	const (
		topic      = "ledger"
		records    = 90000
		perTxn     = 200
		abortEvery = 3
	)
	src := kafkatest.New(t, kafkatest.Brokers(1))
	py := kafkatest.NewPython(t, src)
	src.CreateTopic(t, topic, 2, map[string]string{"retention.ms": "-1"})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	produced, err := py.ProduceTransactions(ctx, kafkatest.Transactions{
		Topic: topic, Partitions: 2, Records: records, PerTxn: perTxn, AbortEvery: abortEvery, ValueBytes: 140,
		TransactionalID: "ledger-app",
	})
	if err != nil {
		t.Fatal(err)
	}
	// 450 transactions of 100 records per partition; 150 aborted.
	wantProduced := kafkatest.TxnProduced{Transactions: 450, TxnCounts: kafkatest.TxnCounts{Committed: 60000, Aborted: 30000},
		Partitions: map[int32]kafkatest.TxnCounts{0: {Committed: 30000, Aborted: 15000}, 1: {Committed: 30000, Aborted: 15000}}}
	if produced.Transactions != wantProduced.Transactions || produced.TxnCounts != wantProduced.TxnCounts || !maps.Equal(produced.Partitions, wantProduced.Partitions) {
		t.Fatalf("produced %+v, want %+v", produced, wantProduced)
	}
	checkDepth(t, src, topic, 6<<20)
	want := map[int32]kafkatest.Count{0: {Records: 30000, Distinct: 30000}, 1: {Records: 30000, Distinct: 30000}}
	if got, err := py.CountCommitted(ctx, topic, time.Minute); err != nil || !maps.Equal(got, want) {
		t.Fatalf("source, read_committed: %+v (%v), want %+v", got, err, want)
	}

	for _, tc := range []struct {
		name   string
		budget []string
	}{
		{"default budget", nil},
		{"smallest budget", []string{"--memory-budget", config.ByteSize(config.MinMemoryBudget).String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt := kafkatest.New(t, kafkatest.Brokers(1), kafkatest.Role("target"))
			clusters := []string{"--source", strings.Join(src.Addrs, ","), "--target", strings.Join(tgt.Addrs, ","), "--log-level", "warn"}
			mirror := append(append([]string{"mirror", "--until", "end", "--progress", "never"}, clusters...), tc.budget...)
			if out, errOut, code := runFor(t, 4*time.Minute, mirror...); code != 0 {
				t.Fatalf("mirror: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			got, err := kafkatest.NewPython(t, tgt).CountCommitted(ctx, topic, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, want) {
				t.Errorf("target, read_committed: %+v, want %+v (the committed source records, none of an aborted transaction)", got, want)
			}

			out, errOut, code := runFor(t, 4*time.Minute, append([]string{"verify", "--output", "json"}, clusters...)...)
			var rep verifyReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
				t.Fatalf("verify: exit %d (want 0), %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
			}
			if !rep.OK || len(rep.Partitions) != 2 || rep.Totals.SourceRecords != 60000 || rep.Totals.Matched != 60000 || rep.Totals.Problems != 0 {
				t.Errorf("verify: ok %v, %d partitions, totals %+v; want ok, 2 partitions, 60000 source records matched, no problem", rep.OK, len(rep.Partitions), rep.Totals)
			}
			for _, p := range rep.Partitions {
				if p.Status != "ok" || p.Counts.SourceRecords != 30000 || p.Counts.Copies != 30000 || p.Counts.Matched != 30000 || !p.Digest.Match {
					t.Errorf("verify %s/%d: status %s, counts %+v, digests match %v; want ok, 30000 source records, copies and matches",
						p.Topic, p.Partition, p.Status, p.Counts, p.Digest.Match)
				}
			}
		})
	}
}

// checkDepth fails the test unless every partition of topic holds at least
// min bytes: the scenario needs partitions several fetches deep.
func checkDepth(t *testing.T, c *kafkatest.Cluster, topic string, min int64) {
	t.Helper()
	dirs, err := c.Admin(t).DescribeAllLogDirs(t.Context(), nil)
	if err != nil {
		t.Fatalf("describe log dirs: %v", err)
	}
	size := map[int32]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == topic {
				size[p.Partition] = max(size[p.Partition], p.Size)
			}
		})
	})
	for p, n := range size {
		t.Logf("%s/%d: %d bytes", topic, p, n)
		if n < min {
			t.Errorf("%s/%d holds %d bytes, want at least %d", topic, p, n, min)
		}
	}
	if len(size) == 0 {
		t.Errorf("no log dir lists %s", topic)
	}
}
