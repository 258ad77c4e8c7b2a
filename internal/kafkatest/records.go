package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/cluster"
)

// maxTopicName is Kafka's limit on topic name length.
const maxTopicName = 249

// TopicName returns base followed by the test's name and a random suffix,
// restricted to the characters Kafka allows ('.' and '_' are avoided because
// Kafka treats them as colliding in metric names). Tests that may run
// against external clusters name their topics and groups with it, so that
// runs never see each other's data.
func TopicName(t testing.TB, base string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails, see its doc
	suffix := "-" + hex.EncodeToString(b[:])
	name := sanitize(base)
	if tn := sanitize(t.Name()); tn != "" {
		name += "-" + tn
	}
	if room := maxTopicName - len(suffix); len(name) > room {
		name = name[:room]
	}
	return name + suffix
}

// sanitize keeps ASCII letters and digits and turns every run of other
// characters into one '-'.
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// CreateTopic creates a topic with the cluster's default replication factor
// and waits until every partition has a leader. On an external cluster the
// topic is deleted when the test ends. Tests that produce records with old
// timestamps should pass retention.ms=-1: kfake applies retention by
// timestamp, as Kafka does.
func (c *Cluster) CreateTopic(t testing.TB, name string, partitions int32, configs map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var cfgs map[string]*string
	for k, v := range configs {
		if cfgs == nil {
			cfgs = make(map[string]*string, len(configs))
		}
		cfgs[k] = &v
	}
	if _, err := c.admin.CreateTopic(ctx, partitions, -1, cfgs, name); err != nil {
		t.Fatalf("%s: create topic %q: %v", c.Config.Role, name, err)
	}
	if c.Kfake == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			if _, err := c.admin.DeleteTopic(ctx, name); err != nil {
				t.Errorf("%s: delete topic %q at cleanup: %v", c.Config.Role, name, err)
			}
		})
	}
	if err := c.waitForLeaders(ctx, name, partitions); err != nil {
		t.Fatalf("%s: create topic %q: %v", c.Config.Role, name, err)
	}
}

// waitForLeaders waits until metadata shows the topic with all partitions
// led: a real cluster propagates a new topic to its brokers asynchronously.
func (c *Cluster) waitForLeaders(ctx context.Context, topic string, partitions int32) error {
	for {
		m, err := c.admin.Metadata(ctx, topic)
		if err == nil {
			td := m.Topics[topic]
			if td.Err == nil && int32(len(td.Partitions)) == partitions && allLed(td.Partitions) {
				return nil
			}
			err = td.Err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for partition leaders: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func allLed(ps kadm.PartitionDetails) bool {
	for _, p := range ps {
		if p.Leader < 0 || p.Err != nil {
			return false
		}
	}
	return true
}

// Produce writes the records synchronously and fails the test on any error.
// Each record goes to its Topic and Partition (the zero value is partition
// 0); on return its Offset and Timestamp are what the cluster assigned.
func (c *Cluster) Produce(t testing.TB, records ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := c.helper.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("%s: produce: %v", c.Config.Role, err)
	}
}

// ConsumeAll reads every partition of topic from its start to its last
// stable offset as of the call, with read_committed isolation, and returns
// the records ordered by partition, then offset. Records of aborted
// transactions and transaction markers are left out.
func (c *Cluster) ConsumeAll(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	return c.consumeAll(t, topic, true)
}

// ConsumeAllUncommitted is ConsumeAll with read_uncommitted isolation: it
// reads to the high watermark and includes records of open and aborted
// transactions (but not transaction markers).
func (c *Cluster) ConsumeAllUncommitted(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	return c.consumeAll(t, topic, false)
}

func (c *Cluster) consumeAll(t testing.TB, topic string, committed bool) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	bounds, err := c.bounds(ctx, topic, committed)
	if err != nil {
		t.Fatalf("%s: consume %q: %v", c.Config.Role, topic, err)
	}
	if len(bounds) == 0 {
		return nil
	}
	from := make(map[int32]kgo.Offset, len(bounds))
	for p, b := range bounds {
		from[p] = kgo.NewOffset().At(b[0])
	}
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cfg := c.Config
	cl, err := cluster.NewClient(&cfg, testLogger(t),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(iso),
		// Transaction markers occupy offsets. Seeing them is the only
		// way to tell that a partition whose last records are a marker
		// has been read to its end.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		t.Fatalf("%s: consume %q: %v", c.Config.Role, topic, err)
	}
	defer cl.Close()

	got := make(map[int32][]*kgo.Record, len(bounds))
	pending := make(map[int32]bool, len(bounds))
	for p := range bounds {
		pending[p] = true
	}
	for len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: consume %q: %v; partitions not read to their end offsets %v: %v", c.Config.Role, topic, ctx.Err(), bounds, slices.Sorted(maps.Keys(pending)))
		}
		var fetchErr error
		fs.EachError(func(_ string, p int32, err error) {
			fetchErr = errors.Join(fetchErr, fmt.Errorf("partition %d: %w", p, err))
		})
		if fetchErr != nil {
			t.Fatalf("%s: consume %q: %v", c.Config.Role, topic, fetchErr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end := bounds[r.Partition][1]
			if r.Offset >= end {
				return // produced after we listed the end offsets
			}
			if r.Offset >= end-1 {
				delete(pending, r.Partition)
			}
			if !r.Attrs.IsControl() {
				got[r.Partition] = append(got[r.Partition], r)
			}
		})
	}
	var out []*kgo.Record
	for _, p := range slices.Sorted(maps.Keys(got)) {
		out = append(out, got[p]...)
	}
	return out
}

// bounds returns, per partition with records, the start offset and the end
// offset (last stable offset when committed, else the high watermark).
func (c *Cluster) bounds(ctx context.Context, topic string, committed bool) (map[int32][2]int64, error) {
	starts, err := c.admin.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	list := c.admin.ListEndOffsets
	if committed {
		list = c.admin.ListCommittedOffsets
	}
	ends, err := list(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	if _, ok := ends[topic]; !ok {
		return nil, kerr.UnknownTopicOrPartition
	}
	bounds := make(map[int32][2]int64)
	ends.Each(func(e kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, e.Partition)
		if e.Offset > s.Offset {
			bounds[e.Partition] = [2]int64{s.Offset, e.Offset}
		}
	})
	return bounds, nil
}

// CommitOffsets commits offsets (topic -> partition -> offset) for group,
// as a consumer of that group would, and fails the test if any partition's
// commit fails. The group must have no active members.
func (c *Cluster) CommitOffsets(t testing.TB, group string, offsets map[string]map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var offs kadm.Offsets
	for topic, ps := range offsets {
		for p, o := range ps {
			offs.AddOffset(topic, p, o, -1)
		}
	}
	resp, err := c.admin.CommitOffsets(ctx, group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("%s: commit offsets for group %q: %v", c.Config.Role, group, err)
	}
}

// CommittedOffsets returns group's committed offsets, topic -> partition ->
// offset, or an empty map when the group has none.
func (c *Cluster) CommittedOffsets(t testing.TB, group string) map[string]map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	resp, err := c.admin.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		// kfake's answer for a group it never saw; Kafka's is empty.
		return map[string]map[int32]int64{}
	}
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("%s: fetch offsets of group %q: %v", c.Config.Role, group, err)
	}
	out := make(map[string]map[int32]int64)
	resp.Each(func(o kadm.OffsetResponse) {
		if out[o.Topic] == nil {
			out[o.Topic] = make(map[int32]int64)
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out
}
