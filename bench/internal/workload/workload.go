// Package workload is the data the mirror benchmark copies, and the plain
// franz-go clients that write, read and check it.
//
// The records are a pure function of their index and the Spec: record i
// goes to partition i mod Partitions, with a fixed-width key ("k" and ten
// digits) and a value of Size bytes cut from a pool of pseudo-random
// printable characters. So the seeder and the produce-only baseline write
// exactly the same content without reading anything, and the expected
// per-partition count and digest of a correct copy can be computed without
// reading the source. Keys and values never contain a tab or a newline, so
// that a kcat pipe with the format '%k\t%s\n' carries them unchanged.
//
// The clients use franz-go's defaults except where a choice is needed to
// compare like with like: no compression (kmigrate's default), the records'
// own partition (ManualPartitioner), read_committed fetches.
package workload

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
)

// KeyLen is the length of every key.
const KeyLen = 11

// poolSize is how many distinct value start positions there are. A large
// pool keeps values distinct enough that a copy that shuffles records
// within a partition changes the digest.
const poolSize = 1 << 20

// alphabet holds the bytes of values: printable, no tab or newline.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Spec describes the records of one benchmark run.
type Spec struct {
	// Records is how many records there are.
	Records int `json:"records"`
	// Size is the length of every value in bytes.
	Size int `json:"value_size"`
	// Partitions is how many partitions the records are spread over.
	Partitions int `json:"partitions"`
	// Seed picks the value contents.
	Seed uint64 `json:"seed"`

	pool []byte
}

// NewSpec validates the numbers and builds the value pool.
func NewSpec(records, size, partitions int, seed uint64) (*Spec, error) {
	if records < 1 || size < 1 || partitions < 1 {
		return nil, fmt.Errorf("records %d, size %d, partitions %d: each must be at least 1", records, size, partitions)
	}
	if size > 900_000 {
		return nil, fmt.Errorf("size %d: must fit a 1 MB record batch", size)
	}
	s := &Spec{Records: records, Size: size, Partitions: partitions, Seed: seed}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.pool = make([]byte, poolSize+size)
	for i := range s.pool {
		s.pool[i] = alphabet[rng.Uint32()%uint32(len(alphabet))]
	}
	return s, nil
}

// Partition is the partition of record i.
func (s *Spec) Partition(i int) int32 { return int32(i % s.Partitions) }

// Key is the key of record i: "k" and i in ten digits.
func (s *Spec) Key(i int) []byte {
	b := make([]byte, 1, KeyLen)
	b[0] = 'k'
	d := strconv.AppendUint(make([]byte, 0, 10), uint64(i), 10)
	for range 10 - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}

// Value is the value of record i. It aliases the pool: callers must not
// modify it.
func (s *Spec) Value(i int) []byte {
	// A multiplicative hash spreads consecutive records over the pool.
	off := int((uint64(i)*0x9e3779b97f4a7c15)>>40) % poolSize
	return s.pool[off : off+s.Size : off+s.Size]
}

// Bytes is the key and value bytes of all records.
func (s *Spec) Bytes() int64 { return int64(s.Records) * int64(KeyLen+s.Size) }

// Sum is the count and digest of one partition's records.
type Sum struct {
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
	Digest  uint32 `json:"digest"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Add folds one record into the sum. The digest depends on the order of
// records and on where the key ends and the value starts.
func (s *Sum) Add(key, value []byte) {
	var lens [8]byte
	putUint32(lens[:4], uint32(len(key)))
	putUint32(lens[4:], uint32(len(value)))
	s.Digest = crc32.Update(s.Digest, castagnoli, lens[:])
	s.Digest = crc32.Update(s.Digest, castagnoli, key)
	s.Digest = crc32.Update(s.Digest, castagnoli, value)
	s.Records++
	s.Bytes += int64(len(key) + len(value))
}

func putUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// Expected is the per-partition sum of a complete, in-order copy.
func (s *Spec) Expected() []Sum {
	sums := make([]Sum, s.Partitions)
	for i := range s.Records {
		sums[s.Partition(i)].Add(s.Key(i), s.Value(i))
	}
	return sums
}

// Compare describes how got differs from want, or returns "" when they
// are equal.
func Compare(want, got []Sum) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d partitions, want %d", len(got), len(want))
	}
	var wantN, gotN int64
	for _, w := range want {
		wantN += w.Records
	}
	for _, g := range got {
		gotN += g.Records
	}
	for p := range want {
		switch w, g := want[p], got[p]; {
		case w.Records != g.Records:
			return fmt.Sprintf("%d records in total, want %d; partition %d has %d, want %d", gotN, wantN, p, g.Records, w.Records)
		case w.Bytes != g.Bytes:
			return fmt.Sprintf("partition %d: %d records as expected but %d bytes, want %d", p, g.Records, g.Bytes, w.Bytes)
		case w.Digest != g.Digest:
			return fmt.Sprintf("partition %d: %d records as expected but different content or order (digest %08x, want %08x)", p, g.Records, g.Digest, w.Digest)
		}
	}
	return ""
}

// CompareCounts is Compare for sums made without digests: it compares
// only records and bytes per partition.
func CompareCounts(want, got []Sum) string {
	strip := func(sums []Sum) []Sum {
		out := make([]Sum, len(sums))
		for i, s := range sums {
			out[i] = Sum{Records: s.Records, Bytes: s.Bytes}
		}
		return out
	}
	return Compare(strip(want), strip(got))
}
