// Package units divides a migration's source partitions into work units.
//
// A unit is the grain of ownership when a migration is scaled out: each
// unit is copied by one mirror session with its own transactional id, so
// its records, checkpoints and offset map segments commit together, and a
// unit's next owner fences the previous one before it reads the unit's
// state. The rule that assigns a partition to a unit must never change for
// a migration (the unit count is fixed when its state is first written and
// recorded in the state's meta), or two owners could copy one partition.
//
// The rule is
//
//	unit(topic, partition) = (fnv32a(topic) + partition) mod n
//
// A topic's partitions are spread over consecutive units starting at a
// place that depends on its name, so many small topics spread over all
// units, and partitions added to a topic later join units by the same rule
// without moving any partition that already had one.
package units

import "hash/fnv"

// Of is the unit, in [0, n), of a topic's partition. n below 2 means one
// unit: Of returns 0.
func Of(topic string, partition int32, n int) int {
	if n < 2 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(topic))
	return int((uint64(h.Sum32()) + uint64(uint32(partition))) % uint64(n))
}

// All returns the units 0..n-1 (one unit when n is below 2).
func All(n int) []int {
	out := make([]int, max(n, 1))
	for i := range out {
		out[i] = i
	}
	return out
}
