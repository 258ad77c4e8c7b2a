package trace_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kmigrate/kmigrate/internal/trace"
)

// FuzzDecode checks that Decode never panics, that DecodeRaw agrees with
// it, and that every value it accepts is the one encoding of its Origin
// (so a value that decodes cannot differ from what an Encoder wrote).
func FuzzDecode(f *testing.F) {
	f.Add(goldenBytes)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{2, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0x81, 0x00, 'c', 0, 0, 0, 0})
	f.Add([]byte{1, 1, 'c', 1, 't', 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0})
	f.Add([]byte{1, 1, 'c', 1, 't', 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0})
	f.Add(append(bytes.Clone(goldenBytes), 0))
	f.Add(trace.NewEncoder("MkU3OEVBNTcwNTJENDM2Qk", "orders.payments.v1").Append(nil, 11, 1<<40, -1))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := trace.Decode(b)
		r, rerr := trace.DecodeRaw(b)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Decode error %v, DecodeRaw error %v", err, rerr)
		}
		if err != nil {
			if !errors.Is(err, trace.ErrMalformed) && !errors.Is(err, trace.ErrVersion) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrVersion", err)
			}
			return
		}
		if string(r.ClusterID) != o.ClusterID || string(r.Topic) != o.Topic || r.Partition != o.Partition ||
			r.Offset != o.Offset || r.Timestamp != o.Timestamp {
			t.Fatalf("DecodeRaw = %+v, Decode = %+v", r, o)
		}
		again, err := o.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", o, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %+v gives % x, decoded from % x", o, again, b)
		}
		if e := trace.NewEncoder(o.ClusterID, o.Topic).Append(nil, o.Partition, o.Offset, o.Timestamp); !bytes.Equal(e, b) {
			t.Fatalf("Encoder.Append gives % x, decoded from % x", e, b)
		}
	})
}
