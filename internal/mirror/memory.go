package mirror

// Per-record memory. The budget counts bytes that records occupy in
// memory, not just their keys and values: a decoded record also holds a
// kgo.Record (160 bytes), its header slice, the tracing header, the
// producer's bookkeeping and our pending entry. With 1 KiB values that is
// noise; with 40-byte records it is most of the memory (measured with
// bench/cmd/mirrorbench --size 32: a 64 MiB budget peaked at 99 MiB when
// only keys and values were counted).
const (
	// recordOverhead is the memory a record in flight costs beyond its
	// key, value and header bytes (sizes measured on amd64, rounded up to
	// allocation classes, with margin).
	recordOverhead = 320
	// wireOverhead is what a record costs in a fetch response beyond its
	// key, value and header bytes: its varint framing and a share of its
	// batch header.
	wireOverhead = 16
	// minFetchBytes is the smallest fetch size adaptFetch sets.
	minFetchBytes = 64 << 10
)

// memSize is what a record of size key, value and header bytes counts
// against the transaction and memory bounds.
func memSize(size int) int64 { return int64(size) + recordOverhead }

// fetchSizer keeps fetch responses within their share of the budget once
// decoded: fetch sizes are wire bytes, and small records decode to several
// times their wire size. It tracks the average record size and scales the
// fetch size down by the ratio of wire size to memory size.
type fetchSizer struct {
	base    int32 // the fetch size for large records (fetchBytes)
	current int32
	avg     float64 // moving average of key, value and header bytes
}

func newFetchSizer(base int32) *fetchSizer {
	return &fetchSizer{base: base, current: base}
}

// observe records a poll of n records with bytes key, value and header
// bytes and returns the fetch size to set and whether it changed enough
// to be worth setting.
func (f *fetchSizer) observe(n int, bytes int64) (int32, bool) {
	if n == 0 {
		return f.current, false
	}
	per := float64(bytes) / float64(n)
	if f.avg == 0 {
		f.avg = per
	} else {
		f.avg = 0.8*f.avg + 0.2*per
	}
	want := int32(float64(f.base) * (f.avg + wireOverhead) / (f.avg + recordOverhead))
	want = min(max(want, minFetchBytes), f.base)
	// Only changes of more than a quarter are applied: each one rebuilds
	// fetch requests.
	if d := want - f.current; d*4 > f.current || -d*4 > f.current {
		f.current = want
		return want, true
	}
	return f.current, false
}
