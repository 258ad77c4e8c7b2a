package config_test

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmigrate/kmigrate/internal/config"
)

// clusters is the part of a spec every settings test needs.
const clusters = "source: {bootstrap: s:9092}\ntarget: {bootstrap: t:9092}\n"

// loadSpec loads a spec with the clusters above and o's flags.
func loadSpec(t *testing.T, spec string, o config.Overrides) (*config.Config, []string, error) {
	t.Helper()
	dir := writeFiles(t, map[string]string{"m.yaml": clusters + spec})
	o.SpecFile = filepath.Join(dir, "m.yaml")
	return config.Load(o, noEnv)
}

func TestSettingsFromSpec(t *testing.T) {
	cfg, warnings, err := loadSpec(t, `topics:
  include: ["orders\\..*"]
  exclude: [orders.tmp]
  rename: "migrated.{topic}"
  replication_factor: 3
  reuse_empty: true
  configs:
    include: [retention.ms, confluent.value.schema.validation]
    exclude: [min.insync.replicas]
  sync_interval: 1m30s
mirror:
  start: 2026-01-02T15:04:05+01:00
  start_fallback: latest
  until: END
  guarantee: at-least-once
  tracing_headers: false
  memory_budget: 1 GiB
  transaction_max_bytes: 64MB
  transaction_interval: 1s
  compression: Zstd
`, config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := config.NewSelection([]string{`orders\..*`}, []string{"orders.tmp"})
	if err != nil {
		t.Fatal(err)
	}
	wantTopics := config.Topics{
		Selection:         sel,
		Rename:            "migrated.{topic}",
		ReplicationFactor: 3,
		ReuseEmpty:        true,
		ConfigsInclude:    []string{"retention.ms", "confluent.value.schema.validation"},
		ConfigsExclude:    []string{"min.insync.replicas"},
		SyncInterval:      90 * time.Second,
	}
	if !reflect.DeepEqual(cfg.Topics, wantTopics) {
		t.Errorf("topics:\ngot  %+v\nwant %+v", cfg.Topics, wantTopics)
	}
	wantMirror := config.Mirror{
		Start:               config.StartPosition{Kind: config.StartTimestamp, Timestamp: time.Date(2026, 1, 2, 14, 4, 5, 0, time.UTC)},
		StartFallback:       config.StartLatest,
		Until:               config.UntilEnd,
		Guarantee:           config.AtLeastOnce,
		TracingHeaders:      false,
		MemoryBudget:        1 << 30,
		TransactionMaxBytes: 64_000_000,
		TransactionInterval: time.Second,
		Compression:         "zstd",
	}
	if !cfg.Mirror.Start.Timestamp.Equal(wantMirror.Start.Timestamp) {
		t.Errorf("start = %v, want %v", cfg.Mirror.Start, wantMirror.Start)
	}
	got := cfg.Mirror
	got.Start.Timestamp = wantMirror.Start.Timestamp // compared above; the zone differs
	if !reflect.DeepEqual(got, wantMirror) {
		t.Errorf("mirror:\ngot  %+v\nwant %+v", got, wantMirror)
	}
	if want := []string{filepath.Join(filepath.Dir(cfg.SpecFile), "m.yaml") + ":15: mirror.start_fallback is ignored: it applies only when the start position is committed, and it is 2026-01-02T15:04:05+01:00"}; !slices.Equal(warnings, want) {
		t.Errorf("warnings:\ngot  %q\nwant %q", warnings, want)
	}
	if got, want := cfg.Topics.TargetName("orders.eu"), "migrated.orders.eu"; got != want {
		t.Errorf("TargetName = %q, want %q", got, want)
	}
}

func TestSettingsDefaults(t *testing.T) {
	cfg, warnings, err := config.Load(config.Overrides{Source: "s:1", Target: "t:1"}, noEnv)
	if err != nil || warnings != nil {
		t.Fatal(err, warnings)
	}
	all, _ := config.NewSelection(nil, nil)
	wantTopics := config.Topics{Selection: all, SyncInterval: 30 * time.Second}
	if !reflect.DeepEqual(cfg.Topics, wantTopics) {
		t.Errorf("topics:\ngot  %+v\nwant %+v", cfg.Topics, wantTopics)
	}
	wantMirror := config.Mirror{
		Start:               config.StartPosition{Kind: config.StartEarliest},
		StartFallback:       config.StartEarliest,
		Until:               config.UntilNever,
		Guarantee:           config.ExactlyOnce,
		TracingHeaders:      true,
		MemoryBudget:        256 << 20,
		TransactionMaxBytes: 16 << 20,
		TransactionInterval: 250 * time.Millisecond,
		Compression:         "none",
	}
	if !reflect.DeepEqual(cfg.Mirror, wantMirror) {
		t.Errorf("mirror:\ngot  %+v\nwant %+v", cfg.Mirror, wantMirror)
	}
	if got, want := cfg.Topics.TargetName("orders"), "orders"; got != want {
		t.Errorf("TargetName = %q, want %q", got, want)
	}
	// An empty topics or mirror section is the same as none.
	cfg2, _, err := loadSpec(t, "topics: {}\nmirror: {}\n", config.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg2.Topics, wantTopics) || !reflect.DeepEqual(cfg2.Mirror, wantMirror) {
		t.Errorf("empty sections: got %+v %+v", cfg2.Topics, cfg2.Mirror)
	}
}

func TestSettingsFlagsOverrideSpec(t *testing.T) {
	spec := `topics:
  rename: "migrated.{topic}"
  replication_factor: 3
mirror:
  start: committed
  start_fallback: latest
  until: end
  guarantee: at-least-once
  memory_budget: 1GiB
`
	cfg, warnings, err := loadSpec(t, spec, config.Overrides{
		TopicPrefix:       "old.",
		AllowReuse:        true,
		ReplicationFactor: -1,
		Start:             "2026-01-02T15:04:05Z",
		StartFallback:     "earliest",
		Until:             "never",
		Guarantee:         "exactly-once",
		NoTracingHeaders:  true,
		MemoryBudget:      "48MiB",
	})
	if err != nil {
		t.Fatal(err)
	}
	tp := cfg.Topics
	if tp.Prefix != "old." || tp.Rename != "" || tp.ReplicationFactor != 0 || !tp.ReuseEmpty {
		t.Errorf("topics = %+v, want prefix old., no rename, RF 0, reuse", tp)
	}
	if got, want := tp.TargetName("orders"), "old.orders"; got != want {
		t.Errorf("TargetName = %q, want %q", got, want)
	}
	want := config.Mirror{
		Start:          config.StartPosition{Kind: config.StartTimestamp, Timestamp: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		StartFallback:  config.StartEarliest,
		Until:          config.UntilNever,
		Guarantee:      config.ExactlyOnce,
		TracingHeaders: false,
		MemoryBudget:   48 << 20,
		// The default transaction bound follows a small budget down.
		TransactionMaxBytes: 3413 << 10, // (48 MiB - 28 MiB) / 6, in whole KiB
		TransactionInterval: 250 * time.Millisecond,
		Compression:         "none",
	}
	if !reflect.DeepEqual(cfg.Mirror, want) {
		t.Errorf("mirror:\ngot  %+v\nwant %+v", cfg.Mirror, want)
	}
	if want := []string{"--start-fallback is ignored: it applies only when the start position is committed, and it is 2026-01-02T15:04:05Z"}; !slices.Equal(warnings, want) {
		t.Errorf("warnings = %q, want %q", warnings, want)
	}

	// A positive flag replication factor replaces the spec's.
	cfg, _, err = loadSpec(t, spec, config.Overrides{ReplicationFactor: 2})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Topics.ReplicationFactor != 2 || cfg.Topics.Rename != "migrated.{topic}" {
		t.Errorf("topics = %+v", cfg.Topics)
	}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		name string
		spec string
		o    config.Overrides
		want string // the whole message, after the spec path
	}{
		{name: "prefix and rename", spec: "topics:\n  prefix: a.\n  rename: 'b.{topic}'\n",
			want: `:5: topics.rename: topics.prefix and topics.rename are mutually exclusive: a prefix is the template "PREFIX{topic}"; keep one`},
		{name: "rename without placeholder", spec: "topics:\n  rename: migrated\n",
			want: `:4: topics.rename: "migrated" does not contain {topic}: every source topic would get the same target name; write e.g. "migrated.{topic}"`},
		{name: "rename with another placeholder", spec: "topics:\n  rename: '{cluster}.{topic}'\n",
			want: `:4: topics.rename: "{cluster}.{topic}": the only placeholder is {topic}`},
		{name: "rename with illegal characters", spec: "topics:\n  rename: 'old/{topic}'\n",
			want: `:4: topics.rename: "old/{topic}" may hold only {topic}, letters, digits, '.', '_' and '-', as topic names do`},
		{name: "rename too long", spec: "topics:\n  rename: '" + strings.Repeat("x", 249) + "{topic}'\n",
			want: `:4: topics.rename: "` + strings.Repeat("x", 249) + `{topic}" leaves no room for the source name within Kafka's 249 characters`},
		{name: "rename reserved", spec: "topics:\n  rename: '__{topic}'\n",
			want: `:4: topics.rename: "__{topic}" would make every target name start with "__", which is reserved for Kafka's and tools' internal topics (kmigrate keeps its state in __kmigrate-*)`},
		{name: "prefix with illegal characters", spec: "topics:\n  prefix: 'old:'\n",
			want: `:4: topics.prefix: "old:" may hold only letters, digits, '.', '_' and '-', as topic names do`},
		{name: "prefix too long", spec: "topics:\n  prefix: " + strings.Repeat("p", 249) + "\n",
			want: `:4: topics.prefix: "` + strings.Repeat("p", 249) + `" leaves no room for the source name within Kafka's 249 characters`},
		{name: "replication factor", spec: "topics:\n  replication_factor: -2\n",
			want: ":4: topics.replication_factor: -2 is not a replication factor: use a positive number, or leave it out (or -1) for the target cluster's default"},
		{name: "replication factor too large", spec: "topics:\n  replication_factor: 40000\n",
			want: ":4: topics.replication_factor: 40000 is not a replication factor: use a positive number, or leave it out (or -1) for the target cluster's default"},
		{name: "config pattern", spec: "topics:\n  configs:\n    include: ['retention.*']\n",
			want: `:5: topics.configs.include[0]: "retention.*" is not a topic config name (names such as retention.ms, not patterns)`},
		{name: "config in both lists", spec: "topics:\n  configs: {include: [retention.ms], exclude: [retention.ms]}\n",
			want: `:4: topics.configs.exclude[0]: "retention.ms" is both included and excluded: keep one`},
		{name: "sync interval", spec: "topics:\n  sync_interval: 0s\n",
			want: ":4: topics.sync_interval: 0s is too short: use at least 1s (the default is 30s)"},
		{name: "sync interval unit", spec: "topics:\n  sync_interval: 30\n",
			want: `:4: topics.sync_interval: want a duration like 10s or 1m30s, not "30"`},
		{name: "reuse not bool", spec: "topics:\n  reuse_empty: yes\n",
			want: `:4: topics.reuse_empty: want true or false, not "yes"`},
		{name: "start", spec: "mirror:\n  start: yesterday\n",
			want: `:4: mirror.start: want earliest, latest, committed or an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, not "yesterday"`},
		{name: "start without zone", spec: "mirror:\n  start: 2026-01-02T15:04:05\n",
			want: `:4: mirror.start: want earliest, latest, committed or an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, not "2026-01-02T15:04:05"`},
		{name: "start as mapping", spec: "mirror:\n  start: {kind: earliest}\n",
			want: ":4: mirror.start: want a string, got a mapping"},
		{name: "start fallback", spec: "mirror:\n  start_fallback: committed\n",
			want: `:4: mirror.start_fallback: want earliest or latest, not "committed"`},
		{name: "until", spec: "mirror:\n  until: forever\n",
			want: `:4: mirror.until: want end (stop at the source end offsets recorded at start) or never (mirror continuously), not "forever"`},
		{name: "guarantee", spec: "mirror:\n  guarantee: exactly_once\n",
			want: `:4: mirror.guarantee: want exactly-once or at-least-once, not "exactly_once"`},
		{name: "tracing headers", spec: "mirror:\n  tracing_headers: on\n",
			want: `:4: mirror.tracing_headers: want true or false, not "on"`},
		{name: "memory budget unit", spec: "mirror:\n  memory_budget: 256M\n",
			want: `:4: mirror.memory_budget: want a size like 256MiB: a whole number with B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000), not "256M"`},
		{name: "memory budget fraction", spec: "mirror:\n  memory_budget: 0.5GiB\n",
			want: `:4: mirror.memory_budget: want a size like 256MiB: a whole number with B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000), not "0.5GiB"`},
		{name: "memory budget too small", spec: "mirror:\n  memory_budget: 8MiB\n",
			want: ":4: mirror.memory_budget: 8MiB is too small: use at least 48MiB (the default is 256MiB)"},
		{name: "memory budget list", spec: "mirror:\n  memory_budget: [1]\n",
			want: ":4: mirror.memory_budget: want a size like 256MiB, got a list"},
		{name: "memory budget overflow", spec: "mirror:\n  memory_budget: 99999999999GiB\n",
			want: `:4: mirror.memory_budget: "99999999999GiB" is too large`},
		{name: "transaction too small", spec: "mirror:\n  transaction_max_bytes: 512KiB\n",
			want: ":4: mirror.transaction_max_bytes: 512KiB is too small: a transaction must hold a record batch of Kafka's default maximum size; use at least 1MiB (the default is 16MiB)"},
		{name: "transaction above the budget's limit", spec: "mirror:\n  memory_budget: 64MiB\n  transaction_max_bytes: 7MiB\n",
			want: ":5: mirror.transaction_max_bytes: 7MiB is more than a memory budget of 64MiB (from mirror.memory_budget) allows a transaction (a sixth of what is left after 28MiB for the runtime): lower it to at most 6MiB, or raise the budget"},
		{name: "transaction above the default budget's limit", spec: "mirror:\n  transaction_max_bytes: 39MiB\n",
			want: ":4: mirror.transaction_max_bytes: 39MiB is more than a memory budget of 256MiB (from the default) allows a transaction (a sixth of what is left after 28MiB for the runtime): lower it to at most 38MiB, or raise the budget"},
		{name: "transaction above the flag's budget's limit", spec: "mirror:\n  transaction_max_bytes: 16MiB\n", o: config.Overrides{MemoryBudget: "48MiB"},
			want: ":4: mirror.transaction_max_bytes: 16MiB is more than a memory budget of 48MiB (from --memory-budget) allows a transaction (a sixth of what is left after 28MiB for the runtime): lower it to at most 3413KiB, or raise the budget"},
		{name: "transaction interval", spec: "mirror:\n  transaction_interval: 0s\n",
			want: ":4: mirror.transaction_interval: 0s is out of range: use more than 0 and at most 30s (the default is 250ms)"},
		{name: "transaction interval long", spec: "mirror:\n  transaction_interval: 1m\n",
			want: ":4: mirror.transaction_interval: 1m0s is out of range: use more than 0 and at most 30s (the default is 250ms)"},
		{name: "compression", spec: "mirror:\n  compression: brotli\n",
			want: `:4: mirror.compression: want one of none, gzip, snappy, lz4, zstd, not "brotli"`},
		{name: "unknown mirror field", spec: "mirror:\n  memory_bugdet: 1GiB\n",
			want: `:4: unknown field "memory_bugdet" in mirror; did you mean "memory_budget"? known fields: start, start_fallback, until, guarantee, tracing_headers, memory_budget, transaction_max_bytes, transaction_interval, compression`},
		{name: "unknown topics field", spec: "topics:\n  partitions: 3\n",
			want: `:4: unknown field "partitions" in topics; known fields: include, exclude, prefix, rename, replication_factor, reuse_empty, configs, sync_interval`},
		{name: "unknown configs field", spec: "topics:\n  configs: {allow: [x]}\n",
			want: `:4: unknown field "allow" in topics.configs; known fields: include, exclude`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadSpec(t, tt.spec, tt.o)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			i := strings.Index(msg, "m.yaml")
			if i < 0 || msg[i+len("m.yaml"):] != tt.want {
				t.Errorf("error:\ngot  %s\nwant m.yaml%s", msg, tt.want)
			}
		})
	}
}

func TestSettingsFlagErrors(t *testing.T) {
	_, _, err := config.Load(config.Overrides{
		Source: "s:1", Target: "t:1",
		TopicPrefix:       "a b",
		ReplicationFactor: -3,
		Start:             "now",
		StartFallback:     "committed",
		Until:             "later",
		Guarantee:         "maybe",
		MemoryBudget:      "1MiB",
	}, noEnv)
	if err == nil {
		t.Fatal("want an error")
	}
	want := strings.Join([]string{
		`--topic-prefix: "a b" may hold only letters, digits, '.', '_' and '-', as topic names do`,
		"--replication-factor: -3 is not a replication factor: use a positive number, or leave it out (or -1) for the target cluster's default",
		`--start: want earliest, latest, committed or an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, not "now"`,
		`--start-fallback: want earliest or latest, not "committed"`,
		`--until: want end (stop at the source end offsets recorded at start) or never (mirror continuously), not "later"`,
		`--guarantee: want exactly-once or at-least-once, not "maybe"`,
		"--memory-budget: 1MiB is too small: use at least 48MiB (the default is 256MiB)",
	}, "\n")
	if err.Error() != want {
		t.Errorf("error:\ngot  %s\nwant %s", err, want)
	}
	_, _, err = config.Load(config.Overrides{Source: "s:1", Target: "t:1", TopicPrefix: "__kmigrate-"}, noEnv)
	if want := `--topic-prefix: "__kmigrate-" would make every target name start with "__"`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v, want %s...", err, want)
	}
	_, _, err = config.Load(config.Overrides{Source: "s:1", Target: "t:1", MemoryBudget: "lots"}, noEnv)
	if want := `--memory-budget: want a size like 256MiB: a whole number with B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000), not "lots"`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "16MiB": 16 << 20, "16mib": 16 << 20, "16 MiB": 16 << 20, " 2GiB ": 2 << 30,
		"3KiB": 3 << 10, "1KB": 1000, "5MB": 5_000_000, "2gb": 2_000_000_000, "7B": 7, "7 b": 7,
	} {
		got, err := config.ParseByteSize(in)
		if err != nil || int64(got) != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "+1MiB", "1.5GiB", "1TiB", "1 M", "1e6", "0x10", "1\u212AB", "9223372036854775807", "4611686018427387905"} {
		if got, err := config.ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		}
	}
	for in, want := range map[config.ByteSize]string{0: "0B", 1: "1B", 1000: "1000B", 1 << 10: "1KiB", 256 << 20: "256MiB", 3 << 30: "3GiB", 1<<20 + 1<<10: "1025KiB"} {
		if got := in.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(in), got, want)
		}
	}
}

func TestTargetName(t *testing.T) {
	tests := []struct {
		topics config.Topics
		source string
		want   string
	}{
		{config.Topics{}, "orders", "orders"},
		{config.Topics{Prefix: "old."}, "orders", "old.orders"},
		{config.Topics{Rename: "migrated.{topic}"}, "orders", "migrated.orders"},
		{config.Topics{Rename: "{topic}-v2"}, "a.b", "a.b-v2"},
		{config.Topics{Rename: "{topic}.{topic}"}, "x", "x.x"},
	}
	for _, tt := range tests {
		if got := tt.topics.TargetName(tt.source); got != tt.want {
			t.Errorf("%+v.TargetName(%q) = %q, want %q", tt.topics, tt.source, got, tt.want)
		}
	}
}

func TestCheckTopicName(t *testing.T) {
	for _, ok := range []string{"a", "orders.v1", "A_b-9", "...", strings.Repeat("x", 249)} {
		if err := config.CheckTopicName(ok); err != nil {
			t.Errorf("CheckTopicName(%q) = %v", ok, err)
		}
	}
	for name, want := range map[string]string{
		"":                       "a topic name must not be empty",
		".":                      `"." is not a legal topic name`,
		"..":                     `".." is not a legal topic name`,
		"a b":                    `topic name "a b" may hold only letters, digits, '.', '_' and '-'`,
		"é":                      `topic name "é" may hold only letters, digits, '.', '_' and '-'`,
		strings.Repeat("x", 250): `topic name "` + strings.Repeat("x", 250) + `" is 250 characters long: Kafka allows 249`,
	} {
		if err := config.CheckTopicName(name); err == nil || err.Error() != want {
			t.Errorf("CheckTopicName(%q) = %v, want %s", name, err, want)
		}
	}
}

func TestStartPositionRoundTrip(t *testing.T) {
	for _, in := range []string{"earliest", "latest", "committed", "2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789+05:30"} {
		p, err := config.ParseStartPosition(in)
		if err != nil {
			t.Fatalf("ParseStartPosition(%q): %v", in, err)
		}
		if p.String() != in {
			t.Errorf("ParseStartPosition(%q).String() = %q", in, p.String())
		}
		b, _ := p.MarshalText()
		if string(b) != in {
			t.Errorf("MarshalText = %q, want %q", b, in)
		}
	}
	if p, err := config.ParseStartPosition("Committed"); err != nil || p.Kind != config.StartCommitted {
		t.Errorf("ParseStartPosition(Committed) = %+v, %v", p, err)
	}
}
