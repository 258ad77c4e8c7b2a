package offsetmap_test

import (
	"testing"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
)

// BenchmarkAdd is the mirror's per-record cost while a run grows: it must
// report 0 allocs/op.
func BenchmarkAdd(b *testing.B) {
	var m offsetmap.Map
	var off int64
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Add(off, off+7); err != nil {
			b.Fatal(err)
		}
		off++
	}
}

// BenchmarkAddNewRuns starts a run with every record (the worst case: a gap
// after every record); amortised slice growth only.
func BenchmarkAddNewRuns(b *testing.B) {
	var m offsetmap.Map
	var off int64
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Add(off, 2*off); err != nil {
			b.Fatal(err)
		}
		off++
	}
}

// BenchmarkSegmenterTransaction is one transaction of 500 records, then
// Pending, encoding and Commit, with a 256-run open segment.
func BenchmarkSegmenterTransaction(b *testing.B) {
	s, err := offsetmap.NewSegmenter(nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	var source, target int64
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		for range 500 {
			if err := s.Add(source, target); err != nil {
				b.Fatal(err)
			}
			source++
			target++
		}
		target++ // commit marker
		for _, sg := range s.Pending() {
			buf = sg.AppendValue(buf[:0])
		}
		s.Commit()
	}
}

// millionRuns is a map of 1M runs of 100 records, with a marker after each
// run (the shape of an exactly-once mirror after 1M transactions).
func millionRuns(b *testing.B) *offsetmap.Map {
	b.Helper()
	var m offsetmap.Map
	for i := range int64(1 << 20) {
		if err := m.AddRun(offsetmap.Run{Source: i * 100, Target: i * 101, Len: 100}); err != nil {
			b.Fatal(err)
		}
	}
	return &m
}

func BenchmarkLookup(b *testing.B) {
	m := millionRuns(b)
	end := m.SourceEnd()
	var x int64
	b.ReportAllocs()
	for b.Loop() {
		x = (x + 7919*37) % end // spread over the whole map
		if _, _, ok := m.Lookup(x); !ok {
			b.Fatal("empty")
		}
	}
}

func BenchmarkReverse(b *testing.B) {
	m := millionRuns(b)
	end := m.TargetEnd()
	var x int64
	b.ReportAllocs()
	for b.Loop() {
		x = (x + 7919*37) % end
		if _, _, ok := m.Reverse(x); !ok {
			b.Fatal("empty")
		}
	}
}

func benchSegment() []offsetmap.Run {
	runs := make([]offsetmap.Run, 256)
	for i := range runs {
		runs[i] = offsetmap.Run{Source: 1_000_000 + int64(i)*501, Target: 2_000_000 + int64(i)*501, Len: 500}
	}
	return runs
}

func BenchmarkEncodeSegment(b *testing.B) {
	runs := benchSegment()
	buf := offsetmap.AppendEncoded(nil, runs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = offsetmap.AppendEncoded(buf[:0], runs)
	}
}

func BenchmarkDecodeSegment(b *testing.B) {
	v := offsetmap.AppendEncoded(nil, benchSegment())
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := offsetmap.Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}
