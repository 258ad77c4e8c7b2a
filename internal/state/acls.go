package state

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// The mirror's ACL sync (package acls) keeps, under the key "acls", the
// bindings it created on the target and its last pass's result, so that
// a restarted mirror, or the member that takes over the leader's work,
// removes only bindings kmigrate created. The value is the acls package's
// encoding; this package keeps it opaque (acls imports state, not the
// other way round).
const keyACLs = "acls"

// ACLsRecord returns the record that stores the ACL sync's value (write
// it with Write).
func ACLsRecord(topic string, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: 0, Key: []byte(keyACLs), Value: value}
}

// applyACLs applies the ACL sync's record; ok is false for other keys.
func (s *Snapshot) applyACLs(k string, value []byte) (ok bool) {
	if k != keyACLs {
		return false
	}
	s.ACLs = value
	return true
}
