package acls

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/topics"
)

// Make reads the bindings of both clusters and plans the target's. It
// writes nothing. A cluster without an authorizer is no error, but said in
// the plan's Reason: a source without one has no bindings to move; a
// target without one cannot hold the source's, which the plan lists as
// Unheld (so it is not in sync), nothing guessed.
func Make(ctx context.Context, h *migration.Handle) (*Plan, error) {
	sc, err := ScopeOf(ctx, h)
	if err != nil {
		return nil, err
	}
	src, err := Read(ctx, h.Source())
	switch {
	case errors.Is(err, ErrNoAuthorizer):
		return NoAuthorizer(nil, "the source has no authorizer: no bindings to move"), nil
	case err != nil:
		return nil, fmt.Errorf("source: %w", err)
	}
	tgt, err := Read(ctx, h.Target())
	switch {
	case errors.Is(err, ErrNoAuthorizer):
		return NoAuthorizer(Diff(src, nil, sc), "the target has no authorizer: it cannot hold the source's bindings"), nil
	case err != nil:
		return nil, fmt.Errorf("target: %w", err)
	}
	return Diff(src, tgt, sc), nil
}

// NoAuthorizer turns p (nil: an empty plan) into the plan for a cluster
// without an authorizer: nothing to create or delete, what p would create
// unheld, and reason. Pure.
func NoAuthorizer(p *Plan, reason string) *Plan {
	out := &Plan{Create: []Binding{}, Extra: []Binding{}, Spills: []Spill{}, Unheld: []Binding{}, Reason: reason}
	if p != nil {
		out.Source = p.Source
		out.Unheld = append(out.Unheld, p.Create...)
		for _, s := range p.Spills {
			out.Unheld = append(out.Unheld, s.Target)
		}
		slices.SortFunc(out.Unheld, compare)
		out.Unheld = slices.Compact(out.Unheld) // an allowed spill is in both
	}
	return out
}

// ScopeOf is the handle's migration as a Scope: its planned topics, the
// selected source groups, the target's topics and the spec's rules.
func ScopeOf(ctx context.Context, h *migration.Handle) (Scope, error) {
	cfg := h.Config()
	tp, err := h.PlanTopics(ctx)
	if err != nil {
		return Scope{}, err
	}
	sc := Scope{Naming: cfg.Topics, Rules: cfg.ACLs}
	for _, t := range tp.Topics {
		sc.Topics = append(sc.Topics, topics.Mapping{Source: t.Source, Target: t.Target})
	}
	listed, err := h.SourceAdmin().ListGroups(ctx)
	if err != nil {
		return Scope{}, fmt.Errorf("list source groups: %w", err)
	}
	for _, g := range listed.Groups() {
		if cfg.Groups.Selection.Match(g) {
			sc.Groups = append(sc.Groups, g)
		}
	}
	slices.Sort(sc.Groups)
	td, err := h.TargetAdmin().ListTopics(ctx)
	if err != nil {
		return Scope{}, fmt.Errorf("list target topics: %w", err)
	}
	sc.TargetTopics = td.Names()
	if u := cfg.Target.SASL.Username; u != "" {
		sc.Migrator = "User:" + u
	}
	return sc, nil
}

// Options change what Apply does.
type Options struct {
	// DeleteExtra deletes the target's extra bindings (Plan.Extra).
	DeleteExtra bool
}

// Result is what Apply did.
type Result struct {
	Created []Binding `json:"created"`
	Deleted []Binding `json:"deleted"`
	// Failed are bindings the target refused, with the reason.
	Failed []Failed `json:"failed"`
}

// ErrRefused is returned, wrapped, when the target refused some bindings
// (Result.Failed names them).
var ErrRefused = errors.New("the target refused some ACL bindings")

// Apply creates p.Create on the target and, with DeleteExtra, deletes
// p.Extra. Creating a binding the target holds is a no-op in Kafka, so
// Apply is idempotent; re-planning after a failure lists only what is
// left.
func Apply(ctx context.Context, h *migration.Handle, p *Plan, o Options) (*Result, error) {
	r := &Result{Created: []Binding{}, Deleted: []Binding{}, Failed: []Failed{}}
	failed, err := Create(ctx, h.Target(), p.Create)
	if err != nil {
		return r, fmt.Errorf("target: %w", err)
	}
	r.Failed = append(r.Failed, failed...)
	r.Created = without(p.Create, failed)
	if o.DeleteExtra {
		failed, err := Delete(ctx, h.Target(), p.Extra)
		if err != nil {
			return r, fmt.Errorf("target: %w", err)
		}
		r.Failed = append(r.Failed, failed...)
		r.Deleted = without(p.Extra, failed)
	}
	if len(r.Failed) > 0 {
		errs := []error{ErrRefused}
		for _, f := range r.Failed {
			errs = append(errs, fmt.Errorf("%s: %w", f.Binding, f.Err))
		}
		return r, errors.Join(errs...)
	}
	return r, nil
}

func without(bs []Binding, failed []Failed) []Binding {
	out := []Binding{}
	for _, b := range bs {
		if !slices.ContainsFunc(failed, func(f Failed) bool { return f.Binding == b }) {
			out = append(out, b)
		}
	}
	return out
}
