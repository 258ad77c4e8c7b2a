package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The sample data. Each topic shows one thing a migration must get right:
// orders is a plain keyed topic with headers and timestamps; customers is
// compacted and has tombstones and duplicate keys; payments is
// transactional with aborted transactions, so its offsets have gaps
// (transaction markers) that records do not account for, and a reader must
// leave out every aborted record. Its bulk transactions make each partition
// several MB deep, more than one fetch, with aborted transactions all
// along: a reader that learns of aborted transactions only from the first
// response of a partition (kfake, which runs the sandbox, leaves the list
// out of a response that reaches the request's MaxBytes) is caught. The
// groups sit part-way through their topics, one of them on a transaction
// marker.
const (
	ordersTopic    = "orders"
	customersTopic = "customers"
	paymentsTopic  = "payments"
	ordersGroup    = "orders-app"
	billingGroup   = "billing"

	numOrders    = 1000
	numCustomers = 60
	// Payments are written in three small transactions (committed,
	// aborted, committed), then in bulkTxns transactions of bulkTxnSize
	// records, of which every third is aborted. A bulk payment carries a
	// memo of bulkMemoBytes, so each takes about 1 KiB of the log and a
	// partition holds about 4 MB.
	paymentsPerTxn = 30
	abortedTxnSize = 15
	bulkTxns       = 60
	bulkTxnSize    = 200
	bulkMemoBytes  = 900

	// seedTransactionalID is the producer of the payments transactions.
	seedTransactionalID = "kmigrate-sandbox-seed"
)

// sampleTopics are created in this order; Seed's report follows it.
var sampleTopics = []struct {
	name       string
	partitions int32
	configs    map[string]string
}{
	{ordersTopic, 6, nil},
	{customersTopic, 3, map[string]string{"cleanup.policy": "compact"}},
	{paymentsTopic, 3, nil},
}

// sampleGroups are committed last, so their offsets mark a finished Seed.
var sampleGroups = []string{ordersGroup, billingGroup}

// SeedReport says what Seed wrote.
type SeedReport struct {
	// AlreadySeeded is true when the sample data was there before: Seed
	// wrote nothing and Topics and Groups are empty.
	AlreadySeeded bool
	Topics        []SeededTopic
	Groups        []SeededGroup
}

// SeededTopic is one sample topic as Seed left it.
type SeededTopic struct {
	Name       string
	Partitions int32
	Configs    map[string]string
	// Records is how many records a read_committed consumer sees,
	// tombstones included.
	Records int
	// Tombstones is how many of Records have a null value.
	Tombstones int
	// Aborted is how many records were written in aborted transactions;
	// only read_uncommitted consumers see them.
	Aborted int
	// EndOffsets is the log end offset of each partition (index =
	// partition). Transaction markers take offsets too, so it can exceed
	// the records in the partition.
	EndOffsets []int64
}

// SeededGroup is one sample consumer group and its committed offsets.
type SeededGroup struct {
	Name  string
	Topic string
	// Offsets is the committed offset of each partition (index =
	// partition).
	Offsets []int64
}

// Seed writes the sample data to the cluster at bootstrap: the topics
// orders (6 partitions, 1000 records), customers (compacted, 3 partitions,
// updates and tombstones) and payments (transactional, 3 partitions of
// about 4 MB, 8060 committed records and 4015 in aborted transactions),
// and the groups orders-app and billing with offsets
// committed part-way through them.
//
// Seed is idempotent: when the sample data is there already it changes
// nothing and says so in the report. When only part of it is there, which
// also happens on a real cluster that has an "orders" topic of its own, it
// writes nothing and returns ErrSeedIncomplete: topics cannot be filled
// again without duplicating records.
//
// The records are the same on every run except their timestamps, which
// lead up to the time of the call. Seed gives up when ctx ends.
func Seed(ctx context.Context, bootstrap []string, logger *slog.Logger) (SeedReport, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return SeedReport{}, fmt.Errorf("seed: create client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	have, total, err := sampleState(ctx, adm)
	switch {
	case err != nil:
		return SeedReport{}, fmt.Errorf("seed: %w", err)
	case have == total:
		logger.Info("sample data already present; nothing written")
		return SeedReport{AlreadySeeded: true}, nil
	case have > 0:
		return SeedReport{}, fmt.Errorf("seed: %d of %d sample topics and groups exist (was an earlier seed interrupted?); "+
			"reset the sandbox to start over: %w", have, total, ErrSeedIncomplete)
	}

	topics := make([]SeededTopic, len(sampleTopics))
	names := make([]string, len(sampleTopics))
	for i, spec := range sampleTopics {
		if topics[i], err = createTopic(ctx, adm, spec.name, spec.partitions, spec.configs); err != nil {
			return SeedReport{}, fmt.Errorf("seed: %w", err)
		}
		names[i] = spec.name
	}
	// The check above left "no such topic" in the client's metadata
	// cache, where kadm's ListOffsets and OffsetCommit would find it for
	// up to MetadataMinAge (5s). Producing refreshes the cache only for
	// the client that produces, and payments uses its own client.
	cl.PurgeTopicsFromClient(names...)

	now := time.Now()
	orders, customers, payments := &topics[0], &topics[1], &topics[2]
	if err := writeOrders(ctx, cl, orders, now); err != nil {
		return SeedReport{}, fmt.Errorf("seed: %w", err)
	}
	if err := writeCustomers(ctx, cl, customers, now); err != nil {
		return SeedReport{}, fmt.Errorf("seed: %w", err)
	}
	billingAt, err := writePayments(ctx, bootstrap, payments, now)
	if err != nil {
		return SeedReport{}, fmt.Errorf("seed: %w", err)
	}
	if err := endOffsets(ctx, adm, topics); err != nil {
		return SeedReport{}, fmt.Errorf("seed: %w", err)
	}
	rep := SeedReport{Topics: topics}
	for _, t := range topics {
		logger.Info("sample topic written", "topic", t.Name, "partitions", t.Partitions,
			"records", t.Records, "tombstones", t.Tombstones, "aborted", t.Aborted)
	}

	// orders-app has read half of each partition of orders. billing has
	// read the first payments transaction, so, like a real read_committed
	// consumer, it points at that transaction's commit marker.
	half := make([]int64, len(orders.EndOffsets))
	for p, end := range orders.EndOffsets {
		half[p] = end / 2
	}
	for _, g := range []SeededGroup{
		{Name: ordersGroup, Topic: ordersTopic, Offsets: half},
		{Name: billingGroup, Topic: paymentsTopic, Offsets: billingAt},
	} {
		if err := commit(ctx, adm, g); err != nil {
			return SeedReport{}, fmt.Errorf("seed: %w", err)
		}
		logger.Info("sample group committed", "group", g.Name, "topic", g.Topic, "offsets", g.Offsets)
		rep.Groups = append(rep.Groups, g)
	}
	return rep, nil
}

// sampleState counts the sample topics and groups (with committed
// offsets) that exist, out of how many there are.
func sampleState(ctx context.Context, adm *kadm.Client) (have, total int, err error) {
	total = len(sampleTopics) + len(sampleGroups)
	names := make([]string, len(sampleTopics))
	for i, spec := range sampleTopics {
		names[i] = spec.name
	}
	topics, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return 0, 0, fmt.Errorf("list topics: %w", err)
	}
	for _, name := range names {
		td, ok := topics[name]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		case td.Err != nil:
			return 0, 0, fmt.Errorf("describe topic %q: %w", name, td.Err)
		default:
			have++
		}
	}
	for _, g := range sampleGroups {
		offsets, err := adm.FetchOffsets(ctx, g)
		switch {
		case errors.Is(err, kerr.GroupIDNotFound):
		case err != nil:
			return 0, 0, fmt.Errorf("fetch offsets of group %q: %w", g, err)
		case len(offsets) > 0:
			have++
		}
	}
	return have, total, nil
}

// createTopic creates a sample topic. retention.ms=-1 keeps the data of a
// sandbox that is restarted weeks later; kfake applies time retention even
// to compacted topics, so customers needs it too.
func createTopic(ctx context.Context, adm *kadm.Client, name string, partitions int32, configs map[string]string) (SeededTopic, error) {
	cfgs := map[string]string{"retention.ms": "-1"}
	for k, v := range configs {
		cfgs[k] = v
	}
	ptrs := make(map[string]*string, len(cfgs))
	for k, v := range cfgs {
		ptrs[k] = kadm.StringPtr(v)
	}
	resp, err := adm.CreateTopics(ctx, partitions, -1, ptrs, name)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return SeededTopic{}, fmt.Errorf("create topic %q: %w", name, err)
	}
	return SeededTopic{Name: name, Partitions: partitions, Configs: cfgs}, nil
}

// produce writes recs to t and counts them. It returns, per partition,
// the offset after the last record written there (0 if none).
func produce(ctx context.Context, cl *kgo.Client, t *SeededTopic, recs []*kgo.Record) ([]int64, error) {
	results := cl.ProduceSync(ctx, recs...)
	if err := results.FirstErr(); err != nil {
		return nil, fmt.Errorf("produce to %q: %w", t.Name, err)
	}
	next := make([]int64, t.Partitions)
	for _, r := range results {
		t.Records++
		if r.Record.Value == nil {
			t.Tombstones++
		}
		next[r.Record.Partition] = max(next[r.Record.Partition], r.Record.Offset+1)
	}
	return next, nil
}

// endOffsets asks the cluster for the end offsets of ts, which, unlike
// the records written, count transaction markers.
func endOffsets(ctx context.Context, adm *kadm.Client, ts []SeededTopic) error {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	listed, err := adm.ListEndOffsets(ctx, names...)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	for i := range ts {
		ts[i].EndOffsets = make([]int64, ts[i].Partitions)
		for p := range ts[i].EndOffsets {
			o, ok := listed.Lookup(ts[i].Name, int32(p))
			if !ok {
				return fmt.Errorf("list end offsets: no answer for %s/%d", ts[i].Name, p)
			}
			ts[i].EndOffsets[p] = o.Offset
		}
	}
	return nil
}

// commit commits g's offsets as a group without members would, the way
// tools like kafka-consumer-groups --reset-offsets do.
func commit(ctx context.Context, adm *kadm.Client, g SeededGroup) error {
	var offsets kadm.Offsets
	for p, at := range g.Offsets {
		offsets.AddOffset(g.Topic, int32(p), at, -1)
	}
	if err := adm.CommitAllOffsets(ctx, g.Name, offsets); err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", g.Name, err)
	}
	return nil
}

// timestamp spreads the records of a topic over the seconds before now,
// in order, so timestamps are distinct and increasing like real traffic.
func timestamp(now time.Time, i, n int) time.Time {
	return now.Add(time.Duration(i-n) * time.Second).Truncate(time.Millisecond)
}

func customerKey(c int) []byte { return fmt.Appendf(nil, "customer-%d", c) }

// writeOrders writes orders, keyed by customer so that Kafka's default
// partitioner keeps a customer's orders in order on one partition.
func writeOrders(ctx context.Context, cl *kgo.Client, t *SeededTopic, now time.Time) error {
	statuses := []string{"created", "paid", "shipped", "delivered"}
	recs := make([]*kgo.Record, numOrders)
	for i := range recs {
		c := i % numCustomers
		recs[i] = &kgo.Record{
			Topic: ordersTopic,
			Key:   customerKey(c),
			Value: fmt.Appendf(nil, `{"order_id":"order-%04d","customer_id":"customer-%d","amount_cents":%d,"currency":"EUR","status":%q}`,
				i, c, 500+(i*7919)%20000, statuses[i%len(statuses)]),
			Headers: []kgo.RecordHeader{
				{Key: "content-type", Value: []byte("application/json")},
				{Key: "source", Value: []byte("kmigrate-sandbox")},
			},
			Timestamp: timestamp(now, i, numOrders),
		}
	}
	_, err := produce(ctx, cl, t, recs)
	return err
}

// writeCustomers writes the compacted customers topic in three rounds (so
// in separate batches, which kfake's compaction works on): every customer
// is created, then updated, then every tenth one is deleted with a
// tombstone. Until compaction runs, every key appears two or three times.
func writeCustomers(ctx context.Context, cl *kgo.Client, t *SeededTopic, now time.Time) error {
	tiers := []string{"bronze", "silver", "gold"}
	var rounds [3][]*kgo.Record
	for c := range numCustomers {
		rounds[0] = append(rounds[0], &kgo.Record{
			Key:   customerKey(c),
			Value: fmt.Appendf(nil, `{"customer_id":"customer-%d","name":"Customer %d","tier":"bronze","version":1}`, c, c),
		})
		rounds[1] = append(rounds[1], &kgo.Record{
			Key:   customerKey(c),
			Value: fmt.Appendf(nil, `{"customer_id":"customer-%d","name":"Customer %d","tier":%q,"version":2}`, c, c, tiers[c%len(tiers)]),
		})
		if c%10 == 9 {
			rounds[2] = append(rounds[2], &kgo.Record{Key: customerKey(c)}) // tombstone
		}
	}
	n := len(rounds[0]) + len(rounds[1]) + len(rounds[2])
	i := 0
	for _, recs := range rounds {
		for _, r := range recs {
			r.Topic, r.Timestamp = customersTopic, timestamp(now, i, n)
			i++
		}
		if _, err := produce(ctx, cl, t, recs); err != nil {
			return err
		}
	}
	return nil
}

// paymentTxn is one transaction of payments.
type paymentTxn struct {
	size int
	end  kgo.TransactionEndTry
	bulk bool // payments with a memo
}

// paymentTxns is every payments transaction, in order: 30 committed, 15
// aborted, 30 committed (pay-0030 to pay-0044 are the aborted ones), then
// the bulk transactions, every third of which (the 3rd, 6th, ...) is
// aborted.
func paymentTxns() []paymentTxn {
	txns := []paymentTxn{{paymentsPerTxn, kgo.TryCommit, false}, {abortedTxnSize, kgo.TryAbort, false}, {paymentsPerTxn, kgo.TryCommit, false}}
	for i := range bulkTxns {
		end := kgo.TryCommit
		if i%3 == 2 {
			end = kgo.TryAbort
		}
		txns = append(txns, paymentTxn{bulkTxnSize, end, true})
	}
	return txns
}

// bulkMemo pads a bulk payment to about 1 KiB, like the line items of a
// real one.
var bulkMemo = func() string {
	const line = "settled in bulk with the day's card payments; "
	return strings.Repeat(line, bulkMemoBytes/len(line)+1)[:bulkMemoBytes]
}()

// SeedPayments creates the payments topic (transactional, 3 partitions) on
// the cluster at bootstrap and writes what Seed writes there. The demo
// uses it for its transactional history; Seed writes payments along with
// the other sample topics.
func SeedPayments(ctx context.Context, bootstrap []string) (SeededTopic, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return SeededTopic{}, fmt.Errorf("seed payments: create client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	spec := sampleTopics[2]
	t, err := createTopic(ctx, adm, spec.name, spec.partitions, spec.configs)
	if err != nil {
		return SeededTopic{}, fmt.Errorf("seed payments: %w", err)
	}
	if _, err := writePayments(ctx, bootstrap, &t, time.Now()); err != nil {
		return SeededTopic{}, fmt.Errorf("seed payments: %w", err)
	}
	ts := []SeededTopic{t}
	if err := endOffsets(ctx, adm, ts); err != nil {
		return SeededTopic{}, fmt.Errorf("seed payments: %w", err)
	}
	return ts[0], nil
}

// writePayments writes the transactions of paymentTxns to payments.
// Payment ids run on across all of them. Every transaction is flushed
// (ProduceSync returns once the log holds each record) before it ends, so
// the records of aborted transactions are in the log, where only their
// abort markers and the partitions' aborted-transaction index hide them.
// It returns, per partition, the offset after the first transaction's last
// record.
func writePayments(ctx context.Context, bootstrap []string, t *SeededTopic, now time.Time) ([]int64, error) {
	// No compression: the records take in the log the room they take
	// here, so the partitions are as deep as the constants say.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.TransactionalID(seedTransactionalID),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return nil, fmt.Errorf("create transactional client: %w", err)
	}
	defer cl.Close()

	txns := paymentTxns()
	n := 0
	for _, txn := range txns {
		n += txn.size
	}
	id := 0
	var firstTxnEnd []int64
	for _, txn := range txns {
		recs := make([]*kgo.Record, txn.size)
		for i := range recs {
			c := (id * 7) % numCustomers
			value := fmt.Appendf(nil, `{"payment_id":"pay-%04d","customer_id":"customer-%d","amount_cents":%d,"method":"card"`,
				id, c, 500+(id*7919)%20000)
			if txn.bulk {
				value = fmt.Appendf(value, `,"memo":%q`, bulkMemo)
			}
			recs[i] = &kgo.Record{
				Topic:     paymentsTopic,
				Key:       customerKey(c),
				Value:     append(value, '}'),
				Timestamp: timestamp(now, id, n),
			}
			id++
		}
		if err := cl.BeginTransaction(); err != nil {
			return nil, fmt.Errorf("begin transaction: %w", err)
		}
		visible := t.Records
		next, err := produce(ctx, cl, t, recs)
		if err != nil {
			_ = cl.EndTransaction(ctx, kgo.TryAbort)
			return nil, err
		}
		if err := cl.EndTransaction(ctx, txn.end); err != nil {
			return nil, fmt.Errorf("end transaction: %w", err)
		}
		if txn.end == kgo.TryAbort {
			// The records stay in the log, hidden from
			// read_committed consumers.
			t.Aborted += t.Records - visible
			t.Records = visible
		}
		if firstTxnEnd == nil {
			firstTxnEnd = next
		}
	}
	return firstTxnEnd, nil
}
