package acls

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/topics"
)

// Scope is what a migration covers, for Diff.
type Scope struct {
	// Topics are the selected source topics with their target names.
	Topics []topics.Mapping
	// Groups are the selected source groups (kept under their names).
	Groups []string
	// TargetTopics are the topics on the target now, for spill checks;
	// the migration's own targets among them are not outside it.
	TargetTopics []string
	// Naming is the topic rename rule.
	Naming config.Topics
	// Rules are the principal mapping and the spill permission.
	Rules config.ACLs
	// Migrator is the principal kmigrate works as on the target
	// ("User:name", or empty): its own bindings there are never extra.
	Migrator string
}

// Plan is what it takes to give the target the source's bindings.
type Plan struct {
	// Source counts the source bindings that concern the migration.
	Source int `json:"source_bindings"`
	// Equal counts mapped bindings the target already holds.
	Equal int `json:"equal"`
	// Create lists mapped bindings missing on the target, spills
	// included only when they are allowed.
	Create []Binding `json:"create"`
	// Extra lists target bindings on the migration's resources that no
	// source binding maps to (Apply deletes them only when asked).
	Extra []Binding `json:"extra"`
	// Spills lists prefixed or wildcard bindings that also cover target
	// topics outside the migration.
	Spills []Spill `json:"spills"`
	// Guards counts kmigrate's own DENY WRITE bindings that protect
	// mirrored target topics (protect.go); they are never extra.
	Guards int `json:"guards"`
	// Unheld lists bindings the target cannot hold, for Reason (a target
	// without an authorizer); Reason also says why nothing was read (a
	// source without one).
	Unheld []Binding `json:"unheld,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// Spill is a topic binding whose target pattern also covers topics
// outside the migration.
type Spill struct {
	Source Binding `json:"source"`
	Target Binding `json:"target"`
	// Outside are the target topics outside the migration it covers.
	Outside []string `json:"outside"`
	// Allowed: the spec's acls.allow_spill lets it be written.
	Allowed bool `json:"allowed"`
	// OnTarget: the target holds it already.
	OnTarget bool `json:"on_target"`
}

// InSync reports whether the target holds exactly the source's bindings
// for the migration: nothing to create, nothing extra, no spill missing.
func (p *Plan) InSync() bool {
	if len(p.Create) > 0 || len(p.Extra) > 0 || len(p.Unheld) > 0 {
		return false
	}
	for _, s := range p.Spills {
		if !s.OnTarget {
			return false
		}
	}
	return true
}

// covers reports whether a pattern (literal name, "*", or prefix) matches
// name.
func covers(pattern kmsg.ACLResourcePatternType, pat, name string) bool {
	switch pattern {
	case kmsg.ACLResourcePatternTypeLiteral:
		return pat == "*" || pat == name
	case kmsg.ACLResourcePatternTypePrefixed:
		return strings.HasPrefix(name, pat)
	}
	return false
}

// coversAny reports whether b's pattern matches one of names.
func coversAny(b Binding, names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return covers(b.Pattern, b.Name, n) })
}

// concerns reports whether b (on the cluster whose topic names of the
// migration are topicNames) concerns the migration.
func concerns(b Binding, topicNames, groups []string) bool {
	switch b.Resource {
	case kmsg.ACLResourceTypeTopic:
		return coversAny(b, topicNames)
	case kmsg.ACLResourceTypeGroup:
		return coversAny(b, groups)
	case kmsg.ACLResourceTypeTransactionalId, kmsg.ACLResourceTypeCluster:
		return true
	}
	return false
}

// mapName maps a topic pattern to the target: literal names through the
// rename rule, prefixes behind the rule's fixed start, "*" unchanged.
func mapName(naming config.Topics, pattern kmsg.ACLResourcePatternType, name string) string {
	switch {
	case name == "*" && pattern == kmsg.ACLResourcePatternTypeLiteral:
		return name
	case pattern == kmsg.ACLResourcePatternTypeLiteral:
		return naming.TargetName(name)
	}
	before := naming.Prefix
	if naming.Rename != "" {
		before, _, _ = strings.Cut(naming.Rename, config.TopicPlaceholder)
	}
	return before + name
}

// Map returns the target binding for a source binding.
func Map(b Binding, naming config.Topics, rules config.ACLs) Binding {
	out := b
	out.Principal = rules.MapPrincipal(b.Principal)
	if b.Resource == kmsg.ACLResourceTypeTopic {
		out.Name = mapName(naming, b.Pattern, b.Name)
	}
	return out
}

// Diff plans the target's bindings from both sides' bindings. Pure.
func Diff(source, target []Binding, sc Scope) *Plan {
	var srcNames, tgtNames []string
	for _, m := range sc.Topics {
		srcNames = append(srcNames, m.Source)
		tgtNames = append(tgtNames, m.Target)
	}
	var outside []string
	for _, t := range sc.TargetTopics {
		if !slices.Contains(tgtNames, t) && !strings.HasPrefix(t, "__") {
			outside = append(outside, t)
		}
	}
	slices.Sort(outside)
	onTarget := map[Binding]bool{}
	for _, b := range target {
		onTarget[b] = true
	}
	p := &Plan{Create: []Binding{}, Extra: []Binding{}, Spills: []Spill{}}
	wanted := map[Binding]bool{}
	for _, b := range source {
		if !concerns(b, srcNames, sc.Groups) {
			continue
		}
		p.Source++
		m := Map(b, sc.Naming, sc.Rules)
		wanted[m] = true
		if b.Resource == kmsg.ACLResourceTypeTopic && (b.Pattern != kmsg.ACLResourcePatternTypeLiteral || b.Name == "*") {
			var out []string
			for _, t := range outside {
				if covers(m.Pattern, m.Name, t) {
					out = append(out, t)
				}
			}
			if len(out) > 0 {
				p.Spills = append(p.Spills, Spill{Source: b, Target: m, Outside: out, Allowed: sc.Rules.AllowSpill, OnTarget: onTarget[m]})
				if !sc.Rules.AllowSpill {
					continue
				}
			}
		}
		if onTarget[m] {
			p.Equal++
		} else {
			p.Create = append(p.Create, m)
		}
	}
	for _, b := range target {
		if wanted[b] || (sc.Migrator != "" && b.Principal == sc.Migrator) || !concerns(b, tgtNames, sc.Groups) {
			continue
		}
		if isGuard(b, tgtNames) {
			p.Guards++
			continue
		}
		p.Extra = append(p.Extra, b)
	}
	slices.SortFunc(p.Create, compare)
	p.Create = slices.Compact(p.Create)
	slices.SortFunc(p.Extra, compare)
	slices.SortFunc(p.Spills, func(a, b Spill) int { return compare(a.Target, b.Target) })
	return p
}
