package mirror

import (
	"github.com/kmigrate/kmigrate/internal/offsetmap"
)

// partMap is a partition's offset map, persisted incrementally: each
// transaction rewrites the open segment it extended (see offsetmap).
type partMap struct {
	seg *offsetmap.Segmenter
}

// segRecord is a segment to write in the state topic.
type segRecord struct {
	first int64
	value []byte
}

// loadPartMap rebuilds a partition's map from its persisted segments.
func loadPartMap(persisted map[int64][]byte) (*partMap, error) {
	segs, err := offsetmap.DecodeSegments(persisted)
	if err != nil {
		return nil, err
	}
	seg, err := offsetmap.NewSegmenter(segs, 0)
	if err != nil {
		return nil, err
	}
	return &partMap{seg: seg}, nil
}

func (m *partMap) add(source, target int64) error { return m.seg.Add(source, target) }

// targetEnd is one past the last mapped target offset, or -1 when the map is
// empty.
func (m *partMap) targetEnd() int64 {
	if m.seg.Map().Len() == 0 {
		return -1
	}
	return m.seg.Map().TargetEnd()
}

// dirty returns the segments changed since the last commit.
func (m *partMap) dirty() []segRecord {
	pending := m.seg.Pending()
	out := make([]segRecord, 0, len(pending))
	for _, s := range pending {
		out = append(out, segRecord{first: s.Key, value: s.AppendValue(nil)})
	}
	return out
}

func (m *partMap) committed() { m.seg.Commit() }
