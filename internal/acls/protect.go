package acls

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/migration"
)

// Protecting a target, and why it looks like this.
//
// Until a topic is promoted, a write to its target copy by anyone but the
// mirror splits its history. Kafka ACLs cannot say "deny everyone except
// the migrator": a DENY for User:* wins over the migrator's ALLOW too. So
// Protect denies WRITE, on each mirrored target topic, to each principal
// the target allows to write it (ALLOW WRITE or ALL bindings, literal,
// prefixed or "*"), except the migrator. A principal the target does not
// allow to write cannot write anyway (unless the broker runs with
// allow.everyone.if.no.acl.found, which docs/acls.md warns about). An
// ALLOW for User:* cannot be countered this way and is reported as
// unprotectable.
//
// Bindings carry no label, so kmigrate's own are recognised by their
// shape: DENY WRITE, literal, host "*", on a target topic of the
// migration, with no counterpart among the source's mapped bindings.
// Diff leaves them out of Extra, and Release removes exactly those.

// ErrUnprotectable is returned, wrapped, when a principal may write a
// mirrored target topic and cannot be denied without denying the migrator
// (an ALLOW for User:*).
var ErrUnprotectable = errors.New("a target topic cannot be protected")

// ErrUnknownMigrator: kmigrate does not know its own principal on the
// target (it authenticates without SASL), so guards could deny the
// mirror's own writes.
var ErrUnknownMigrator = errors.New("kmigrate's principal on the target is unknown (no SASL user): write guards could stop the mirror too")

// ErrNotAllowed: the migrator may not alter ACLs on the target.
var ErrNotAllowed = errors.New("the migrator may not alter ACLs on the target: it needs ALTER on the CLUSTER resource")

// guard is kmigrate's DENY WRITE binding for principal on topic.
func guard(topic, principal string) Binding {
	return Binding{Resource: kmsg.ACLResourceTypeTopic, Name: topic, Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Principal: principal, Host: "*", Operation: kmsg.ACLOperationWrite, Permission: kmsg.ACLPermissionTypeDeny}
}

// isGuard reports whether b has the shape of a guard on one of topics.
func isGuard(b Binding, topics []string) bool {
	return b == guard(b.Name, b.Principal) && slices.Contains(topics, b.Name)
}

// Unprotectable is a writer Protect cannot deny.
type Unprotectable struct {
	Topic     string `json:"topic"`
	Principal string `json:"principal"`
	Reason    string `json:"reason"`
}

// Guards plans the guards of a target: for each topic in protect, a guard
// per principal that target allows to write it, except migrator; the
// existing guards on topics in release to remove. wanted are the source's
// mapped bindings (never guards). Pure.
func Guards(target []Binding, protect, release []string, wanted map[Binding]bool, migrator string) (add, remove []Binding, unprot []Unprotectable) {
	have := map[Binding]bool{}
	for _, b := range target {
		have[b] = true
	}
	seen := map[Binding]bool{}
	for _, t := range protect {
		for _, b := range target {
			if b.Resource != kmsg.ACLResourceTypeTopic || b.Permission != kmsg.ACLPermissionTypeAllow ||
				(b.Operation != kmsg.ACLOperationWrite && b.Operation != kmsg.ACLOperationAll) ||
				!covers(b.Pattern, b.Name, t) || b.Principal == migrator {
				continue
			}
			if b.Principal == "User:*" {
				unprot = append(unprot, Unprotectable{Topic: t, Principal: b.Principal,
					Reason: fmt.Sprintf("%s lets every principal write it; a DENY for User:* would stop the mirror too", b)})
				continue
			}
			g := guard(t, b.Principal)
			if !have[g] && !seen[g] {
				seen[g] = true
				add = append(add, g)
			}
		}
	}
	for _, b := range target {
		if isGuard(b, release) && !wanted[b] {
			remove = append(remove, b)
		}
	}
	slices.SortFunc(add, compare)
	slices.SortFunc(remove, compare)
	return add, remove, unprot
}

// Protection is what Protect or Release did.
type Protection struct {
	// Protected are the target topics guarded now; Released those whose
	// guards were removed (promoted, or all for Release).
	Protected []string        `json:"protected"`
	Released  []string        `json:"released"`
	Added     []Binding       `json:"added"`
	Removed   []Binding       `json:"removed"`
	Unprot    []Unprotectable `json:"unprotectable"`
	Failed    []Failed        `json:"failed"`
}

// Protect guards the migration's target topics that are not promoted and
// removes the guards of promoted ones; run it after `access apply` (it
// guards against the writers the target allows) and after each promotion.
// Idempotent.
func Protect(ctx context.Context, h *migration.Handle) (*Protection, error) {
	return guardTopics(ctx, h, protectAndRelease)
}

// Release removes every guard of the migration's target topics (a
// rollback, or a migration given up). Idempotent.
func Release(ctx context.Context, h *migration.Handle) (*Protection, error) {
	return guardTopics(ctx, h, releaseAll)
}

// ReleasePromoted removes the guards of the migration's promoted target
// topics and adds none: what `promote` does after it records a promotion,
// for a migration protected or not. A target without an authorizer holds
// no guards: it returns an empty Protection.
func ReleasePromoted(ctx context.Context, h *migration.Handle) (*Protection, error) {
	none := &Protection{Protected: []string{}, Released: []string{}, Added: []Binding{}, Removed: []Binding{}, Unprot: []Unprotectable{}, Failed: []Failed{}}
	// Most targets hold no guard: find out from the target alone, without
	// planning (which reads the source too).
	tgt, err := Read(ctx, h.Target())
	switch {
	case errors.Is(err, ErrNoAuthorizer):
		return none, nil
	case err != nil:
		return nil, fmt.Errorf("target: %w", err)
	}
	if !slices.ContainsFunc(tgt, guardShaped) {
		return none, nil
	}
	return guardTopics(ctx, h, releasePromoted)
}

// guardShaped reports whether b has the shape of a guard (see Guards):
// DENY WRITE on a literal topic, any host.
func guardShaped(b Binding) bool {
	return b.Permission == kmsg.ACLPermissionTypeDeny && b.Operation == kmsg.ACLOperationWrite &&
		b.Resource == kmsg.ACLResourceTypeTopic && b.Pattern == kmsg.ACLResourcePatternTypeLiteral && b.Host == "*"
}

// guardMode is what guardTopics does.
type guardMode int

const (
	protectAndRelease guardMode = iota // guard the topics not promoted, release the promoted
	releaseAll                         // release every topic
	releasePromoted                    // release the promoted, guard none
)

func guardTopics(ctx context.Context, h *migration.Handle, mode guardMode) (*Protection, error) {
	sc, err := ScopeOf(ctx, h)
	if err != nil {
		return nil, err
	}
	if sc.Migrator == "" && mode == protectAndRelease {
		return nil, ErrUnknownMigrator
	}
	targets := map[string]string{} // source -> target
	for _, m := range sc.Topics {
		targets[m.Source] = m.Target
	}
	promoted := map[string]bool{}
	snap, err := h.LoadState(ctx)
	switch {
	case errors.Is(err, migration.ErrNoState):
	case err != nil:
		return nil, fmt.Errorf("read migration state: %w", err)
	default:
		if snap.Meta != nil {
			for s, t := range snap.Meta.Topics {
				targets[s] = t
			}
		}
		for s := range snap.Promoted {
			promoted[s] = true
		}
	}
	p := &Protection{Protected: []string{}, Released: []string{}, Added: []Binding{}, Removed: []Binding{}, Unprot: []Unprotectable{}, Failed: []Failed{}}
	for s, t := range targets {
		switch {
		case mode == releaseAll || promoted[s]:
			p.Released = append(p.Released, t)
		case mode == protectAndRelease:
			p.Protected = append(p.Protected, t)
		}
	}
	slices.Sort(p.Protected)
	slices.Sort(p.Released)
	tgt, err := Read(ctx, h.Target())
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	// A source without an authorizer has no bindings for a guard to
	// coincide with.
	src, err := Read(ctx, h.Source())
	if err != nil && !errors.Is(err, ErrNoAuthorizer) {
		return nil, fmt.Errorf("source: %w", err)
	}
	wanted := map[Binding]bool{}
	for _, b := range src {
		wanted[Map(b, sc.Naming, sc.Rules)] = true
	}
	add, remove, unprot := Guards(tgt, p.Protected, p.Released, wanted, sc.Migrator)
	p.Unprot = append(p.Unprot, unprot...)
	var errs []error
	for _, step := range []struct {
		bs   []Binding
		do   func(context.Context, *kgo.Client, []Binding) ([]Failed, error)
		done *[]Binding
	}{{add, Create, &p.Added}, {remove, Delete, &p.Removed}} {
		failed, err := step.do(ctx, h.Target(), step.bs)
		if err != nil {
			return p, fmt.Errorf("target: %w", err)
		}
		p.Failed = append(p.Failed, failed...)
		*step.done = append(*step.done, without(step.bs, failed)...)
		for _, f := range failed {
			if errors.Is(f.Err, kerr.ClusterAuthorizationFailed) {
				return p, fmt.Errorf("%w: %w", ErrNotAllowed, f.Err)
			}
			errs = append(errs, fmt.Errorf("%s: %w", f.Binding, f.Err))
		}
	}
	if len(errs) > 0 {
		errs = append([]error{ErrRefused}, errs...)
	}
	for _, u := range p.Unprot {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrUnprotectable, u.Topic, u.Reason))
	}
	return p, errors.Join(errs...)
}
