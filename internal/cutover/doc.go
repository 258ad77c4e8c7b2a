// Package cutover records and enforces the steps of moving applications to
// the target: promoting topics (their mirroring stops for good), with the
// preconditions that make it safe (package status decides them), and the
// migration's history in the state topic. It writes only cutover facts to
// the target's state topic (package state), never records, and never
// anything to the source.
package cutover
