package offsetmap_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
)

// FuzzDecode checks that Decode never panics, that what it accepts is the
// one encoding of its runs, and that decoded runs are always valid map runs
// (a Map accepts them in order).
func FuzzDecode(f *testing.F) {
	f.Add(goldenBytes)
	f.Add([]byte{1, 0})
	f.Add([]byte{})
	f.Add([]byte{2, 0})
	f.Add([]byte{1, 1, 0, 0, 0})
	f.Add([]byte{1, 2, 5, 5, 1, 0, 0, 1})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 1})
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 1})
	f.Add(offsetmap.AppendEncoded(nil, []offsetmap.Run{{Source: 1 << 40, Target: 1 << 41, Len: 16383}, {Source: 1<<40 + 20000, Target: 1<<41 + 16384, Len: 16384}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		runs, err := offsetmap.Decode(b)
		if err != nil {
			if runs != nil {
				t.Fatalf("Decode returned runs with error %v", err)
			}
			if !errors.Is(err, offsetmap.ErrMalformed) && !errors.Is(err, offsetmap.ErrVersion) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrVersion", err)
			}
			return
		}
		if again := offsetmap.AppendEncoded(nil, runs); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %v gives % x, decoded from % x", runs, again, b)
		}
		var m offsetmap.Map
		var records int64
		for _, r := range runs {
			if err := m.AddRun(r); err != nil {
				t.Fatalf("decoded run %v is not a valid map run: %v", r, err)
			}
			records += r.Len
		}
		if m.Records() != records {
			t.Fatalf("Records = %d, want %d", m.Records(), records)
		}
		if len(runs) == 0 {
			return
		}
		s, err := offsetmap.DecodeSegment(runs[0].Source, b)
		if err != nil || !reflect.DeepEqual(s.Runs, runs) {
			t.Fatalf("DecodeSegment = %v, %v", s, err)
		}
	})
}
