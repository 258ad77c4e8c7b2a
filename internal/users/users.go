// Package users moves SCRAM users to the target.
//
// A cluster never gives out SCRAM credentials, only each user's name,
// mechanisms and iteration counts, so the passwords must come from the
// user: a secrets file (LoadSecrets) maps target user names to passwords,
// held as config.Secret, which prints as [redacted] through every
// formatter; Apply reveals a password only to hand it to the client that
// salts it. Users without a secret are reported, never guessed.
//
// User names follow the spec's principal rules of type User (a rule
// "User:old -> User:new" creates new on the target for old on the source).
// A credential on the target counts as present whatever its password,
// which cannot be compared.
package users

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"gopkg.in/yaml.v3"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/migration"
)

// Credential is one user's SCRAM credential for one mechanism, without
// its secret.
type Credential struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Iterations int32  `json:"iterations"`
}

func (c Credential) String() string {
	return fmt.Sprintf("%s (%s, %d iterations)", c.User, c.Mechanism, c.Iterations)
}

func compare(a, b Credential) int {
	return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Mechanism, b.Mechanism))
}

// Read lists the SCRAM credentials of a cluster.
func Read(ctx context.Context, adm *kadm.Client) ([]Credential, error) {
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe SCRAM users: %w", err)
	}
	var out []Credential
	for _, d := range described.Sorted() {
		if d.Err != nil {
			return nil, fmt.Errorf("describe SCRAM user %s: %w", d.User, d.Err)
		}
		for _, c := range d.CredInfos {
			out = append(out, Credential{User: d.User, Mechanism: c.Mechanism.String(), Iterations: c.Iterations})
		}
	}
	slices.SortFunc(out, compare)
	return out, nil
}

// Plan lists the source's users and what the target lacks.
type Plan struct {
	// Source are the source's credentials under their target names.
	Source []Credential `json:"source"`
	// Equal counts those the target has (same user and mechanism).
	Equal int `json:"equal"`
	// Missing are those the target lacks.
	Missing []Credential `json:"missing"`
}

// InSync reports whether the target has every source user.
func (p *Plan) InSync() bool { return len(p.Missing) == 0 }

// Diff plans the target's users. Pure.
func Diff(source, target []Credential, rules config.ACLs) *Plan {
	p := &Plan{Source: []Credential{}, Missing: []Credential{}}
	have := map[[2]string]bool{}
	for _, c := range target {
		have[[2]string{c.User, c.Mechanism}] = true
	}
	for _, c := range source {
		if to, ok := strings.CutPrefix(rules.MapPrincipal("User:"+c.User), "User:"); ok {
			c.User = to
		}
		p.Source = append(p.Source, c)
		if have[[2]string{c.User, c.Mechanism}] {
			p.Equal++
		} else {
			p.Missing = append(p.Missing, c)
		}
	}
	slices.SortFunc(p.Source, compare)
	slices.SortFunc(p.Missing, compare)
	return p
}

// Make reads both sides' users and plans the target's. It writes nothing.
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

// Secrets maps target user names to their passwords.
type Secrets map[string]config.Secret

// maxSecretsSize bounds the secrets file.
const maxSecretsSize = 1 << 20

// LoadSecrets reads a secrets file: a YAML mapping of user name to
// password. Its errors never quote a value.
func LoadSecrets(path string) (Secrets, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secrets file: %w", err)
	}
	if len(data) > maxSecretsSize {
		return nil, fmt.Errorf("secrets file %s is larger than 1 MiB", path)
	}
	var raw map[string]string
	if err := yaml.Unmarshal(data, &raw); err != nil {
		// yaml's messages can quote the document; say only where.
		return nil, fmt.Errorf("secrets file %s: not a YAML mapping of user name to password", path)
	}
	s := Secrets{}
	for u, p := range raw {
		if u == "" || p == "" {
			return nil, fmt.Errorf("secrets file %s: user %q: empty name or password", path, u)
		}
		s[u] = config.Secret(p)
	}
	return s, nil
}

// Result is what Apply did.
type Result struct {
	Created []Credential `json:"created"`
	// NoSecret are users the secrets file does not name.
	NoSecret []string `json:"no_secret"`
	// Failed are credentials the target refused, with the reason.
	Failed []string `json:"failed"`
}

// ErrRefused is returned, wrapped, when the target refused some users.
var ErrRefused = errors.New("the target refused some SCRAM users")

// ErrNoSecret is returned, wrapped, when users are missing on the target
// and the secrets file names no password for them.
var ErrNoSecret = errors.New("no secret for some users missing on the target")

// Apply creates p.Missing on the target with the passwords in secrets and
// the source's iteration counts.
func Apply(ctx context.Context, h *migration.Handle, p *Plan, secrets Secrets) (*Result, error) {
	r := &Result{Created: []Credential{}, NoSecret: []string{}, Failed: []string{}}
	var upserts []kadm.UpsertSCRAM
	var todo []Credential
	for _, c := range p.Missing {
		pw, ok := secrets[c.User]
		if !ok {
			if !slices.Contains(r.NoSecret, c.User) {
				r.NoSecret = append(r.NoSecret, c.User)
			}
			continue
		}
		mech := kadm.ScramSha256
		switch c.Mechanism {
		case kadm.ScramSha256.String():
		case kadm.ScramSha512.String():
			mech = kadm.ScramSha512
		default:
			r.Failed = append(r.Failed, fmt.Sprintf("%s: unknown mechanism", c))
			continue
		}
		upserts = append(upserts, kadm.UpsertSCRAM{User: c.User, Mechanism: mech, Iterations: c.Iterations, Password: pw.Reveal()})
		todo = append(todo, c)
	}
	var errs []error
	if len(upserts) > 0 {
		altered, err := h.TargetAdmin().AlterUserSCRAMs(ctx, nil, upserts)
		if err != nil {
			return r, fmt.Errorf("alter SCRAM users: %w", err)
		}
		for _, c := range todo {
			a := altered[c.User]
			if a.Err != nil {
				r.Failed = append(r.Failed, fmt.Sprintf("%s: %v %s", c, a.Err, a.ErrMessage))
				errs = append(errs, fmt.Errorf("%w: %s: %w", ErrRefused, c.User, a.Err))
				continue
			}
			r.Created = append(r.Created, c)
		}
	}
	if len(r.NoSecret) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s", ErrNoSecret, strings.Join(r.NoSecret, ", ")))
	}
	return r, errors.Join(errs...)
}
