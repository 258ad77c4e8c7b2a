package topics_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/topics"
)

func cfg(key, value string, src kmsg.ConfigSource, synonyms ...kadm.ConfigSynonym) kadm.Config {
	return kadm.Config{Key: key, Value: &value, Source: src, Synonyms: synonyms}
}

const (
	topicSrc   = kmsg.ConfigSourceDynamicTopicConfig
	defaultSrc = kmsg.ConfigSourceDefaultConfig
	staticSrc  = kmsg.ConfigSourceStaticBrokerConfig
	dynBroker  = kmsg.ConfigSourceDynamicBrokerConfig
	dynDefault = kmsg.ConfigSourceDynamicDefaultBrokerConfig
)

func TestPortableConfigs(t *testing.T) {
	want := []string{
		"cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms",
		"index.interval.bytes", "max.compaction.lag.ms", "max.message.bytes", "message.timestamp.after.max.ms",
		"message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas",
		"preallocate", "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms",
		"segment.ms", "unclean.leader.election.enable",
	}
	if got := topics.PortableConfigs(); !slices.Equal(got, want) {
		t.Errorf("PortableConfigs:\ngot  %q\nwant %q", got, want)
	}
}

func TestFilterConfigs(t *testing.T) {
	const include = ": copy it with topics.configs.include if the target supports it"
	// A source topic as Kafka describes it: every config, from every
	// source.
	rc := kadm.ResourceConfig{Name: "orders", Configs: []kadm.Config{
		cfg("retention.ms", "-1", topicSrc, kadm.ConfigSynonym{Key: "retention.ms", Source: topicSrc}, kadm.ConfigSynonym{Key: "log.retention.hours", Source: staticSrc}),
		cfg("cleanup.policy", "compact,delete", topicSrc),
		cfg("min.insync.replicas", "2", topicSrc),
		cfg("compression.type", "producer", defaultSrc),
		cfg("segment.bytes", "536870912", staticSrc, kadm.ConfigSynonym{Key: "log.segment.bytes", Source: staticSrc}),
		cfg("max.message.bytes", "2097152", dynBroker, kadm.ConfigSynonym{Key: "message.max.bytes", Source: dynBroker}),
		cfg("segment.ms", "3600000", dynDefault),
		cfg("flush.ms", "1000", defaultSrc),
		cfg("message.format.version", "2.8-IV1", topicSrc),
		cfg("message.downconversion.enable", "false", topicSrc),
		cfg("message.timestamp.difference.max.ms", "3600000", topicSrc),
		cfg("message.timestamp.before.max.ms", "3600000", topicSrc),
		cfg("message.timestamp.after.max.ms", "60000", topicSrc),
		cfg("leader.replication.throttled.replicas", "0:1,1:2", topicSrc),
		cfg("follower.replication.throttled.replicas", "*", topicSrc),
		cfg("confluent.placement.constraints", "{}", topicSrc),
		cfg("confluent.value.schema.validation", "true", topicSrc),
		cfg("redpanda.remote.read", "true", topicSrc),
		cfg("remote.storage.enable", "true", topicSrc),
		cfg("local.retention.ms", "60000", topicSrc),
		cfg("compression.zstd.level", "9", topicSrc),
		cfg("some.plugin.setting", "x", topicSrc),
		{Key: "secret.thing", Source: topicSrc, Sensitive: true},
		cfg("unclean.leader.election.enable", "true", kmsg.ConfigSourceUnknown),
	}}
	tests := []struct {
		name     string
		topics   config.Topics
		configs  map[string]string
		dropped  []topics.Dropped
		warnings []string
	}{
		{
			name:    "defaults",
			configs: map[string]string{"retention.ms": "-1", "cleanup.policy": "compact,delete", "min.insync.replicas": "2", "message.timestamp.after.max.ms": "60000"},
			dropped: []topics.Dropped{
				{"compression.zstd.level", "9", "needs Kafka 3.8 or later on the target" + include},
				{"confluent.placement.constraints", "{}", "broker-specific: replica placement names the source's racks"},
				{"confluent.value.schema.validation", "true", "vendor-specific (confluent.*)" + include},
				{"follower.replication.throttled.replicas", "*", "broker-specific: replication throttles name the source's broker ids"},
				{"leader.replication.throttled.replicas", "0:1,1:2", "broker-specific: replication throttles name the source's broker ids"},
				{"local.retention.ms", "60000", "tiered storage (local.retention.ms) may not exist on the target" + include},
				{"max.message.bytes", "2097152", "inherited from the source brokers' message.max.bytes, not set on the topic: the target topic gets the target cluster's default"},
				{"message.downconversion.enable", "false", "deprecated: message.downconversion.enable does nothing since Kafka 4.0"},
				{"message.format.version", "2.8-IV1", "deprecated: message.format.version is ignored since Kafka 3.0 and removed in 4.0"},
				{"message.timestamp.before.max.ms", "3600000", "it would make the target reject mirrored records older than the limit: set it on the target after cutover, or copy it with topics.configs.include"},
				{"message.timestamp.difference.max.ms", "3600000", "it would make the target reject mirrored records older than the limit: set it on the target after cutover, or copy it with topics.configs.include"},
				{"redpanda.remote.read", "true", "vendor-specific (redpanda.*)" + include},
				{"remote.storage.enable", "true", "tiered storage (remote.storage.enable) may not exist on the target" + include},
				{"secret.thing", "", "its value cannot be read (sensitive)"},
				{"segment.bytes", "536870912", "inherited from the source brokers' log.segment.bytes, not set on the topic: the target topic gets the target cluster's default"},
				{"segment.ms", "3600000", "inherited from the source brokers' configuration, not set on the topic: the target topic gets the target cluster's default"},
				{"some.plugin.setting", "x", "not a portable topic config" + include},
			},
		},
		{
			name: "include and exclude",
			topics: config.Topics{
				ConfigsInclude: []string{"confluent.value.schema.validation", "message.timestamp.before.max.ms", "remote.storage.enable", "segment.bytes"},
				ConfigsExclude: []string{"min.insync.replicas", "retention.ms", "max.message.bytes"},
			},
			configs: map[string]string{
				"cleanup.policy": "compact,delete", "message.timestamp.after.max.ms": "60000",
				"confluent.value.schema.validation": "true", "message.timestamp.before.max.ms": "3600000", "remote.storage.enable": "true",
			},
			dropped: []topics.Dropped{
				{"compression.zstd.level", "9", "needs Kafka 3.8 or later on the target" + include},
				{"confluent.placement.constraints", "{}", "broker-specific: replica placement names the source's racks"},
				{"follower.replication.throttled.replicas", "*", "broker-specific: replication throttles name the source's broker ids"},
				{"leader.replication.throttled.replicas", "0:1,1:2", "broker-specific: replication throttles name the source's broker ids"},
				{"local.retention.ms", "60000", "tiered storage (local.retention.ms) may not exist on the target" + include},
				{"message.downconversion.enable", "false", "deprecated: message.downconversion.enable does nothing since Kafka 4.0"},
				{"message.format.version", "2.8-IV1", "deprecated: message.format.version is ignored since Kafka 3.0 and removed in 4.0"},
				{"message.timestamp.difference.max.ms", "3600000", "it would make the target reject mirrored records older than the limit: set it on the target after cutover, or copy it with topics.configs.include"},
				{"min.insync.replicas", "2", "excluded by topics.configs.exclude"},
				{"redpanda.remote.read", "true", "vendor-specific (redpanda.*)" + include},
				{"retention.ms", "-1", "excluded by topics.configs.exclude"},
				{"secret.thing", "", "its value cannot be read (sensitive)"},
				// Included, but inherited: still the target's default.
				{"segment.bytes", "536870912", "inherited from the source brokers' log.segment.bytes, not set on the topic: the target topic gets the target cluster's default"},
				{"segment.ms", "3600000", "inherited from the source brokers' configuration, not set on the topic: the target topic gets the target cluster's default"},
				{"some.plugin.setting", "x", "not a portable topic config" + include},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := topics.FilterConfigs(rc, tt.topics)
			if !reflect.DeepEqual(f.Configs, tt.configs) {
				t.Errorf("configs:\ngot  %v\nwant %v", f.Configs, tt.configs)
			}
			if !reflect.DeepEqual(f.Dropped, tt.dropped) {
				t.Errorf("dropped:\ngot  %q\nwant %q", f.Dropped, tt.dropped)
				for i := range min(len(f.Dropped), len(tt.dropped)) {
					if f.Dropped[i] != tt.dropped[i] {
						t.Errorf("first difference: got %q, want %q", f.Dropped[i], tt.dropped[i])
						break
					}
				}
			}
			if !slices.Equal(f.Warnings, tt.warnings) {
				t.Errorf("warnings = %q, want %q", f.Warnings, tt.warnings)
			}
		})
	}
}

func TestFilterConfigsLogAppendTime(t *testing.T) {
	rc := kadm.ResourceConfig{Configs: []kadm.Config{cfg("message.timestamp.type", "LogAppendTime", topicSrc)}}
	f := topics.FilterConfigs(rc, config.Topics{})
	if want := map[string]string{"message.timestamp.type": "LogAppendTime"}; !reflect.DeepEqual(f.Configs, want) {
		t.Errorf("configs = %v, want %v", f.Configs, want)
	}
	want := []string{"message.timestamp.type=LogAppendTime is copied: the target will stamp mirrored records with its own append time instead of keeping the source's timestamps; to keep them, exclude it with topics.configs.exclude and set it on the target after cutover"}
	if !slices.Equal(f.Warnings, want) {
		t.Errorf("warnings = %q, want %q", f.Warnings, want)
	}
	// Excluded, it is neither copied nor warned about.
	f = topics.FilterConfigs(rc, config.Topics{ConfigsExclude: []string{"message.timestamp.type"}})
	if len(f.Configs) != 0 || f.Warnings != nil || len(f.Dropped) != 1 {
		t.Errorf("excluded: %+v", f)
	}
	// No configs at all is an empty map, not nil: the plan prints it.
	f = topics.FilterConfigs(kadm.ResourceConfig{}, config.Topics{})
	if f.Configs == nil || len(f.Configs) != 0 || f.Dropped != nil || f.Warnings != nil {
		t.Errorf("empty: %+v", f)
	}
}
