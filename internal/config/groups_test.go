package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
)

func TestGroupsSettings(t *testing.T) {
	cfg, _, err := loadSpec(t, `groups:
  include: ["billing-.*"]
  exclude: [billing-tmp]
  sync: false
  sync_interval: 2s
  mirror_wait: 30s
`, config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Groups
	if g.Sync || g.SyncInterval != 2*time.Second || g.MirrorWait != 30*time.Second {
		t.Errorf("groups = sync %v, interval %v, wait %v; want false, 2s, 30s", g.Sync, g.SyncInterval, g.MirrorWait)
	}
	if !g.Match("billing-a") || g.Match("billing-tmp") || g.Match("orders") {
		t.Errorf("selection %s", g.Selection)
	}

	on := true
	cfg, _, err = loadSpec(t, "groups: {sync: false}\n", config.Overrides{GroupSync: &on})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Groups.Sync || cfg.Groups.SyncInterval != config.DefaultGroupSyncInterval || cfg.Groups.MirrorWait != config.DefaultMirrorWait {
		t.Errorf("flag override: %+v", cfg.Groups)
	}
}

func TestGroupsSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"groups: {sync_interval: 100ms}\n", "m.yaml:3: groups.sync_interval: 100ms is too short: use at least 500ms (the default is 5s)"},
		{"groups: {mirror_wait: -1s}\n", "m.yaml:3: groups.mirror_wait: must not be negative (0 does not wait)"},
		{"groups: {sync: maybe}\n", "m.yaml:3: groups.sync"},
		{"groups: {synch: true}\n", `m.yaml:3: unknown field "synch" in groups; did you mean "sync"?`},
	} {
		_, _, err := loadSpec(t, tc.spec, config.Overrides{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to contain %q", tc.spec, err, tc.want)
		}
	}
}
