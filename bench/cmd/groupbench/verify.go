package main

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// verified is what verify found.
type verified struct {
	exact, end int
	// problem is the first wrong translation, "" if none.
	problem string
}

// verify checks the translations against the target's records, as a
// consumer of the migrated group would see them: for every partition not
// at the end, the first record a read_committed consumer receives at the
// translated offset must be the copy (by its tracing header) of the
// committed source offset for Exact, or of a later one otherwise. One
// consumer reads every partition at once; it is not timed as part of any
// method.
func verify(ctx context.Context, in *Inputs, res []Translation) (verified, error) {
	var v verified
	from := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	kinds := map[int32]groups.Kind{}
	for i, r := range res {
		pi := in.Partitions[i]
		if r.Kind == groups.End {
			v.end++
			continue
		}
		from[pi.Partition] = kgo.NewOffset().At(r.Offset)
		want[pi.Partition] = pi.Committed
		kinds[pi.Partition] = r.Kind
	}
	if len(from) == 0 {
		return v, nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(in.Target...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxPartitionBytes(64<<10),
	)
	if err != nil {
		return v, err
	}
	defer cl.Close()
	for len(from) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return v, err
		}
		if err := fs.Err(); err != nil {
			return v, fmt.Errorf("read the target: %w", err)
		}
		var done []int32
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			p := fp.Partition
			if _, open := from[p]; !open || len(fp.Records) == 0 {
				return
			}
			r := fp.Records[0]
			o, ok, err := trace.Find(r.Headers)
			c := want[p]
			switch {
			case err != nil || !ok:
				v.fail(fmt.Sprintf("partition %d: target offset %d has no valid tracing header (%v)", p, r.Offset, err))
			case o.ClusterID != in.SourceID || o.Topic != topic || o.Partition != p:
				v.fail(fmt.Sprintf("partition %d: target offset %d is the copy of %s/%s/%d, not of this partition", p, r.Offset, o.ClusterID, o.Topic, o.Partition))
			case kinds[p] == groups.Exact && o.Offset != c:
				v.fail(fmt.Sprintf("partition %d: committed %d (exact) but the first record at target offset %d is the copy of source offset %d", p, c, r.Offset, o.Offset))
			case o.Offset < c:
				v.fail(fmt.Sprintf("partition %d: committed %d but the first record at target offset %d is the copy of earlier source offset %d", p, c, r.Offset, o.Offset))
			default:
				v.exact++
			}
			delete(from, p)
			done = append(done, p)
		})
		if len(done) > 0 {
			cl.PauseFetchPartitions(map[string][]int32{topic: done})
		}
	}
	return v, nil
}

func (v *verified) fail(s string) {
	if v.problem == "" {
		v.problem = s
	}
}
