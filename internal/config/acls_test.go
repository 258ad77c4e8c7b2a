package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
)

func loadACLs(t *testing.T, acls string) (config.ACLs, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.yaml")
	spec := "source: {bootstrap: a:9092}\ntarget: {bootstrap: b:9092}\n" + acls
	if err := os.WriteFile(p, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(config.Overrides{SpecFile: p}, func(string) (string, bool) { return "", false })
	if err != nil {
		return config.ACLs{}, err
	}
	return cfg.ACLs, nil
}

func TestACLsSpec(t *testing.T) {
	got, err := loadACLs(t, "acls:\n  principals: [\"User:old -> User:new\", \"User:a->Group:b\"]\n  allow_spill: true\n")
	if err != nil {
		t.Fatal(err)
	}
	want := config.ACLs{Principals: []config.PrincipalRule{{From: "User:old", To: "User:new"}, {From: "User:a", To: "Group:b"}}, AllowSpill: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ACLs %+v, want %+v", got, want)
	}
	if p := want.MapPrincipal("User:old"); p != "User:new" {
		t.Errorf("MapPrincipal(User:old) = %q", p)
	}
	if p := want.MapPrincipal("User:other"); p != "User:other" {
		t.Errorf("MapPrincipal(User:other) = %q", p)
	}
	if got, err := loadACLs(t, ""); err != nil || !reflect.DeepEqual(got, config.ACLs{}) {
		t.Errorf("no acls section: %+v, %v", got, err)
	}
}

func TestACLsSpecErrors(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"acls:\n  principals: [\"User:old\"]\n", `m.yaml:4: acls.principals[0]: principal rule "User:old": write "User:old -> User:new"`},
		{"acls:\n  principals: [\"old -> User:new\"]\n", `m.yaml:4: acls.principals[0]: principal rule "old -> User:new": "old" is not TYPE:name (e.g. User:app)`},
		{"acls:\n  principals:\n    - \"User:a -> User:b\"\n    - \"User:a -> User:c\"\n", `m.yaml:6: acls.principals[1]: principal User:a is mapped twice`},
	} {
		_, err := loadACLs(t, c.spec)
		if err == nil || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one ending %q", c.spec, err, c.want)
		}
	}
}

// FuzzParsePrincipalRule: a parsed rule is two TYPE:name principals
// without surrounding spaces, and parses back to itself.
func FuzzParsePrincipalRule(f *testing.F) {
	for _, s := range []string{"User:a -> User:b", "User:a->Group:b", "a -> b", "User: -> User:b", "->", "User:a -> User:b -> User:c", ":x -> y:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := config.ParsePrincipalRule(in)
		if err != nil {
			return
		}
		for _, p := range []string{r.From, r.To} {
			typ, name, ok := strings.Cut(p, ":")
			if !ok || typ == "" || name == "" || strings.TrimSpace(p) != p {
				t.Fatalf("%q parsed to principal %q", in, p)
			}
		}
		again, err := config.ParsePrincipalRule(r.From + " -> " + r.To)
		if err != nil || again != r {
			t.Fatalf("%q: %+v does not parse back: %+v, %v", in, r, again, err)
		}
	})
}
