package topics

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kmigrate/kmigrate/internal/config"
)

// Candidate is a topic as the source cluster's metadata lists it.
type Candidate struct {
	Name string
	// Internal is the cluster's own flag (metadata IsInternal).
	Internal bool
}

// Selected is a source topic chosen for migration.
type Selected struct {
	Name string `json:"name"`
	// Pattern is the include pattern that selected the topic, as written,
	// or "" when there are no include patterns (everything is selected).
	Pattern string `json:"pattern,omitempty"`
}

// Excluded is a source topic left out of the migration, and why.
type Excluded struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// StatePrefix starts the names of kmigrate's own state topics. They are
// never migrated, whatever the selection says: a copy would mean nothing
// on another cluster and could collide with the state kept there.
const StatePrefix = "__kmigrate"

// Select splits candidates into the topics to migrate and the others, each
// sorted by name. A topic is selected when an include pattern matches it
// (or there are none), no exclude pattern does, and it is not internal. An
// internal topic is selected only when an include pattern names it
// literally: "__consumer_offsets" or "_schemas" does, ".*" or "_.*" does
// not.
func Select(cands []Candidate, sel config.Selection) ([]Selected, []Excluded) {
	var selected []Selected
	var excluded []Excluded
	for _, c := range cands {
		if strings.HasPrefix(c.Name, StatePrefix) {
			excluded = append(excluded, Excluded{c.Name, "kmigrate's own state: never migrated"})
			continue
		}
		if i := matchIndex(sel.Exclude, c.Name); i >= 0 {
			excluded = append(excluded, Excluded{c.Name, "matches exclude pattern " + strconv.Quote(sel.ExcludePatterns[i])})
			continue
		}
		pattern := ""
		if len(sel.Include) > 0 {
			i := matchIndex(sel.Include, c.Name)
			if i < 0 {
				excluded = append(excluded, Excluded{c.Name, "matches no include pattern"})
				continue
			}
			pattern = sel.IncludePatterns[i]
		}
		if why := internalReason(c.Name, c.Internal); why != "" {
			lit := literalInclude(sel, c.Name)
			if lit < 0 {
				excluded = append(excluded, Excluded{c.Name, why + ": internal topics are migrated only when topics.include names them exactly"})
				continue
			}
			pattern = sel.IncludePatterns[lit]
		}
		selected = append(selected, Selected{c.Name, pattern})
	}
	slices.SortFunc(selected, func(a, b Selected) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(excluded, func(a, b Excluded) int { return strings.Compare(a.Name, b.Name) })
	return selected, excluded
}

func matchIndex(res []*regexp.Regexp, name string) int {
	for i, re := range res {
		if re.MatchString(name) {
			return i
		}
	}
	return -1
}

// literalInclude returns the index of an include pattern that names the
// topic literally: written exactly as the name, or a regular expression
// that matches that one string only ("__consumer_offsets",
// `mm2-configs\.b\.internal`). -1 if there is none.
func literalInclude(sel config.Selection, name string) int {
	for i, p := range sel.IncludePatterns {
		if p == name {
			return i
		}
		re, err := regexp.Compile(p)
		if err != nil {
			continue
		}
		if lit, complete := re.LiteralPrefix(); complete && lit == name {
			return i
		}
	}
	return -1
}

// internalReason says why a topic is internal to Kafka, a vendor or a
// tool, or returns "" for an ordinary topic. These topics hold a cluster's
// or a tool's own bookkeeping: copying them is at best meaningless on
// another cluster, and at worst corrupts the tool running there.
func internalReason(name string, flagged bool) string {
	switch {
	case name == "__consumer_offsets":
		return "Kafka's consumer offsets (kmigrate migrates group offsets itself)"
	case name == "__transaction_state":
		return "Kafka's transaction state"
	case strings.HasPrefix(name, "__"):
		return `internal topic (names starting with "__" belong to Kafka, its vendors and tools)`
	case name == "_schemas":
		return "Schema Registry's storage"
	case strings.HasPrefix(name, "_confluent"):
		return "Confluent Platform internal topic"
	case strings.HasPrefix(name, "_redpanda"):
		return "Redpanda internal topic"
	case mm2Internal(name):
		return "MirrorMaker 2 internal topic"
	case flagged:
		return "flagged internal by the source cluster"
	}
	return ""
}

// mm2Internal matches MirrorMaker 2's bookkeeping topics with their
// default names.
func mm2Internal(name string) bool {
	for _, p := range []string{"mm2-offset-syncs.", "mm2-configs.", "mm2-status.", "mm2-offsets."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return name == "heartbeats" || strings.HasSuffix(name, ".checkpoints.internal")
}
