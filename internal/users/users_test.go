package users_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kmigrate/kmigrate/internal/cluster"
	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/users"
)

func upsert(t *testing.T, adm *kadm.Client, us ...kadm.UpsertSCRAM) {
	t.Helper()
	res, err := adm.AlterUserSCRAMs(t.Context(), nil, us)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestApply lists the source's users, creates the missing ones on the
// target from a secrets file (renamed by a principal rule, with the
// source's iterations), reports the one without a secret, and the created
// users authenticate on the target.
func TestApply(t *testing.T) {
	p := kafkatest.NewPair(t, kafkatest.Brokers(1), kafkatest.SASL(config.ScramSHA256, "admin", "admin-secret"))
	src, tgt := p.Source.Admin(t), p.Target.Admin(t)
	upsert(t, src,
		kadm.UpsertSCRAM{User: "app", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "app-on-source"},
		kadm.UpsertSCRAM{User: "slow", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "slow-on-source"},
		kadm.UpsertSCRAM{User: "old", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "old-on-source"},
		kadm.UpsertSCRAM{User: "nosecret", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "x-on-source"})
	cfg := p.Config(t, "users")
	cfg.ACLs.Principals = []config.PrincipalRule{{From: "User:old", To: "User:new"}}
	h := p.Open(t, "users", cfg)

	plan, err := users.Make(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	admin := users.Credential{User: "admin", Mechanism: "SCRAM-SHA-256", Iterations: 4096}
	app := users.Credential{User: "app", Mechanism: "SCRAM-SHA-512", Iterations: 4096}
	slow := users.Credential{User: "slow", Mechanism: "SCRAM-SHA-256", Iterations: 8192}
	renamed := users.Credential{User: "new", Mechanism: "SCRAM-SHA-256", Iterations: 4096}
	nosecret := users.Credential{User: "nosecret", Mechanism: "SCRAM-SHA-256", Iterations: 4096}
	want := &users.Plan{Source: []users.Credential{admin, app, renamed, nosecret, slow}, Equal: 1, Missing: []users.Credential{app, renamed, nosecret, slow}}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("plan:\ngot  %+v\nwant %+v", plan, want)
	}

	path := filepath.Join(t.TempDir(), "secrets.yaml")
	if err := os.WriteFile(path, []byte("app: app-on-target\nnew: \"new-on-target\"\nslow: slow-on-target\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets, err := users.LoadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v", secrets, secrets, secrets); strings.Contains(s, "on-target") {
		t.Errorf("secrets print their values: %s", s)
	}
	res, err := users.Apply(t.Context(), h, plan, secrets)
	if !errors.Is(err, users.ErrNoSecret) || errors.Is(err, users.ErrRefused) {
		t.Fatalf("apply: %v, want ErrNoSecret only", err)
	}
	if !reflect.DeepEqual(res, &users.Result{Created: []users.Credential{app, renamed, slow}, NoSecret: []string{"nosecret"}, Failed: []string{}}) {
		t.Errorf("apply: %+v", res)
	}
	after, err := users.Make(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	if after.Equal != 4 || !reflect.DeepEqual(after.Missing, []users.Credential{nosecret}) {
		t.Errorf("after apply: %+v", after)
	}
	got, err := users.Read(t.Context(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []users.Credential{admin, app, renamed, slow}) {
		t.Errorf("target users %v", got)
	}

	// The created users authenticate on the target with their passwords,
	// and not with wrong ones. (Not slow: kfake's SCRAM server announces
	// 4096 iterations whatever the credential holds, so only users with
	// 4096 authenticate there; the real-Kafka lane covers the others.)
	for _, c := range []struct {
		user, pass string
		mech       config.Mechanism
		ok         bool
	}{
		{"app", "app-on-target", config.ScramSHA512, true},
		{"new", "new-on-target", config.ScramSHA256, true},
		{"app", "app-on-source", config.ScramSHA512, false},
	} {
		cc := p.Target.Config
		cc.SASL = config.SASL{Mechanism: c.mech, Username: c.user, Password: config.Secret(c.pass)}
		cc.ConnectTimeout = 2e9
		cl, err := cluster.Connect(t.Context(), &cc, nil)
		if err == nil {
			cl.Close()
		}
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, cluster.ErrAuth)) {
			t.Errorf("%s with %s on the target: %v, want ok %v", c.user, c.mech, err, c.ok)
		}
	}
}

func TestLoadSecretsErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ content, want string }{
		{"- a\n- hunter2\n", "not a YAML mapping of user name to password"},
		{"a: \"\"\n", `user "a": empty name or password`},
	} {
		path := filepath.Join(dir, "s.yaml")
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := users.LoadSecrets(path)
		if err == nil || !strings.HasSuffix(err.Error(), c.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: %v, want an error ending %q that quotes no value", c.content, err, c.want)
		}
	}
}
