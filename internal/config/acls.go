package config

import (
	"errors"
	"fmt"
	"strings"
)

// ACLs says how the access rules around the data (ACL bindings, client
// quotas and SCRAM users) move to the target; package acls applies it.
type ACLs struct {
	// Principals maps source principals to target principals; a principal
	// without a rule keeps its name.
	Principals []PrincipalRule `json:"principals,omitempty"`
	// AllowSpill writes prefixed (and wildcard) topic bindings that also
	// cover target topics outside the migration; without it they are only
	// reported.
	AllowSpill bool `json:"allow_spill"`
}

// PrincipalRule maps one principal ("User:old-app") to another
// ("User:new-app").
type PrincipalRule struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// MapPrincipal returns the target principal for a source principal: the
// rule's To for an exact From, else p itself.
func (a ACLs) MapPrincipal(p string) string {
	for _, r := range a.Principals {
		if r.From == p {
			return r.To
		}
	}
	return p
}

// ACLsSpec is the acls section of the spec.
type ACLsSpec struct {
	// Principals are rules "User:old-app -> User:new-app".
	Principals []string `yaml:"principals"`
	// AllowSpill: see ACLs.AllowSpill.
	AllowSpill bool `yaml:"allow_spill"`
}

// ParsePrincipalRule parses "TYPE:name -> TYPE:name".
func ParsePrincipalRule(s string) (PrincipalRule, error) {
	from, to, ok := strings.Cut(s, "->")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !ok || from == "" || to == "" {
		return PrincipalRule{}, fmt.Errorf("principal rule %q: write \"User:old -> User:new\"", s)
	}
	for _, p := range []string{from, to} {
		if typ, name, ok := strings.Cut(p, ":"); !ok || typ == "" || name == "" {
			return PrincipalRule{}, fmt.Errorf("principal rule %q: %q is not TYPE:name (e.g. User:app)", s, p)
		}
	}
	return PrincipalRule{From: from, To: to}, nil
}

// buildACLs turns the spec's acls section into ACLs; every rule is
// checked and a principal mapped twice is refused.
func buildACLs(spec *Spec) (ACLs, error) {
	as := spec.ACLs
	if as == nil {
		return ACLs{}, nil
	}
	a := ACLs{AllowSpill: as.AllowSpill}
	seen := map[string]bool{}
	var errs []error
	for i, s := range as.Principals {
		r, err := ParsePrincipalRule(s)
		if err == nil && seen[r.From] {
			err = fmt.Errorf("principal %s is mapped twice", r.From)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", spec.where(fmt.Sprintf("acls.principals[%d]", i)), err))
			continue
		}
		seen[r.From] = true
		a.Principals = append(a.Principals, r)
	}
	return a, errors.Join(errs...)
}
