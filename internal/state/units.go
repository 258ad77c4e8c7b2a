package state

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// MetaVersionUnits is the Meta encoding version of a migration divided
// into more than one work unit. kmigrate before units reads Meta up to
// Version 1 and refuses this one with "upgrade kmigrate", so an old binary
// can never copy a unit-divided migration under the single transactional
// id and duplicate what the units copy.
const MetaVersionUnits = 2

// UnitTransactionalID is the transactional id of work unit unit of a
// migration divided into n units: the migration's TransactionalID when n
// is below 2 (so a migration of one unit keeps the id it always had), the
// id with a "-unit-<unit>" suffix otherwise.
func UnitTransactionalID(migration string, unit, n int) string {
	if n < 2 {
		return TransactionalID(migration)
	}
	return TransactionalID(migration) + "-unit-" + strconv.Itoa(unit)
}

// keyUnitHeartbeat prefixes the heartbeat key of a work unit:
// "unitheartbeat/<unit>". kmigrate before units skips the key (an unknown
// kind).
const keyUnitHeartbeat = "unitheartbeat/"

// UnitHeartbeatRecord returns the record that stores h as the heartbeat of
// work unit unit.
func UnitHeartbeatRecord(topic string, unit int, h Heartbeat) (*kgo.Record, error) {
	h.Version = Version
	return jsonRecord(topic, keyUnitHeartbeat+strconv.Itoa(unit), h)
}

// applyUnit applies a unit heartbeat record; ok is false for other keys.
func (s *Snapshot) applyUnit(k string, v []byte) (ok bool, err error) {
	rest, found := strings.CutPrefix(k, keyUnitHeartbeat)
	if !found {
		return false, nil
	}
	unit, err := strconv.Atoi(rest)
	if err != nil || unit < 0 {
		return true, fmt.Errorf("malformed unit in state key %q", k)
	}
	if v == nil {
		delete(s.UnitHeartbeats, unit)
		return true, nil
	}
	var h Heartbeat
	if err := decode(v, &h); err != nil {
		return true, err
	}
	s.UnitHeartbeats[unit] = h
	return true, nil
}
