package status

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/kmigrate/kmigrate/internal/partread"
	"github.com/kmigrate/kmigrate/internal/trace"
)

// The records status reads (the first uncopied source record of each
// lagging partition, the last records of each target partition) are read
// with partread, so that records of aborted transactions are never taken
// for writes, whether or not the broker lists them: an aborted native
// transaction on the target is no sign that producers moved.

// readBytes bounds each fetch of those reads; readParallel bounds the
// partitions read at once.
const (
	readBytes    = 256 << 10
	readParallel = 8
)

// firstRecords returns the timestamp of the first readable record at or
// after each partition's offset, below its end. A partition that cannot
// be read within readTimeout is left out.
func firstRecords(ctx context.Context, cl *kgo.Client, topic string, from map[int32]int64, ends kadm.ListedOffsets) (map[int32]time.Time, error) {
	out := map[int32]time.Time{}
	var mu sync.Mutex
	leaders := partread.NewLeaders(cl, "source")
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(readParallel)
	for p, o := range from {
		end := int64(math.MaxInt64)
		if e, ok := ends.Lookup(topic, p); ok && e.Err == nil {
			end = e.Offset
		}
		g.Go(func() error {
			rd := partread.New(cl, leaders, topic, p, readBytes)
			for pos := o; pos < end; {
				fp, next, err := rd.Fetch(rctx, pos)
				if err != nil {
					return nil
				}
				if len(fp.Records) > 0 {
					if r := fp.Records[0]; r.Offset < end {
						mu.Lock()
						out[p] = r.Timestamp
						mu.Unlock()
					}
					return nil
				}
				if next <= pos {
					return nil
				}
				pos = next
			}
			return nil
		})
	}
	g.Wait()
	return out, ctx.Err()
}

// nativeTail reads the last offsets of each target partition and returns
// the timestamps of the records there that are not copies from the source
// cluster (trace.Native: no tracing header naming it). A partition that
// cannot be read within readTimeout contributes what was read.
func nativeTail(ctx context.Context, in inputs, src, tgt string, last offsets) ([]time.Time, error) {
	type span struct {
		partition int32
		from, end int64
	}
	var spans []span
	last.tgtEnds.Each(func(e kadm.ListedOffset) {
		if e.Topic != tgt {
			return
		}
		start := int64(0)
		if s, ok := last.tgtStarts.Lookup(tgt, e.Partition); ok {
			start = s.Offset
		}
		if from := max(start, e.Offset-tail); from < e.Offset {
			spans = append(spans, span{e.Partition, from, e.Offset})
		}
	})
	var (
		mu  sync.Mutex
		out []time.Time
	)
	leaders := partread.NewLeaders(in.Target, "target")
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(readParallel)
	for _, s := range spans {
		g.Go(func() error {
			rd := partread.New(in.Target, leaders, tgt, s.partition, readBytes)
			for pos := s.from; pos < s.end; {
				fp, next, err := rd.Fetch(rctx, pos)
				if err != nil {
					return nil
				}
				for _, r := range fp.Records {
					if r.Offset >= s.end {
						break
					}
					// A corrupt header is no evidence of a native write
					// (the one rule: trace doc).
					if _, k, _ := trace.FromCluster(r.Headers, in.SourceID); k == trace.Native {
						mu.Lock()
						out = append(out, r.Timestamp.UTC())
						mu.Unlock()
					}
				}
				if next <= pos {
					return nil
				}
				pos = next
			}
			return nil
		})
	}
	g.Wait()
	return out, ctx.Err()
}
