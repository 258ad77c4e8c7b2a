// Package quotas copies client quotas (for users, client ids, and their
// defaults) from the source to the target, and compares both sides.
//
// Every user and client-id quota is copied, defaults included: quotas
// protect the cluster from its clients, and applications moving to the
// target bring the same load. IP quotas are left alone, because the
// target's clients connect from other addresses. User names follow the
// spec's principal rules (a rule "User:old -> User:new" renames the quota
// entity user=old to user=new).
//
// Diff is pure; Make reads both sides and Apply sets what differs, so the
// copy is idempotent and a re-run after a failure sets only what is left.
package quotas

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/migration"
)

// Component is one part of a quota entity; a nil Name is the default.
type Component struct {
	Type string  `json:"type"`
	Name *string `json:"name"`
}

// Quota is one quota value of an entity.
type Quota struct {
	Entity []Component `json:"entity"`
	Key    string      `json:"key"`
	Value  float64     `json:"value"`
}

// EntityString is the entity as "{client-id=<default>, user=app}".
func EntityString(e []Component) string {
	var ss []string
	for _, c := range e {
		n := "<default>"
		if c.Name != nil {
			n = *c.Name
		}
		ss = append(ss, c.Type+"="+n)
	}
	return "{" + strings.Join(ss, ", ") + "}"
}

// String is the quota as "{user=app} producer_byte_rate=1024".
func (q Quota) String() string {
	return fmt.Sprintf("%s %s=%s", EntityString(q.Entity), q.Key, strconv.FormatFloat(q.Value, 'f', -1, 64))
}

// id identifies a quota regardless of its value.
func (q Quota) id() string { return EntityString(q.Entity) + " " + q.Key }

// copied are the entity types that are copied.
var copied = []string{"user", "client-id"}

// Read returns the user and client-id quotas of a cluster, components
// ordered by type.
func Read(ctx context.Context, adm *kadm.Client) ([]Quota, error) {
	described, err := adm.DescribeClientQuotas(ctx, false, nil)
	if err != nil {
		return nil, fmt.Errorf("describe client quotas: %w", err)
	}
	var out []Quota
	for _, d := range described {
		var e []Component
		ok := true
		for _, c := range d.Entity {
			ok = ok && slices.Contains(copied, c.Type)
			e = append(e, Component{Type: c.Type, Name: c.Name})
		}
		if !ok {
			continue
		}
		slices.SortFunc(e, func(a, b Component) int { return cmp.Compare(a.Type, b.Type) })
		for _, v := range d.Values {
			out = append(out, Quota{Entity: e, Key: v.Key, Value: v.Value})
		}
	}
	return out, nil
}

// Map returns the target quota for a source quota: user names through the
// principal rules of type User.
func Map(q Quota, rules config.ACLs) Quota {
	out := q
	out.Entity = slices.Clone(q.Entity)
	for i, c := range out.Entity {
		if c.Type == "user" && c.Name != nil {
			if to, ok := strings.CutPrefix(rules.MapPrincipal("User:"+*c.Name), "User:"); ok {
				out.Entity[i].Name = &to
			}
		}
	}
	return out
}

// Plan is what it takes to give the target the source's quotas.
type Plan struct {
	// Equal counts quotas the target holds with the source's value.
	Equal int `json:"equal"`
	// Set lists quotas to set on the target: missing, or with another
	// value (Was).
	Set []Change `json:"set"`
	// Extra lists target quotas the source does not have.
	Extra []Quota `json:"extra"`
}

// Change is a quota to set, and the target's value before, if any.
type Change struct {
	Quota
	Was *float64 `json:"was,omitempty"`
}

// InSync reports whether both sides hold the same quotas.
func (p *Plan) InSync() bool { return len(p.Set) == 0 && len(p.Extra) == 0 }

// Diff plans the target's quotas. Pure.
func Diff(source, target []Quota, rules config.ACLs) *Plan {
	have := map[string]Quota{}
	for _, q := range target {
		have[q.id()] = q
	}
	p := &Plan{Set: []Change{}, Extra: []Quota{}}
	wanted := map[string]bool{}
	for _, q := range source {
		m := Map(q, rules)
		wanted[m.id()] = true
		switch t, ok := have[m.id()]; {
		case ok && t.Value == m.Value:
			p.Equal++
		case ok:
			p.Set = append(p.Set, Change{Quota: m, Was: &t.Value})
		default:
			p.Set = append(p.Set, Change{Quota: m})
		}
	}
	for _, q := range target {
		if !wanted[q.id()] {
			p.Extra = append(p.Extra, q)
		}
	}
	slices.SortFunc(p.Set, func(a, b Change) int { return cmp.Compare(a.id(), b.id()) })
	slices.SortFunc(p.Extra, func(a, b Quota) int { return cmp.Compare(a.id(), b.id()) })
	return p
}

// Make reads both sides' quotas and plans the target's. It writes nothing.
func Make(ctx context.Context, h *migration.Handle) (*Plan, error) {
	src, err := Read(ctx, h.SourceAdmin())
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	tgt, err := Read(ctx, h.TargetAdmin())
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	return Diff(src, tgt, h.Config().ACLs), nil
}

// Result is what Apply did: the entities altered, and those the target
// refused with the reason.
type Result struct {
	Set     []Quota  `json:"set"`
	Removed []Quota  `json:"removed"`
	Failed  []string `json:"failed"`
}

// ErrRefused is returned, wrapped, when the target refused some quotas.
var ErrRefused = errors.New("the target refused some client quotas")

// Apply sets p.Set on the target and, with deleteExtra, removes p.Extra.
func Apply(ctx context.Context, h *migration.Handle, p *Plan, deleteExtra bool) (*Result, error) {
	r := &Result{Set: []Quota{}, Removed: []Quota{}, Failed: []string{}}
	byEntity := map[string]*kadm.AlterClientQuotaEntry{}
	var order []string
	add := func(q Quota, remove bool) {
		k := EntityString(q.Entity)
		e, ok := byEntity[k]
		if !ok {
			e = &kadm.AlterClientQuotaEntry{}
			for _, c := range q.Entity {
				e.Entity = append(e.Entity, kadm.ClientQuotaEntityComponent{Type: c.Type, Name: c.Name})
			}
			byEntity[k] = e
			order = append(order, k)
		}
		e.Ops = append(e.Ops, kadm.AlterClientQuotaOp{Key: q.Key, Value: q.Value, Remove: remove})
	}
	for _, c := range p.Set {
		add(c.Quota, false)
	}
	if deleteExtra {
		for _, q := range p.Extra {
			add(q, true)
		}
	}
	if len(order) == 0 {
		return r, nil
	}
	var entries []kadm.AlterClientQuotaEntry
	for _, k := range order {
		entries = append(entries, *byEntity[k])
	}
	altered, err := h.TargetAdmin().AlterClientQuotas(ctx, entries)
	if err != nil {
		return r, fmt.Errorf("alter client quotas: %w", err)
	}
	failed := map[string]bool{}
	var errs []error
	for _, a := range altered {
		if a.Err != nil {
			var e []Component
			for _, c := range a.Entity {
				e = append(e, Component{Type: c.Type, Name: c.Name})
			}
			slices.SortFunc(e, func(a, b Component) int { return cmp.Compare(a.Type, b.Type) })
			k := EntityString(e)
			failed[k] = true
			msg := fmt.Sprintf("%s: %v", k, a.Err)
			if a.ErrMessage != "" {
				msg += ": " + a.ErrMessage
			}
			r.Failed = append(r.Failed, msg)
			errs = append(errs, fmt.Errorf("%s: %w", k, a.Err))
		}
	}
	for _, c := range p.Set {
		if !failed[EntityString(c.Entity)] {
			r.Set = append(r.Set, c.Quota)
		}
	}
	if deleteExtra {
		for _, q := range p.Extra {
			if !failed[EntityString(q.Entity)] {
				r.Removed = append(r.Removed, q)
			}
		}
	}
	if len(errs) > 0 {
		return r, errors.Join(append([]error{ErrRefused}, errs...)...)
	}
	return r, nil
}
