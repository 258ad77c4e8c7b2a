package partread

import (
	"encoding/binary"
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// batch encodes a v2 record batch of producer pid at base covering n
// offsets; a control batch holds one marker record (commit or abort).
func batch(base int64, n int32, pid int64, control, commit bool) []byte {
	b := kmsg.RecordBatch{FirstOffset: base, Magic: 2, Attributes: 0x10, LastOffsetDelta: n - 1, ProducerID: pid, NumRecords: n}
	if control {
		b.Attributes |= 0x20
		key := []byte{0, 0, 0, 0}
		if commit {
			key[3] = 1
		}
		var rec []byte
		rec = append(rec, 0)                // attributes
		rec = binary.AppendVarint(rec, 0)   // timestamp delta
		rec = binary.AppendVarint(rec, 0)   // offset delta
		rec = binary.AppendVarint(rec, 4)   // key length
		rec = append(rec, key...)           //
		rec = binary.AppendVarint(rec, 6)   // value length
		rec = append(rec, 0, 0, 0, 0, 0, 0) // version, coordinator epoch
		rec = binary.AppendVarint(rec, 0)   // headers
		b.Records = append(binary.AppendVarint(nil, int64(len(rec))), rec...)
	} else {
		b.Records = make([]byte, 20*n) // not read
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:12], uint32(len(out)-12))
	return out
}

func TestScanMarkers(t *testing.T) {
	var log []byte
	log = append(log, batch(0, 5, 7, false, false)...) // P=7 data 0-4
	log = append(log, batch(5, 1, 8, true, true)...)   // Q=8 commits at 5
	log = append(log, batch(6, 3, 9, false, false)...) // R=9 data 6-8
	log = append(log, batch(9, 1, 7, true, false)...)  // P aborts at 9
	log = append(log, batch(10, 1, 9, true, true)...)  // R commits at 10
	cases := []struct {
		name  string
		b     []byte
		pos   int64
		want  map[int64]bool
		found map[int64]marker
		next  int64
	}{
		{"all", log, 0, map[int64]bool{7: true, 8: true}, map[int64]marker{7: {9, false}, 8: {5, true}}, 10},
		{"stops once found", log, 0, map[int64]bool{8: true}, map[int64]marker{8: {5, true}}, 6},
		{"batches before pos skipped", log, 6, map[int64]bool{8: true, 9: true}, map[int64]marker{9: {10, true}}, 11},
		{"partial batch at the end", log[:len(log)-3], 0, map[int64]bool{9: true}, map[int64]marker{}, 10},
		{"nothing", nil, 4, map[int64]bool{7: true}, map[int64]marker{}, 4},
	}
	for _, tc := range cases {
		found := map[int64]marker{}
		next, err := scanMarkers(tc.b, tc.pos, tc.want, found)
		if err != nil || next != tc.next || !maps.Equal(found, tc.found) {
			t.Errorf("%s: next %d, found %v, err %v; want %d, %v", tc.name, next, found, err, tc.next, tc.found)
		}
	}
}

// FuzzScanMarkers: arbitrary response bytes never panic, and the offset
// returned never goes back.
func FuzzScanMarkers(f *testing.F) {
	f.Add(batch(0, 5, 7, false, false), int64(0))
	f.Add(append(batch(3, 1, 7, true, true), batch(4, 2, 7, false, false)...), int64(2))
	f.Fuzz(func(t *testing.T, b []byte, pos int64) {
		next, _ := scanMarkers(b, pos, map[int64]bool{7: true, 8: true}, map[int64]marker{})
		if next < pos {
			t.Fatalf("next %d < pos %d", next, pos)
		}
	})
}
