package status

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/state"
)

// phase is the furthest phase the migration has reached: every topic
// promoted (done), some promoted, some consumer group switched, some
// topic's producers on the target, or still syncing.
func phase(r *Report) string {
	promoted, producers := 0, false
	for _, t := range r.Topics {
		if t.Promoted != nil {
			promoted++
		}
		producers = producers || t.Producers == ProducersTarget
	}
	consumers := slices.ContainsFunc(r.Groups, func(g Group) bool { return g.Switched })
	switch {
	case len(r.Topics) > 0 && promoted == len(r.Topics):
		return state.PhaseDone
	case promoted > 0:
		return state.PhasePromote
	case consumers:
		return state.PhaseConsumers
	case producers:
		return state.PhaseProducers
	}
	return state.PhaseSync
}

// Unmet returns what stands between topic t and its promotion: lag,
// producers still writing to the source, groups consuming it that have not
// switched. Empty means it can be promoted. Promote uses the same rules.
func Unmet(r *Report, t Topic, quiet time.Duration) []string {
	var out []string
	if t.Lag < 0 {
		out = append(out, fmt.Sprintf("topic %q: its lag and source writes are unknown without the source", t.Source))
	}
	if t.Lag > 0 {
		out = append(out, fmt.Sprintf("topic %q: replication lag is %d records (%.0fs): wait for the mirror to copy them", t.Source, t.Lag, t.LagSeconds))
	}
	if t.Producers == ProducersSource {
		what := fmt.Sprintf("%.1f records/s", t.SourceWriteRate)
		if !t.SourceLastWrite.IsZero() {
			what += ", last write " + t.SourceLastWrite.Format(time.RFC3339)
		}
		out = append(out, fmt.Sprintf("topic %q: producers still write to the source (%s): move them to the target and wait for the source to be quiet for %v", t.Source, what, quiet))
	}
	for _, g := range r.Groups {
		if g.Switched || !consumes(g, t.Source) {
			continue
		}
		out = append(out, fmt.Sprintf("topic %q: consumer group %q has not moved to the target: stop it on the source, run kmigrate groups migrate --group %s, and start it on the target", t.Source, g.Group, g.Group))
	}
	return out
}

func consumes(g Group, topic string) bool {
	return slices.ContainsFunc(g.Topics, func(t groups.TopicInfo) bool { return t.Topic == topic })
}

// next says what to do next and what blocks it.
func next(r *Report, o Options) (string, []string) {
	blockers := []string{}
	if r.Phase == state.PhaseDone {
		for _, t := range r.Topics {
			if t.Producers == ProducersSource {
				blockers = append(blockers, fmt.Sprintf("topic %q is promoted but still receives writes on the source: find the producer still writing there", t.Source))
			}
		}
		return "every topic is promoted: stop kmigrate mirror; once the source stays quiet it can be decommissioned", blockers
	}
	var ready []string
	for _, t := range r.Topics {
		if t.Promoted != nil {
			continue
		}
		unmet := Unmet(r, t, o.Quiet)
		if len(unmet) == 0 {
			ready = append(ready, t.Source)
		}
		blockers = append(blockers, unmet...)
	}
	if !r.Mirror.Running {
		seen := "never"
		if !r.Mirror.LastSeen.IsZero() {
			seen = r.Mirror.LastSeen.Format(time.RFC3339)
		}
		blockers = append([]string{fmt.Sprintf("no kmigrate mirror is running (last seen %s): start it so that the target keeps up", seen)}, blockers...)
	}
	blockers = append(blockers, unreachable(r)...)
	if r.SourceUnknown != "" {
		return "read the source to know the next step: this report comes from the target alone; run kmigrate status where the source is reachable", blockers
	}
	if len(ready) > 0 {
		return fmt.Sprintf("promote %s: kmigrate promote --topic %s", strings.Join(ready, ", "), strings.Join(ready, " --topic ")), blockers
	}
	if moment := producersMoment(r); len(moment) > 0 && r.Mirror.Running {
		return fmt.Sprintf("start the producers of %s on the target now: the mirror has copied everything and the source is quiet, the safe moment for moving producers first (records written on the target while the mirror still copies land before copies that groups consume on the source, and a group's new position cannot deliver them); or move consumer groups first (kmigrate groups migrate)",
			strings.Join(moment, ", ")), blockers
	}
	return "move consumer groups (kmigrate groups migrate) and producers to the target, then promote each topic", blockers
}

// producersMoment returns the topics, not promoted, whose producers can
// start on the target now in the producers-first order: the mirror has no
// lag on them and their source is quiet, so whatever producers write on
// the target lands after every copy.
func producersMoment(r *Report) []string {
	var out []string
	for _, t := range r.Topics {
		if t.Promoted == nil && t.Lag == 0 && t.Producers == ProducersNone {
			out = append(out, t.Source)
		}
	}
	return out
}

// unreachable returns a blocker for each group, not switched, with records
// written natively on the target before copies it already consumed:
// groups migrate refuses it until the user chooses.
func unreachable(r *Report) []string {
	var out []string
	for _, g := range r.Groups {
		if g.Switched {
			continue
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if tr := p.Translation; tr != nil && tr.Unreachable > 0 {
					out = append(out, fmt.Sprintf("consumer group %q: %d records written natively on the target in %s/%d (%s) lie before copies it already consumed, so its translated position would never deliver them: move it with kmigrate groups migrate --group %s --unreachable-natives=reread (re-reads the copies after the first of them) or =skip",
						g.Group, tr.Unreachable, t.Target, p.Partition, groups.RangesText(tr.UnreachableNatives, 5), g.Group))
				}
			}
		}
	}
	return out
}

// producersWarnings warns about producers writing on the target while the
// mirror still copies: their records land between copies.
func producersWarnings(r *Report) []string {
	var out []string
	for _, t := range r.Topics {
		if t.Promoted == nil && t.Lag > 0 && t.Producers == ProducersTarget {
			out = append(out, fmt.Sprintf("topic %q: producers write on the target while the mirror still has %d source records to copy: their records land before those copies, and a consumer group that consumes the copies on the source cannot be moved to a position that delivers both (groups migrate refuses and offers --unreachable-natives); pause the producers until the lag is 0", t.Source, t.Lag))
		}
	}
	return out
}
