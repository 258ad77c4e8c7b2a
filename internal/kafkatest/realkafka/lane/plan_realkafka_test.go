package lane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
)

// TestPlanDryRun: kmigrate plan on a 3.9 ZooKeeper source and a 4.x
// KRaft target prints, exactly, the topic to create with its ranges and
// the group with its committed offsets and lag; with a conflicting target
// topic it exits 1 naming the conflict, in text and JSON. Neither run
// writes anything: the topics, offsets and groups of both clusters are
// the same before and after.
func TestPlanDryRun(t *testing.T) {
	p := pair(t, source39, target4)
	topic := kafkatest.TopicName(t, "plan")
	group := kafkatest.TopicName(t, "plangroup")
	p.Source.CreateTopic(t, topic, 2, map[string]string{"retention.ms": "-1"})
	var recs []*kgo.Record
	for i := range 16 { // 10 records in partition 0, 6 in partition 1
		part := int32(0)
		if i >= 10 {
			part = 1
		}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	p.Source.Produce(t, recs...)
	p.Source.CommitOffsets(t, group, map[string]map[int32]int64{topic: {0: 4, 1: 2}})
	m := newMigration(t, p, fmt.Sprintf("topics:\n  include: [%s]\ngroups:\n  include: [%s]\n", topic, group))
	before := snapshotClusters(t, p, topic, group)

	out := mustRun(t, m.args("plan", "--until", "end")...)
	size := partitionSizes(t, p.Source, topic)
	want := strings.Join([]string{
		fmt.Sprintf("Migration %s (first run): source %s (1 broker) -> target %s (1 broker)", m.name(t), p.Source.ID, p.Target.ID),
		"Start earliest, until end, exactly-once, tracing headers on",
		"",
		table(
			[]string{"TOPIC", "TARGET", "SELECTED BY", "ACTION", "PARTITIONS", "RECORDS", "BYTES", "EXPIRED"},
			[]string{topic, topic, "include " + strconv.Quote(topic), "create", "2", "16", bytesText(size[0] + size[1]), "0"}),
		fmt.Sprintf("Total: 1 topic, 2 partitions, 16 records, %s", bytesText(size[0]+size[1])),
		"",
		fmt.Sprintf("%s -> %s: create", topic, topic),
		"  configs: retention.ms=-1",
		table(
			[]string{"  PARTITION", "LOG START", "END", "FROM", "START RULE", "RECORDS", "BYTES", "EXPIRED"},
			[]string{"  0", "0", "10", "0", "earliest", "10", bytesText(size[0]), "-"},
			[]string{"  1", "0", "6", "0", "earliest", "6", bytesText(size[1]), "-"}),
		"",
		table(
			[]string{"GROUP", "SOURCE", "TARGET", "COMMITTED", "LAG", "MIGRATABLE", "REASONS"},
			[]string{group, "Empty/0", "Dead/0", fmt.Sprintf("%s/0@4,%s/1@2", topic, topic), "10", "no", "there is no migration state yet: run kmigrate mirror first"}),
		"",
		// The shared clusters have no authorizer, quotas or SCRAM users.
		"What kmigrate access apply would do:",
		"ACLs: 0 source bindings concerning the migration, 0 already on the target, 0 to create, 0 extra on the target, 0 conflicts",
		"  the source has no authorizer: no bindings to move",
		"Quotas: 0 equal on both sides, 0 to set, 0 extra on the target",
		"SCRAM users: 0 source credentials, 0 on the target, 0 missing",
		"",
		// A cluster without an authorizer does not report permissions.
		"warning: target: cannot tell whether the credentials may commit offsets of selected groups: the cluster does not report permissions for this",
		"",
		"The migration can run: nothing blocks it.",
		"",
	}, "\n")
	if out != want {
		t.Errorf("plan output:\n%s\nwant:\n%s", out, want)
	}
	if after := snapshotClusters(t, p, topic, group); after != before {
		t.Errorf("plan wrote to a cluster:\nbefore %s\nafter  %s", before, after)
	}

	// A target topic with another partition count blocks the migration:
	// exit 1, the conflict named, in text and in JSON.
	p.Target.CreateTopic(t, topic, 1, nil)
	before = snapshotClusters(t, p, topic, group)
	out, errOut, code := run(t, m.args("plan", "--until", "end")...)
	blocked := regexp.MustCompile(`(?m)^BLOCKED by 1 problem; nothing was written:\n- topic "` + regexp.QuoteMeta(topic) + `" -> "` + regexp.QuoteMeta(topic) + `": .*partition.*\n\z`)
	if code != 1 || !blocked.MatchString(out) {
		t.Errorf("plan with a conflicting target topic: exit %d, want 1 and the conflict last\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, m.args("plan", "--until", "end", "--output", "json")...)
	var r struct {
		SchemaVersion int      `json:"schema_version"`
		CanRun        bool     `json:"can_run"`
		Problems      []string `json:"problems"`
		Topics        []struct {
			Source string `json:"source"`
			Action string `json:"action"`
		} `json:"topics"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.SchemaVersion != 1 || r.CanRun || len(r.Problems) != 1 ||
		len(r.Topics) != 1 || r.Topics[0].Source != topic || r.Topics[0].Action != "conflict" {
		t.Errorf("plan --output json with a conflict: exit %d, %v, %+v\nstdout:\n%s\nstderr:\n%s", code, err, r, out, errOut)
	}
	if after := snapshotClusters(t, p, topic, group); after != before {
		t.Errorf("plan wrote to a cluster:\nbefore %s\nafter  %s", before, after)
	}
}

// name returns the migration's name, as its spec gives it.
func (m *migration) name(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(m.spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if n, ok := strings.CutPrefix(l, "name: "); ok {
			return n
		}
	}
	t.Fatalf("spec %s names no migration", m.spec)
	return ""
}

// table renders rows as kmigrate's text tables do (tabwriter, padding 2).
func table(rows ...[]string) string {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	var lines []string
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c + strings.Repeat(" ", widths[i]-len(c)+2))
		}
		lines = append(lines, b.String())
	}
	return strings.Join(lines, "\n")
}

// bytesText is kmigrate's rendering of a byte estimate.
func bytesText(b int64) string {
	switch {
	case b < 1<<10:
		return strconv.FormatInt(b, 10) + " B"
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// partitionSizes returns the size on disk of each partition of topic.
func partitionSizes(t *testing.T, c *kafkatest.Cluster, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dirs, err := c.Admin(t).DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int32]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == topic {
				sizes[p.Partition] += p.Size
			}
		})
	})
	return sizes
}

// snapshotClusters describes what a read-only command must not change:
// both clusters' topic names, topic's start and end offsets on both, and
// the group's committed offsets and the groups listed on both.
func snapshotClusters(t *testing.T, p *kafkatest.Pair, topic, group string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	for _, c := range []*kafkatest.Cluster{p.Source, p.Target} {
		adm := c.Admin(t)
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := topics.Names()
		slices.Sort(names)
		fmt.Fprintf(&b, "%s: topics %v;", c.Config.Role, names)
		if topics.Has(topic) {
			starts, err1 := adm.ListStartOffsets(ctx, topic)
			ends, err2 := adm.ListEndOffsets(ctx, topic)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			var ranges []string
			starts.Each(func(o kadm.ListedOffset) {
				e, _ := ends.Lookup(topic, o.Partition)
				ranges = append(ranges, fmt.Sprintf("%s/%d [%d,%d)", topic, o.Partition, o.Offset, e.Offset))
			})
			slices.Sort(ranges)
			fmt.Fprintf(&b, " %v", ranges)
		}
		groups, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gs := groups.Groups()
		slices.Sort(gs)
		fmt.Fprintf(&b, "; groups %v; %s committed %v. ", gs, group, committedOffsets(ctx, t, adm, group))
	}
	return b.String()
}

// committedOffsets returns group's committed offsets, asking again while
// the group coordinator is not ready (a cluster's first group request
// makes it load __consumer_offsets; Kafka answers
// COORDINATOR_NOT_AVAILABLE meanwhile).
func committedOffsets(ctx context.Context, t *testing.T, adm *kadm.Client, group string) map[string]map[int32]int64 {
	t.Helper()
	for {
		resp, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			out := map[string]map[int32]int64{}
			resp.Each(func(o kadm.OffsetResponse) {
				if out[o.Topic] == nil {
					out[o.Topic] = map[int32]int64{}
				}
				out[o.Topic][o.Partition] = o.At
			})
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("fetch offsets of group %q: %v", group, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
