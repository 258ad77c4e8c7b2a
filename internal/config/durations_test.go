package config_test

import (
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
)

// TestDurationsNotPositive walks every duration setting of the spec with a
// negative and a zero value: each negative one is refused with a message
// that names the field and the fix, and each zero one is refused unless 0
// has a documented meaning (groups.mirror_wait: 0 does not wait).
func TestDurationsNotPositive(t *testing.T) {
	const connect = "is not positive: use a duration such as 30s, or leave it out for the default (10s)"
	for _, tc := range []struct{ spec, want string }{
		{"source: {bootstrap: s:1, connect_timeout: -1s}\n", "m.yaml:1: source.connect_timeout: -1s " + connect},
		{"source: {bootstrap: s:1, connect_timeout: 0s}\n", "m.yaml:1: source.connect_timeout: 0s " + connect},
		{"target: {bootstrap: t:1, connect_timeout: -500ms}\n", "m.yaml:2: target.connect_timeout: -500ms " + connect},
		{"target: {bootstrap: t:1, connect_timeout: 0s}\n", "m.yaml:2: target.connect_timeout: 0s " + connect},
		{"topics: {sync_interval: -1s}\n", "m.yaml:3: topics.sync_interval: -1s is too short: use at least 1s (the default is 30s)"},
		{"topics: {sync_interval: 0s}\n", "m.yaml:3: topics.sync_interval: 0s is too short: use at least 1s (the default is 30s)"},
		{"groups: {sync_interval: -1s}\n", "m.yaml:3: groups.sync_interval: -1s is too short: use at least 500ms (the default is 5s)"},
		{"groups: {sync_interval: 0s}\n", "m.yaml:3: groups.sync_interval: 0s is too short: use at least 500ms (the default is 5s)"},
		{"groups: {mirror_wait: -1s}\n", "m.yaml:3: groups.mirror_wait: must not be negative (0 does not wait)"},
		{"mirror: {transaction_interval: -1s}\n", "m.yaml:3: mirror.transaction_interval: -1s is out of range: use more than 0 and at most 30s (the default is 250ms)"},
		{"mirror: {transaction_interval: 0s}\n", "m.yaml:3: mirror.transaction_interval: 0s is out of range: use more than 0 and at most 30s (the default is 250ms)"},
	} {
		dir := writeFiles(t, map[string]string{"m.yaml": durationSpec(tc.spec)})
		_, _, err := config.Load(config.Overrides{SpecFile: dir + "/m.yaml"}, noEnv)
		if err == nil {
			t.Errorf("%q: Load succeeded, want %q", tc.spec, tc.want)
			continue
		}
		if got := err.Error(); got != dir+"/"+tc.want {
			t.Errorf("%q:\ngot  %s\nwant %s", tc.spec, got, dir+"/"+tc.want)
		}
	}
}

// durationSpec puts a one-line section into a spec with both clusters,
// replacing the cluster line it redefines.
func durationSpec(section string) string {
	src, tgt := "source: {bootstrap: s:1}\n", "target: {bootstrap: t:1}\n"
	switch section[:6] {
	case "source":
		return section + tgt
	case "target":
		return src + section
	}
	return src + tgt + section
}

// TestDurationsZeroMeaning: zero is accepted where it means something, and
// an unset connect_timeout ("connect_timeout:" or absent) is the default.
func TestDurationsZeroMeaning(t *testing.T) {
	cfg, _, err := loadSpec(t, "groups: {mirror_wait: 0s}\n", config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Groups.MirrorWait != 0 {
		t.Errorf("mirror_wait = %v, want 0", cfg.Groups.MirrorWait)
	}
	dir := writeFiles(t, map[string]string{"m.yaml": "source:\n  bootstrap: s:1\n  connect_timeout:\ntarget:\n  bootstrap: t:1\n  connect_timeout: 250ms\n"})
	cfg, _, err = config.Load(config.Overrides{SpecFile: dir + "/m.yaml"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Source.Timeout(); got != config.DefaultConnectTimeout {
		t.Errorf("source timeout = %v, want the default %v", got, config.DefaultConnectTimeout)
	}
	if got := cfg.Target.Timeout(); got != 250*time.Millisecond {
		t.Errorf("target timeout = %v, want 250ms", got)
	}
}

func TestCheckConnectTimeout(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "-1s is not positive: use a duration such as 30s, or leave it out for the default (10s)",
		0:            "0s is not positive: use a duration such as 30s, or leave it out for the default (10s)",
		time.Second:  "",
	} {
		err := config.CheckConnectTimeout(d)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("CheckConnectTimeout(%v) = %q, want %q", d, got, want)
			}
		} else if want != "" {
			t.Errorf("CheckConnectTimeout(%v) = nil, want %q", d, want)
		}
	}
}
