package sandbox_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/sandbox"
)

// wantReport is what Seed writes. The records per partition follow from
// Kafka's default partitioner (murmur2 of the keys customer-0 to
// customer-59), so they are the same on every run and every machine.
// payments has 75 records in 3 small transactions, then 12000 in 60 bulk
// transactions of 200, every third aborted: 8060 committed and 4015
// aborted records, and a transaction marker per transaction and partition
// it wrote to. billing's offsets add up to 30, the first transaction: each
// points at that transaction's commit marker.
var wantReport = sandbox.SeedReport{
	Topics: []sandbox.SeededTopic{
		{
			Name: "orders", Partitions: 6,
			Configs:    map[string]string{"retention.ms": "-1"},
			Records:    1000,
			EndOffsets: []int64{168, 235, 167, 165, 149, 116},
		},
		{
			Name: "customers", Partitions: 3,
			Configs:    map[string]string{"cleanup.policy": "compact", "retention.ms": "-1"},
			Records:    126,
			Tombstones: 6,
			EndOffsets: []int64{43, 48, 35},
		},
		{
			Name: "payments", Partitions: 3,
			Configs:    map[string]string{"retention.ms": "-1"},
			Records:    8060,
			Aborted:    4015,
			EndOffsets: []int64{4087, 4694, 3483},
		},
	},
	Groups: []sandbox.SeededGroup{
		{Name: "orders-app", Topic: "orders", Offsets: []int64{84, 117, 83, 82, 74, 58}},
		{Name: "billing", Topic: "payments", Offsets: []int64{9, 13, 8}},
	},
}

// TestSeedAndRestart is the newcomer's path: seed, look at the data, stop
// the sandbox, start it again and find everything as it was.
func TestSeedAndRestart(t *testing.T) {
	dir := t.TempDir()
	first, err := sandbox.Start(t.Context(), randomConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	rep, err := sandbox.Seed(t.Context(), first.Source().Bootstrap, testLogger(t))
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if !reflect.DeepEqual(rep, wantReport) {
		t.Fatalf("Seed report:\n got %+v\nwant %+v", rep, wantReport)
	}
	before := readSample(t, first.Source().Bootstrap)
	checkSample(t, before)
	checkPaymentsDepth(t, first.Source().Bootstrap)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	again := start(t, randomConfig(t, dir))
	rep, err = sandbox.Seed(t.Context(), again.Source().Bootstrap, testLogger(t))
	if err != nil {
		t.Fatalf("Seed after restart: %v", err)
	}
	if want := (sandbox.SeedReport{AlreadySeeded: true}); !reflect.DeepEqual(rep, want) {
		t.Errorf("Seed after restart: %+v, want %+v", rep, want)
	}
	after := readSample(t, again.Source().Bootstrap)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("sample data changed across the restart:\nbefore %+v\n after %+v", before, after)
	}
}

func TestSeedRefusesPartialSampleData(t *testing.T) {
	s := start(t, randomConfig(t, t.TempDir()))
	adm := newAdmin(t, s.Source().Bootstrap)
	if _, err := adm.CreateTopic(t.Context(), 6, -1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	_, err := sandbox.Seed(t.Context(), s.Source().Bootstrap, testLogger(t))
	if !errors.Is(err, sandbox.ErrSeedIncomplete) {
		t.Fatalf("Seed: %v, want ErrSeedIncomplete", err)
	}
	want := "seed: 1 of 5 sample topics and groups exist (was an earlier seed interrupted?); " +
		"reset the sandbox to start over: sample data is incomplete"
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	topics, err := adm.ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if names := topics.Names(); !slices.Equal(names, []string{"orders"}) {
		t.Errorf("topics after refused Seed: %v, want [orders]", names)
	}
}

// record is a record as a migration must keep it.
type record struct {
	Partition int32
	Offset    int64
	Key       string
	Value     *string // nil for a tombstone
	Headers   []kgo.RecordHeader
	Timestamp int64
}

// sample is everything Seed wrote, as read back from the cluster.
type sample struct {
	Orders, Customers   []record
	Payments            []record                     // read_committed
	PaymentsUncommitted []record                     // read_uncommitted
	Configs             map[string]map[string]string // topic -> configs set on it
	EndOffsets          map[string][]int64
	Committed           map[string][]int64 // group/topic -> offset per partition
}

func readSample(t *testing.T, bootstrap []string) sample {
	t.Helper()
	s := sample{
		Orders:              records(consume(t, bootstrap, "orders", kgo.ReadCommitted(), 1000)),
		Customers:           records(consume(t, bootstrap, "customers", kgo.ReadCommitted(), 126)),
		Payments:            records(consume(t, bootstrap, "payments", kgo.ReadCommitted(), 8060)),
		PaymentsUncommitted: records(consume(t, bootstrap, "payments", kgo.ReadUncommitted(), 12075)),
		Configs:             make(map[string]map[string]string),
		EndOffsets:          make(map[string][]int64),
		Committed:           make(map[string][]int64),
	}
	adm := newAdmin(t, bootstrap)
	rcs, err := adm.DescribeTopicConfigs(t.Context(), "orders", "customers", "payments")
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			t.Fatalf("describe configs of %s: %v", rc.Name, rc.Err)
		}
		s.Configs[rc.Name] = make(map[string]string)
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
				s.Configs[rc.Name][c.Key] = *c.Value
			}
		}
	}
	ends, err := adm.ListEndOffsets(t.Context(), "orders", "customers", "payments")
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets: %v %v", err, ends.Error())
	}
	for _, o := range ends.Offsets().Sorted() {
		s.EndOffsets[o.Topic] = append(s.EndOffsets[o.Topic], o.At)
	}
	for _, g := range []string{"orders-app", "billing"} {
		fetched, err := adm.FetchOffsets(t.Context(), g)
		if err != nil || fetched.Error() != nil {
			t.Fatalf("fetch offsets of %s: %v %v", g, err, fetched.Error())
		}
		for _, o := range fetched.Offsets().Sorted() {
			s.Committed[g+"/"+o.Topic] = append(s.Committed[g+"/"+o.Topic], o.At)
		}
	}
	return s
}

func records(rs []*kgo.Record) []record {
	out := make([]record, len(rs))
	for i, r := range rs {
		out[i] = record{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Headers: r.Headers,
			Timestamp: r.Timestamp.UnixMilli()}
		if r.Value != nil {
			v := string(r.Value)
			out[i].Value = &v
		}
	}
	slices.SortFunc(out, func(a, b record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out
}

// checkSample checks the data against what Seed promises, record by record.
func checkSample(t *testing.T, s sample) {
	t.Helper()
	wantEnds := map[string][]int64{}
	wantConfigs := map[string]map[string]string{}
	for _, tp := range wantReport.Topics {
		wantEnds[tp.Name] = tp.EndOffsets
		wantConfigs[tp.Name] = tp.Configs
	}
	if !reflect.DeepEqual(s.EndOffsets, wantEnds) {
		t.Errorf("end offsets %v, want %v", s.EndOffsets, wantEnds)
	}
	if !reflect.DeepEqual(s.Configs, wantConfigs) {
		t.Errorf("topic configs %v, want %v", s.Configs, wantConfigs)
	}
	wantCommitted := map[string][]int64{
		"orders-app/orders": {84, 117, 83, 82, 74, 58},
		"billing/payments":  {9, 13, 8},
	}
	if !reflect.DeepEqual(s.Committed, wantCommitted) {
		t.Errorf("committed offsets %v, want %v", s.Committed, wantCommitted)
	}
	checkOrders(t, s.Orders)
	checkCustomers(t, s.Customers)
	checkPayments(t, s.Payments, s.PaymentsUncommitted)
}

// checkOrders: orders 0 to 999 once each, keyed by their customer, with
// both headers, gapless offsets and increasing timestamps per partition.
func checkOrders(t *testing.T, rs []record) {
	t.Helper()
	wantHeaders := []kgo.RecordHeader{
		{Key: "content-type", Value: []byte("application/json")},
		{Key: "source", Value: []byte("kmigrate-sandbox")},
	}
	seen := make([]bool, 1000)
	next := make(map[int32]int64)
	lastTS := make(map[int32]int64)
	for _, r := range rs {
		var v struct {
			OrderID    string `json:"order_id"`
			CustomerID string `json:"customer_id"`
		}
		if r.Value == nil || json.Unmarshal([]byte(*r.Value), &v) != nil {
			t.Fatalf("orders %d/%d: value %v is not an order", r.Partition, r.Offset, r.Value)
		}
		n := number(t, v.OrderID, "order-")
		if seen[n] {
			t.Errorf("order %d twice", n)
		}
		seen[n] = true
		if want := fmt.Sprintf("customer-%d", n%60); v.CustomerID != want || r.Key != want {
			t.Errorf("order %d: key %q customer %q, want %q", n, r.Key, v.CustomerID, want)
		}
		if !reflect.DeepEqual(r.Headers, wantHeaders) {
			t.Errorf("order %d headers %v", n, r.Headers)
		}
		if r.Offset != next[r.Partition] {
			t.Errorf("orders %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		if r.Timestamp <= lastTS[r.Partition] {
			t.Errorf("orders %d/%d: timestamp %d not after %d", r.Partition, r.Offset, r.Timestamp, lastTS[r.Partition])
		}
		next[r.Partition], lastTS[r.Partition] = r.Offset+1, r.Timestamp
	}
	if i := slices.Index(seen, false); i >= 0 {
		t.Errorf("order %d missing", i)
	}
}

// checkCustomers: every customer is created and updated; every tenth is
// then deleted with a tombstone. All of a key's records share a partition.
func checkCustomers(t *testing.T, rs []record) {
	t.Helper()
	byKey := make(map[string][]record)
	for _, r := range rs {
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	if len(byKey) != 60 {
		t.Errorf("%d customer keys, want 60", len(byKey))
	}
	for c := range 60 {
		key := fmt.Sprintf("customer-%d", c)
		got := byKey[key]
		want := 2
		if c%10 == 9 {
			want = 3
		}
		if len(got) != want {
			t.Errorf("%s: %d records, want %d", key, len(got), want)
			continue
		}
		for i, r := range got {
			tombstone := i == 2
			if (r.Value == nil) != tombstone || r.Partition != got[0].Partition {
				t.Errorf("%s record %d: value %v partition %d", key, i, r.Value, r.Partition)
			}
			if !tombstone && !strings.Contains(*r.Value, fmt.Sprintf(`"version":%d`, i+1)) {
				t.Errorf("%s record %d: value %s, want version %d", key, i, *r.Value, i+1)
			}
		}
	}
}

// checkPayments: read_committed sees pay-0000 to pay-0029, pay-0045 to
// pay-0074 and the bulk transactions but every third (the bulk payments
// from 75+200k to 75+200k+199 for k = 2, 5, 8, ...); read_uncommitted also
// sees the aborted ones. billing's offsets split each partition between
// the first transaction and the rest.
func checkPayments(t *testing.T, committed, uncommitted []record) {
	t.Helper()
	ids := func(rs []record) []int {
		var out []int
		for _, r := range rs {
			var v struct {
				PaymentID string `json:"payment_id"`
			}
			if r.Value == nil || json.Unmarshal([]byte(*r.Value), &v) != nil {
				t.Fatalf("payments %d/%d: value %v is not a payment", r.Partition, r.Offset, r.Value)
			}
			out = append(out, number(t, v.PaymentID, "pay-"))
		}
		slices.Sort(out)
		return out
	}
	var want []int
	for i := range 12075 {
		switch {
		case i >= 30 && i < 45:
		case i >= 75 && (i-75)/200%3 == 2:
		default:
			want = append(want, i)
		}
	}
	if got := ids(committed); !slices.Equal(got, want) {
		t.Errorf("read_committed payments: %d ids, want %d: %s", len(got), len(want), firstDifference(got, want))
	}
	all := make([]int, 12075)
	for i := range all {
		all[i] = i
	}
	if got := ids(uncommitted); !slices.Equal(got, all) {
		t.Errorf("read_uncommitted payments: %d ids, want 0 to 12074: %s", len(got), firstDifference(got, all))
	}
	billing := wantReport.Groups[1].Offsets
	for _, r := range committed {
		id := ids([]record{r})[0]
		if firstTxn := id < 30; firstTxn != (r.Offset < billing[r.Partition]) {
			t.Errorf("pay-%04d at %d/%d is on the wrong side of billing's offset %d",
				id, r.Partition, r.Offset, billing[r.Partition])
		}
	}
}

// checkPaymentsDepth: each payments partition is more than 3 MiB deep, so
// more than one fetch at kmigrate verify's 1 MiB and the mirror's smallest
// memory budget: the aborted transactions past the first response of a
// partition are there to be misread.
func checkPaymentsDepth(t *testing.T, bootstrap []string) {
	t.Helper()
	dirs, err := newAdmin(t, bootstrap).DescribeAllLogDirs(t.Context(), nil)
	if err != nil {
		t.Fatalf("describe log dirs: %v", err)
	}
	size := map[int32]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == "payments" {
				size[p.Partition] = max(size[p.Partition], p.Size)
			}
		})
	})
	for p := range int32(3) {
		if size[p] < 3<<20 {
			t.Errorf("payments/%d holds %d bytes, want more than 3 MiB", p, size[p])
		}
	}
}

// firstDifference describes where two sorted id lists first differ.
func firstDifference(got, want []int) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at index %d got %d, want %d", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("equal for %d ids", min(len(got), len(want)))
}

func number(t *testing.T, s, prefix string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(s, prefix))
	if !strings.HasPrefix(s, prefix) || err != nil {
		t.Fatalf("%q is not %s followed by a number", s, prefix)
	}
	return n
}
