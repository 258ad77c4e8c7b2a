package trace

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Find locates the HeaderKey header among a record's headers and decodes it.
// If there are several, the last one wins. ok reports whether the header is
// present; err is non-nil (and ok true) when it is present but does not
// decode, so a caller can tell "not mirrored by kmigrate" from "corrupt".
func Find(headers []kgo.RecordHeader) (o Origin, ok bool, err error) {
	v, ok := value(headers)
	if !ok {
		return Origin{}, false, nil
	}
	o, err = Decode(v)
	if err != nil {
		return Origin{}, true, fmt.Errorf("header %q: %w", HeaderKey, err)
	}
	return o, true, nil
}

// FindRaw is Find without allocating: see Raw. The returned fields alias the
// header's value.
func FindRaw(headers []kgo.RecordHeader) (r Raw, ok bool, err error) {
	v, ok := value(headers)
	if !ok {
		return Raw{}, false, nil
	}
	r, err = DecodeRaw(v)
	if err != nil {
		return Raw{}, true, fmt.Errorf("header %q: %w", HeaderKey, err)
	}
	return r, true, nil
}

// value returns the value of the last HeaderKey header.
func value(headers []kgo.RecordHeader) ([]byte, bool) {
	for i := len(headers) - 1; i >= 0; i-- {
		if headers[i].Key == HeaderKey {
			return headers[i].Value, true
		}
	}
	return nil, false
}

// Strip returns headers without the kmigrate headers (those IsTracing
// accepts), keeping the others in order. When there is nothing to strip it
// returns headers itself, without allocating; otherwise it returns a new
// slice (nil if no header remains) and leaves headers unmodified, since a
// fetched record's headers may be shared.
func Strip(headers []kgo.RecordHeader) []kgo.RecordHeader {
	n := 0
	for _, h := range headers {
		if IsTracing(h.Key) {
			n++
		}
	}
	if n == 0 {
		return headers
	}
	if n == len(headers) {
		return nil
	}
	out := make([]kgo.RecordHeader, 0, len(headers)-n)
	for _, h := range headers {
		if !IsTracing(h.Key) {
			out = append(out, h)
		}
	}
	return out
}
