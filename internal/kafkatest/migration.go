package kafkatest

import (
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/migration"
)

// Config returns the configuration of migration name between the pair's
// clusters, as a user's spec would give it: every topic and group
// selected, default mirror settings with short transactions and syncs, so
// that tests see copies quickly. Tests change what they need.
func (p *Pair) Config(t testing.TB, name string) *config.Config {
	t.Helper()
	all, err := config.NewSelection(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := config.DefaultMirror()
	m.TransactionInterval = 50 * time.Millisecond
	return &config.Config{
		Name:   name,
		Source: p.Source.Config, Target: p.Target.Config,
		Topics: config.Topics{Selection: all, SyncInterval: time.Second},
		Groups: config.Groups{Selection: all, SyncInterval: time.Second, MirrorWait: 2 * time.Minute},
		Mirror: m,
	}
}

// Open opens migration name between the pair's clusters with cfg (nil:
// p.Config(t, name)), closed when the test ends.
func (p *Pair) Open(t testing.TB, name string, cfg *config.Config, opts ...migration.Option) *migration.Handle {
	t.Helper()
	if cfg == nil {
		cfg = p.Config(t, name)
	}
	h, err := migration.Open(t.Context(), cfg, testLogger(t), opts...)
	if err != nil {
		t.Fatalf("kafkatest: open migration %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	return h
}
