package state

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Verified is the summary of the last `kmigrate verify` run, kept under the
// key "verify" so that status readers (the dashboard) can show whether the
// copy was proven and when, from any machine. Only the latest is kept
// (compaction); the full report is what verify printed.
type Verified struct {
	Version int       `json:"version"`
	Time    time.Time `json:"time"` // when the verification started (its snapshot)
	Host    string    `json:"host,omitempty"`
	// Mode is "full" or "sample"; Sample the records checked per
	// partition in sample mode.
	Mode    string  `json:"mode"`
	Sample  int     `json:"sample,omitempty"`
	OK      bool    `json:"ok"`
	Seconds float64 `json:"seconds"`
	// Counts, as verify's report totals them.
	Partitions       int   `json:"partitions"`
	FailedPartitions int   `json:"failed_partitions"`
	ErrorPartitions  int   `json:"error_partitions"`
	SourceRecords    int64 `json:"source_records"`
	Matched          int64 `json:"matched"`
	Problems         int64 `json:"problems"`
	Pending          int64 `json:"pending"`
	GroupsChecked    int   `json:"groups_checked"`
	GroupsFailed     int   `json:"groups_failed"`
}

const keyVerified = "verify"

// VerifiedRecord returns the record that stores v (write it with Write).
func VerifiedRecord(topic string, v Verified) (*kgo.Record, error) {
	v.Version = Version
	return jsonRecord(topic, keyVerified, v)
}

// applyVerified applies a verify summary record; ok is false for other
// keys.
func (s *Snapshot) applyVerified(k string, value []byte) (ok bool, err error) {
	if k != keyVerified {
		return false, nil
	}
	if value == nil {
		s.Verified = nil
		return true, nil
	}
	var v Verified
	if err := decode(value, &v); err != nil {
		return true, err
	}
	s.Verified = &v
	return true, nil
}
