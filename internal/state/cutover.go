package state

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Cutover state: what a team has done to move its applications, kept on the
// target next to the mirror's state so that every command on every machine
// knows it. Each fact is its own key (a promoted topic, a switched group, one
// event), so that writers never overwrite each other's facts and compaction
// keeps the latest of each.

// Phases of a migration, in order (see DESIGN.md, "Cutover").
const (
	PhaseSync      = "sync"      // mirroring; nothing moved yet
	PhaseProducers = "producers" // producers are moving or moved to the target
	PhaseConsumers = "consumers" // consumer groups are moving or moved
	PhasePromote   = "promote"   // some topics are promoted, not all
	PhaseDone      = "done"      // every topic is promoted
)

// Promoted records that a topic was promoted: its mirroring stopped for
// good because nothing writes to it on the source any more.
type Promoted struct {
	Version int       `json:"version"`
	Topic   string    `json:"topic"` // the source topic
	Time    time.Time `json:"time"`
	// Forced says preconditions were overridden (--force); Unmet lists
	// them.
	Forced bool     `json:"forced,omitempty"`
	Unmet  []string `json:"unmet,omitempty"`
}

// Switched records that a consumer group moved to the target.
type Switched struct {
	Version int       `json:"version"`
	Group   string    `json:"group"`
	Time    time.Time `json:"time"`
	// How is "migrated" (kmigrate groups migrate), "detected" (group sync
	// saw it active on the target and inactive on the source) or
	// "rolled-back" (it moved back to the source).
	How string `json:"how"`
}

// Event is one entry of the migration's history.
type Event struct {
	Version int       `json:"version"`
	Time    time.Time `json:"time"`
	Action  string    `json:"action"`
	Detail  string    `json:"detail,omitempty"`
}

// Phase is the migration's last recorded phase.
type Phase struct {
	Version int       `json:"version"`
	Phase   string    `json:"phase"`
	Time    time.Time `json:"time"`
}

const (
	keyPhase     = "phase"
	kindPromoted = "promoted"
	kindSwitched = "switched"
	kindEvent    = "event"
)

// PromotedRecord returns the record that stores p.
func PromotedRecord(topic string, p Promoted) (*kgo.Record, error) {
	p.Version = Version
	return jsonRecord(topic, kindPromoted+"/"+p.Topic, p)
}

// SwitchedRecord returns the record that stores s.
func SwitchedRecord(topic string, s Switched) (*kgo.Record, error) {
	s.Version = Version
	return jsonRecord(topic, kindSwitched+"/"+s.Group, s)
}

// EventRecord returns the record that stores e; its key orders events by
// time.
func EventRecord(topic string, e Event) (*kgo.Record, error) {
	e.Version = Version
	return jsonRecord(topic, fmt.Sprintf("%s/%020d", kindEvent, e.Time.UnixNano()), e)
}

// PhaseRecord returns the record that stores p.
func PhaseRecord(topic string, p Phase) (*kgo.Record, error) {
	p.Version = Version
	return jsonRecord(topic, keyPhase, p)
}

// Write produces records to the state topic outside the mirror's
// transactions (cutover facts written by other commands), waiting for
// every one to be acknowledged. cl must be a client to the target.
func Write(ctx context.Context, cl *kgo.Client, records ...*kgo.Record) error {
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("write migration state: %w", err)
	}
	return nil
}

// applyCutover applies a cutover record; ok is false for other keys.
func (s *Snapshot) applyCutover(k string, value []byte) (ok bool, err error) {
	kind, name, _ := strings.Cut(k, "/")
	switch {
	case k == keyPhase:
		if value == nil {
			s.Phase = nil
			return true, nil
		}
		var p Phase
		if err := decode(value, &p); err != nil {
			return true, err
		}
		s.Phase = &p
	case kind == kindPromoted && name != "":
		if value == nil {
			delete(s.Promoted, name)
			return true, nil
		}
		var p Promoted
		if err := decode(value, &p); err != nil {
			return true, err
		}
		s.Promoted[name] = p
	case kind == kindSwitched && name != "":
		if value == nil {
			delete(s.Switched, name)
			return true, nil
		}
		var sw Switched
		if err := decode(value, &sw); err != nil {
			return true, err
		}
		s.Switched[name] = sw
	case kind == kindEvent && name != "":
		if _, err := strconv.ParseInt(name, 10, 64); err != nil {
			return true, fmt.Errorf("malformed state key %q", k)
		}
		if value == nil {
			return true, nil
		}
		var e Event
		if err := decode(value, &e); err != nil {
			return true, err
		}
		i, _ := slices.BinarySearchFunc(s.Events, e.Time, func(a Event, t time.Time) int { return a.Time.Compare(t) })
		s.Events = slices.Insert(s.Events, i, e)
	default:
		return false, nil
	}
	return true, nil
}
