package config

import (
	"time"
)

// Groups says which consumer groups to migrate and how their offsets move.
// Selection (embedded) chooses the source groups; package groups applies
// the rest.
type Groups struct {
	Selection
	// Sync turns on continuous group offset sync while `kmigrate mirror`
	// runs continuously: the target offsets of a group that consumes on
	// the source follow its source offsets, translated.
	Sync bool `json:"sync"`
	// SyncInterval is how often continuous sync copies offsets, at least
	// MinGroupSyncInterval.
	SyncInterval time.Duration `json:"sync_interval"`
	// MirrorWait bounds how long `groups migrate` waits for the mirror to
	// copy up to a group's committed offsets before it fails; 0 does not
	// wait.
	MirrorWait time.Duration `json:"mirror_wait"`
}

// Groups defaults and limits.
const (
	DefaultGroupSyncInterval = 5 * time.Second
	// MinGroupSyncInterval keeps the describe and offset requests of a
	// sync from loading the clusters.
	MinGroupSyncInterval = 500 * time.Millisecond
	DefaultMirrorWait    = 2 * time.Minute
)

// buildGroups combines the spec's groups section with the flags. ParseSpec
// has validated the spec's values.
func buildGroups(spec *Spec, o Overrides) (Groups, error) {
	gs := spec.Groups
	sel, err := selection(gs.selection(), o.Groups, "groups", spec)
	if err != nil {
		return Groups{}, err
	}
	g := Groups{Selection: sel, Sync: true, SyncInterval: DefaultGroupSyncInterval, MirrorWait: DefaultMirrorWait}
	if gs != nil {
		if gs.Sync != nil {
			g.Sync = *gs.Sync
		}
		if gs.SyncInterval != nil {
			g.SyncInterval = *gs.SyncInterval
		}
		if gs.MirrorWait != nil {
			g.MirrorWait = *gs.MirrorWait
		}
	}
	if o.GroupSync != nil {
		g.Sync = *o.GroupSync
	}
	return g, nil
}
